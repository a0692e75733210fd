"""ufw as a pyinfra fact and an operation (pyinfra has neither): `firewall`
reads the fact when it runs and yields only the `ufw` commands that close the
gap to the wanted state, so an unchanged host reports no change."""

from pyinfra import host
from pyinfra.api import FactBase, operation

SECTION = "--pyinfra-ufw-section--"
POLICY_WORDS = {"ACCEPT": "allow", "DROP": "deny", "REJECT": "reject"}  # /etc/default/ufw's words, ufw's words


class UfwState(FactBase):
    """ufw as it runs and as it is configured; None where ufw is not installed.

        {"active": True,                   # its chains are loaded (`ufw status`)
         "rules": ["allow 80/tcp", ...],   # the user rules as `ufw show added` spells them, minus "ufw "
         "policies": {"incoming": "deny", "outgoing": "allow", "routed": "deny"},
         "logging": "low",
         "ipv6": True}

    Policies, logging and IPv6 come from ufw's own files (/etc/default/ufw,
    /etc/ufw/ufw.conf): `ufw status verbose` shows them only while ufw is
    active, and shows "disabled (routed)" whatever the routed policy while the
    kernel forwards nothing.
    """

    def requires_command(self) -> str:
        return "ufw"

    def command(self) -> str:
        return (f"ufw status && echo {SECTION} && ufw show added && echo {SECTION} "
                "&& cat /etc/default/ufw /etc/ufw/ufw.conf")

    def process(self, output: list[str]) -> dict:
        status, added, config_lines = "\n".join(output).split(SECTION)
        config = {}
        for line in config_lines.splitlines():
            key, equals, value = line.strip().partition("=")
            if equals and not key.startswith("#"):
                config[key] = value.strip('"')
        return {
            "active": status.strip().splitlines()[0] == "Status: active",
            "rules": [line.strip().removeprefix("ufw ") for line in added.splitlines()
                      if line.strip().startswith("ufw ")],
            "policies": {direction: POLICY_WORDS.get(config.get(f"DEFAULT_{chain}_POLICY", ""))
                         for direction, chain in (("incoming", "INPUT"), ("outgoing", "OUTPUT"),
                                                  ("routed", "FORWARD"))},
            "logging": config.get("LOGLEVEL"),
            "ipv6": config.get("IPV6") == "yes",
        }


def _delete(rule: str) -> str:
    return f"ufw route delete {rule.removeprefix('route ')}" if rule.startswith("route ") else f"ufw delete {rule}"


@operation()
def firewall(rules: list[str], policies: dict[str, str], logging: str):
    """ufw with exactly `rules` (as `ufw show added` spells them, first the ones
    that keep this deploy's SSH in), the default `policies` and `logging`, then
    enabled. In that order: the SSH rules are in before any default deny, and
    the rules and the deny take effect together at `ufw enable`. A rule nobody
    asked for (a hand edit, an address since removed) is deleted."""
    current = host.get_fact(UfwState) or {"active": False, "rules": [], "policies": {}, "logging": None}
    for rule in rules:
        if rule not in current["rules"]:
            yield f"ufw {rule}"
    for rule in current["rules"]:
        if rule not in rules:
            yield _delete(rule)
    for direction, policy in policies.items():
        if current["policies"].get(direction) != policy:
            yield f"ufw default {policy} {direction}"
    if current["logging"] != logging:
        yield f"ufw logging {logging}"
    if not current["active"]:
        yield "ufw --force enable"
