"""The infrastructure document's operator commands (its sections 3, 4, 5, 7,
9.2, 10 and 12), each exactly as it prints it, and which test runs it as
printed, or why it cannot work as printed.

tests/deploys/test_document_commands.py holds this list to the document: each
command is printed there verbatim in its sections, and every command of those
sections is listed. The tests named in `run_by` run them through `as_run`,
which allows only these changes: the host's domain for the document's,
`tail -f` (which never returns) as `tail -n 20`, and the date of the backup
restored for the document's placeholder YYYYMMDD.
"""

import re
from dataclasses import dataclass
from pathlib import Path

from tests.inventory import REPO

DOCUMENT = REPO / "docs/reference/infrastructure-documentation.md"
DOCUMENT_DOMAIN = "insta.tiblings.com"
FOLLOW, LAST_LINES = "tail -f ", "tail -n 20 "
BACKUP_DATE = "YYYYMMDD"  # the document's placeholder in its restore command (4.3, 9.2)
SECTIONS = ("3", "4", "5", "7", "9.2", "10", "12")  # the sections whose commands an operator runs

HOST = "tests/host/test_document_commands.py"  # read-only: safe against production
OUTSIDE = "tests/outside/test_document_commands.py"  # from an admin address, as an operator's machine
DRILL = "tests/drills/test_document_commands_drill.py"  # they change state: sandbox only


@dataclass(frozen=True)
class Printed:
    command: str  # verbatim
    sections: tuple[str, ...]  # every section that prints it
    run_by: str = ""  # the test module that runs it as printed
    deviation: str = ""  # or why it cannot work as printed, ending with the docs/ section that says so


COMMANDS = (
    Printed("systemctl status insta-connect-demo", ("3.1", "12.1"), HOST),
    Printed("systemctl start insta-connect-demo", ("3.1", "9.2"), DRILL),
    Printed("systemctl stop insta-connect-demo", ("3.1", "9.2"), DRILL),
    Printed("systemctl restart insta-connect-demo", ("3.1", "9.2", "12.1"), DRILL),
    Printed("systemctl status insta-connect-demo-token-refresh.timer", ("3.2",), HOST),
    Printed("systemctl status insta-connect-demo-token-refresh.service", ("3.2",), HOST),
    Printed("systemctl status insta-connect-demo-webhook-processor.timer", ("3.3",), HOST),
    Printed("systemctl status insta-connect-demo-webhook-processor.service", ("3.3",), HOST),
    Printed("pg_dump -U insta_user insta_connect_demo > backup-$(date +%Y%m%d).sql", ("4.3",), HOST),
    Printed("psql -U insta_user insta_connect_demo < backup-YYYYMMDD.sql", ("4.3", "9.2"), DRILL),
    Printed("certbot certificates", ("5.2", "12.3"), HOST),
    Printed("certbot renew --dry-run", ("5.2",), "tests/drills/test_certificate_renewal.py"),
    Printed("certbot renew", ("5.2", "12.3"), DRILL),
    Printed("curl https://insta.tiblings.com/health", ("7.3",), OUTSIDE),
    Printed("curl https://insta.tiblings.com/metrics", ("7.3",), OUTSIDE),
    Printed("curl https://insta.tiblings.com/alerts", ("7.3",), OUTSIDE),
    Printed("tail -f /root/insta-connect-demo/logs/combined-*.log", ("7.3",), HOST),
    Printed("cd /root/insta-connect-demo", ("9.2",), HOST),
    Printed("git pull origin main", ("9.2",), deviation=(
        "the host has no git checkout: deploys/site.py ships the repo's app/ as a release "
        "(docs/operations.md#the-infrastructure-documents-commands)")),
    Printed("npm install", ("9.2",), deviation=(
        "the app is a Python port: its dependencies are app/requirements.txt's pins, built into the "
        "release's venv by deploys/site.py (docs/operations.md#the-infrastructure-documents-commands)")),
    Printed("tail -f /root/insta-connect-demo/logs/error-*.log", ("12.1",), HOST),
    Printed("psql -U insta_user -h localhost insta_connect_demo", ("12.2",), HOST),
    Printed("systemctl status postgresql", ("12.2",), HOST),
    Printed("tail -f /var/log/postgresql/postgresql.log", ("12.2",), HOST),
    Printed("nginx -t", ("12.3",), HOST),
)


def as_run(command: str, domain: str, backup_date: str = "") -> str:
    """command, which must be listed above, with the allowed substitutions
    (backup_date: YYYYMMDD, for the command that has the placeholder)."""
    assert command in {printed.command for printed in COMMANDS if printed.run_by}, \
        f"{command!r} is not a document command listed as run (tests/document_commands.py)"
    assert (BACKUP_DATE in command) == bool(backup_date), f"{command!r}: backup_date={backup_date!r}"
    return command.replace(DOCUMENT_DOMAIN, domain).replace(FOLLOW, LAST_LINES).replace(BACKUP_DATE, backup_date)


def run_as_printed(host, data: dict, command: str, cwd: str = "/root", stdin: str = "", then: str = "",
                   backup_date: str = ""):
    """Run command in a root shell in cwd (root's home unless given), typing
    stdin into it; `then`: what the operator types next, in the same shell, to
    see the command's effect. Returns testinfra's result."""
    return host.run("cd %s && printf '%%s' %s | bash -c %s", cwd, stdin,
                    as_run(command, data["domain"], backup_date) + (f" && {then}" if then else ""))


def sections(text: str) -> dict[str, str]:
    """The document's text under each numbered heading ('3', '3.1', ...), without its subsections."""
    found, number = {}, None
    for line in text.splitlines():
        heading = re.match(r"#{2,3} (\d+(?:\.\d+)?)\.? ", line)
        if heading:
            number = heading[1]
            found[number] = ""
        elif number:
            found[number] += line + "\n"
    return found


def bash_commands(section_text: str) -> list[str]:
    """The lines of a section's ```bash blocks that are commands (no comments, no blank lines)."""
    blocks = re.findall(r"^```bash\n(.*?)^```", section_text, re.MULTILINE | re.DOTALL)
    return [line.strip() for block in blocks for line in block.splitlines()
            if line.strip() and not line.strip().startswith("#")]


def inline_code(section_text: str) -> list[str]:
    """A section's `inline code` outside its code blocks."""
    prose = re.sub(r"^```.*?^```", "", section_text, flags=re.MULTILINE | re.DOTALL)
    return re.findall(r"`([^`\n]+)`", prose)


def docs_anchors(markdown: Path) -> set[str]:
    """GitHub's anchors for the headings of a Markdown file (how docs/ sections are linked)."""
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
            for heading in re.findall(r"^#+ (.+)$", markdown.read_text(), re.M)}
