"""The disaster-recovery drill: the whole recovery of docs/operations.md
("Disaster recovery: a new VPS"), on the sandbox, timed.

    python -m tests.drills.disaster_recovery      # `make dr-drill`; also a tier of `make test`

1. makes real data through the site, from the outside namespace over HTTPS:
   users registered with the form, one of them connects an Instagram account
   (OAuth against the fake Meta API), signed webhooks for that account that
   the processor turns into rows;
2. takes a backup on the host and pulls it (deploys/pull_backups.py);
3. destroys the host (sandbox down) and rebuilds it from nothing (sandbox up,
   deploys/site.py): a new, empty database cluster;
4. pulls again, which brings the rebuilt host's own first backup (the trap:
   it is the newest, and empty);
5. restores with no backup named (deploys/restore.py);
6. checks every table's row count against the data before the disaster, and
   that a user from before logs in over HTTPS and sees the account.

Prints `RTO: <seconds> s`: from the host being gone to its data being served
over HTTPS again. Exits non-zero naming the first check that failed. Leaves
the sandbox up, restored.
"""

import hashlib
import hmac
import json
import re
import secrets as random
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urljoin

from deploys.lib.app_runtime import APP
from deploys.lib.facts import PostgresDatabaseRows
from tests.inventory import REPO, load
from tests.outside.conftest import Reply, Vantage
from tests.pyinfra_run import run_deploy
from tests.sandbox import secrets
from tests.sandbox.harness import Sandbox, state_dir

USERS = 2  # registered through the site; the first connects an account
WEBHOOKS = 5  # signed comment deliveries for that account
# The app and its timers add, fold or expire rows here by themselves, at any moment
# (and sessions are never backed up: a restore logs everyone out).
SELF_MAINTAINED_TABLES = {"job_runs", "rate_limit_counters", "sessions", "webhook_event_totals"}
RATE_LIMIT_TRIES, RATE_LIMIT_WAIT = 8, 7  # auth_rate_limit (10r/m) frees a request every 6 s
CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


class DrillFailed(Exception):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise DrillFailed(message)


def step(message: str, since: float | None = None) -> None:
    """A line of progress; with `since`, the seconds elapsed since then."""
    clock = f"[+{time.monotonic() - since:.0f} s] " if since is not None else ""
    print(f"dr-drill: {clock}{message}", flush=True)


class Browser:
    """A person's browser in the outside namespace: cookies kept, HTTPS to the site's domain."""

    def __init__(self, vantage: Vantage, jar: Path):
        self.vantage, self.jar = vantage, jar

    def url(self, path: str) -> str:
        return urljoin(f"https://{self.vantage.domain}/", path)

    def request(self, url: str, *options: str) -> Reply:
        """One request; a 429 from the site's strict limit on /login, /register and /oauth is
        waited out and tried again, as a person would (bounded)."""
        for _ in range(RATE_LIMIT_TRIES):
            reply = self.vantage.fetch(url, "--cookie", str(self.jar), "--cookie-jar", str(self.jar), *options)
            if reply.status != 429:
                return reply
            time.sleep(RATE_LIMIT_WAIT)
        raise DrillFailed(f"{url} still answers 429 after {RATE_LIMIT_TRIES * RATE_LIMIT_WAIT} s: the site's "
                          "per-address limits (nginx's auth_rate_limit; the app's AUTH_RATE_LIMIT, 5 per minute "
                          "and 30 per hour) stopped this drill's person; run it again later")

    def follow(self, url: str, hops: int = 5) -> Reply:
        """GET url and the redirects after it, the fake Meta's included."""
        reply = self.request(url)
        while reply.status in (301, 302, 303) and hops:
            url, hops = urljoin(url, reply.headers["location"]), hops - 1
            reply = self.request(url)
        return reply

    def submit(self, path: str, **fields: str) -> Reply:
        """Fill in the form at path (with its CSRF token) and post it, as the page's own form would."""
        page = self.request(self.url(path))
        token = CSRF_FIELD.search(page.body)
        check(page.status == 200 and token is not None, f"{path} served no form ({page.status})")
        data = [arg for name, value in {"csrf_token": token[1] or token[2], **fields}.items()
                for arg in ("--data-urlencode", f"{name}={value}")]
        return self.request(self.url(path), "--referer", self.url(path), *data)

    def json(self, path: str) -> dict:
        reply = self.request(self.url(path))
        check(reply.status == 200, f"GET {path} answered {reply.status}: {reply.body[:300]}")
        return json.loads(reply.body)


