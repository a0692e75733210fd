"""deploys/lib/ufw.py's reading of ufw, from output ufw 0.36 (Debian 12) prints: fast tier."""

from deploys.lib.ufw import SECTION, UfwState

STATUS_ACTIVE = "Status: active\n\nTo                         Action      From\n--                         ------      ----\n"
ADDED = """Added user rules (see 'ufw status' for running firewall):
ufw allow from 10.213.2.1 to any port 22 proto tcp
ufw allow 80/tcp
ufw allow 443/tcp
ufw route allow in on eth0
"""
DEFAULT_UFW = """# /etc/default/ufw
IPV6=yes
DEFAULT_INPUT_POLICY="DROP"
DEFAULT_OUTPUT_POLICY="ACCEPT"
DEFAULT_FORWARD_POLICY="DROP"
#DEFAULT_INPUT_POLICY="ACCEPT"
"""
UFW_CONF = "ENABLED=yes\nLOGLEVEL=low\n"


def read(status: str, added: str = ADDED, config: str = DEFAULT_UFW + UFW_CONF) -> dict:
    output = f"{status}\n{SECTION}\n{added}{SECTION}\n{config}"
    return UfwState().process(output.splitlines())


def test_rules_policies_logging_and_ipv6_are_read():
    assert read(STATUS_ACTIVE) == {
        "active": True,
        "rules": ["allow from 10.213.2.1 to any port 22 proto tcp", "allow 80/tcp", "allow 443/tcp",
                  "route allow in on eth0"],
        "policies": {"incoming": "deny", "outgoing": "allow", "routed": "deny"},
        "logging": "low",
        "ipv6": True,
    }


def test_an_inactive_ufw_with_no_rules_and_ipv6_off():
    state = read("Status: inactive", added="Added user rules (see 'ufw status' for running firewall):\n(None)\n",
                 config=DEFAULT_UFW.replace("IPV6=yes", "IPV6=no") + "ENABLED=no\nLOGLEVEL=off\n")
    assert state["active"] is False and state["rules"] == [] and state["ipv6"] is False
    assert state["logging"] == "off"