class Drill:
    def __init__(self):
        self.sandbox = Sandbox()
        self.workdir = Path(tempfile.mkdtemp(prefix="dr-drill-"))
        self.refresh()

    def refresh(self) -> None:
        """Read the sandbox's state and inventory again (a rebuild may move the host)."""
        self.state = self.sandbox.state()
        check(self.sandbox.running(self.state), "the sandbox is not up: make sandbox")
        self.inventory = state_dir() / "inventory.py"
        self.target = load(self.inventory)[0]
        self.outside = Vantage(self.state["outside_netns"], self.state["address"], self.state["domain"],
                               self.state["pebble_root"])

    def ssh(self, *command: str) -> str:
        proc = subprocess.run(self.sandbox.ssh_argv(self.state, *command), capture_output=True, text=True,
                              timeout=300)
        check(proc.returncode == 0, f"on the host, {' '.join(command)} failed: {proc.stderr.strip()}")
        return proc.stdout

    def rows(self) -> dict[str, int]:
        """Rows per table of the app's database, read the way restore.py reads them."""
        fact = PostgresDatabaseRows()
        query = fact.command(self.target.data["db_name"])
        output = self.ssh(f"cd / && runuser -u postgres -- sh -c {shlex.quote(query)}")
        return fact.process(output.splitlines())["rows"]

    def browser(self, name: str) -> Browser:
        return Browser(self.outside, self.workdir / f"{name}.cookies")

    def run(self, *argv: str) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, *argv], cwd=REPO, capture_output=True, text=True, timeout=900)
        check(proc.returncode == 0, f"{' '.join(argv)} failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
        return proc

    # -- the steps -------------------------------------------------------------
    def make_data(self) -> dict:
        app_secret = secrets.read(Path(self.target.data["secrets_file"]))["APP_SECRET"]
        people = []
        for n in range(USERS):
            email, password = f"dr-{random.token_hex(4)}-{n}@example.test", random.token_urlsafe(16)
            reply = self.browser(email).submit("/register", email=email, password=password, confirm=password)
            check(reply.status == 302, f"registering {email} answered {reply.status}: {reply.body[:300]}")
            people.append((email, password))
        owner = self.browser(people[0][0])
        start = owner.request(owner.url("/oauth/start"))
        check(start.status == 302, f"/oauth/start answered {start.status}")
        # The person logs in to Instagram as an account of their own: an id no earlier run used.
        as_user = f"1784{random.randbelow(10**13):013d}"
        consent = owner.follow(f"{start.headers['location']}&as_user={as_user}")
        check(consent.status == 200, f"the OAuth round trip ended on {consent.status}")
        [account] = owner.json("/api/accounts")["accounts"]
        for n in range(WEBHOOKS):
            body = json.dumps({"object": "instagram", "entry": [{"id": account["id"], "time": int(time.time()),
                               "changes": [{"field": "comments", "value": {
                                   "id": f"dr-{account['id']}-{n}", "text": f"before the disaster {n}",
                                   "media": {"id": f"dr-{account['id']}-media"},
                                   "from": {"id": "17841400000000000", "username": "dr_drill"}}}]}]})
            signature = "sha256=" + hmac.new(app_secret.encode(), body.encode(), hashlib.sha256).hexdigest()
            status = self.outside.status(owner.url("/webhook"), "--header", "Content-Type: application/json",
                                         "--header", f"X-Hub-Signature-256: {signature}", "--data-binary", body)
            check(status == 200, f"a signed webhook answered {status}")
        self.ssh("systemctl", "start", f"{APP}-webhook-processor.service")
        events = owner.json(f"/api/accounts/{account['id']}/events")["events"]
        check(len(events) == WEBHOOKS and all(event["status"] == "done" for event in events),
              f"the webhooks were not all processed: {[event['status'] for event in events]}")
        return {"people": people, "account": account}

    def back_up_and_pull(self) -> str:
        app = APP
        self.ssh("systemctl", "start", f"{app}-backup.service")
        newest = self.ssh(f"ls -1 {self.target.data['backup_dir']} | grep '\\.dump\\.age$' | tail -n 1").strip()
        run_deploy(self.inventory, "deploys/pull_backups.py")
        return newest

    def destroy_and_rebuild(self) -> None:
        self.run("-m", "tests.sandbox", "down")
        self.host_gone = time.monotonic()
        step("the host is gone; a new one boots", self.host_gone)
        self.run("-m", "tests.sandbox", "up")
        self.refresh()
        step("the new host is up; deploying deploys/site.py", self.host_gone)
        run_deploy(self.inventory, "deploys/site.py")

    def restore(self) -> str:
        proc = run_deploy(self.inventory, "deploys/restore.py")
        chosen = re.search(r"^--> Restoring (\S+) to ", proc.stdout, re.MULTILINE)
        check(chosen is not None, "restore.py did not say what it restored:\n" + proc.stdout[-3000:])
        print(proc.stdout[proc.stdout.index("--> Restore plan"):proc.stdout.index("\n", chosen.end())], flush=True)
        return Path(chosen[1]).name

    def served(self, data: dict) -> None:
        email, password = data["people"][0]
        person = self.browser(f"{email}.after")
        reply = person.submit("/login", email=email, password=password)
        check(reply.status == 302, f"{email} could not log in after the restore ({reply.status})")
        accounts = person.json("/api/accounts")["accounts"]
        check([account["id"] for account in accounts] == [data["account"]["id"]],
              f"{email} does not see their account after the restore: {accounts}")
        events = person.json(f"/api/accounts/{data['account']['id']}/events")["events"]
        check(len(events) == WEBHOOKS, f"{email} sees {len(events)} of the {WEBHOOKS} webhook events")

    def main(self) -> float:
        step(f"making data through https://{self.state['domain']}/ from the outside namespace")
        data = self.make_data()
        before = self.rows()
        check(before["users"] >= USERS and before["webhook_events"] >= WEBHOOKS
              and before["instagram_comments"] >= WEBHOOKS, f"the data did not reach the database: {before}")
        step("taking a backup on the host and pulling it")
        backup = self.back_up_and_pull()
        step(f"backup {backup}; rows before the disaster: {before}")
        self.destroy_and_rebuild()
        step("deployed; pulling again: this brings the rebuilt host's own, empty, first backup", self.host_gone)
        run_deploy(self.inventory, "deploys/pull_backups.py")
        step("restoring with no backup named", self.host_gone)
        restored = self.restore()
        check(restored == backup, f"restore.py restored {restored}, not the backup from before the disaster, "
                                  f"{backup}")
        step("restored; a person from before logs in over HTTPS", self.host_gone)
        self.served(data)
        rto = time.monotonic() - self.host_gone
        after = self.rows()
        check(after.keys() == before.keys(), f"tables differ: {sorted(before)} before, {sorted(after)} after")
        lost = {table: (before[table], after[table]) for table in before.keys() - SELF_MAINTAINED_TABLES
                if after[table] != before[table]}
        check(not lost, f"row counts differ from before the disaster (before, after): {lost}")
        step(f"every table's rows are back: {after}")
        return rto


def main() -> int:
    try:
        rto = Drill().main()
    except (DrillFailed, AssertionError) as failure:
        print(f"dr-drill: FAILED: {failure}", file=sys.stderr, flush=True)
        return 1
    print(f"RTO: {rto:.0f} s (host gone -> pre-disaster data served over HTTPS)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
