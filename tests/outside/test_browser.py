"""A person in a real browser (Debian's Chromium, driven by Playwright) through
the public edge, from the outside namespace: the rate limit must not hit people
(the outside audit's finding 8). The limit on bursts of submissions is proved
with curl in test_internet.py."""

import json
import re
import secrets
import sys
import time
from datetime import datetime
from urllib.parse import urlsplit

import pytest

ACCESS_LOG = "/var/log/nginx/access.log"
LOGGED = re.compile(r'^(\S+) - \S+ \[([^\]]+)\] "[^"]*" (\d{3}) ')  # address, time, status
SUBMISSIONS_PER_VISIT = 2  # register, log in
VISIT_TIMEOUT = 45  # seconds for the whole visit, the browser's start included
WHAT_A_VISIT_LOADS = {"/login", "/register", "/logout", "/static/app.css", "/static/favicon.svg"}


def per_second(nginx_rate: str) -> float:
    """nginx's "10r/m" or "20r/s" as requests per second."""
    count, unit = nginx_rate.split("r/")
    return int(count) / {"s": 1, "m": 60}[unit]


def refused(statuses: list[int]) -> list[int]:
    return [status for status in statuses if status == 429 or status >= 500]


@pytest.fixture
def a_persons_address(host, target, psql, sandbox_state) -> str:
    """The outside address with room for a visit's submissions, as a person's.

    The curl probes burst submissions from this same address (test_internet.py),
    in any order with this test. nginx's bucket holds at most the submissions it
    let through in the last auth_rate_burst / auth_rate_limit (30 s): when those
    leave no room for a visit's, they are waited out. The app's own limiter
    (AUTH_RATE_LIMIT: 5 a minute, 30 an hour) counts the submissions of earlier
    runs of this visit (the probes' fail the CSRF check before it counts them):
    its counters for this address are forgotten, so reruns do not add up."""
    address = sandbox_state["outside_address"]
    window = target.data["auth_rate_burst"] / per_second(target.data["auth_rate_limit"])
    submissions = host.check_output(f"grep -E '^{address} .*\"POST /(login|register)[ ?/]' {ACCESS_LOG} || true")
    now = float(host.check_output("date +%s"))
    # Logged to the second: each taken as at the end of its second.
    let_through = [datetime.strptime(match[2], "%d/%b/%Y:%H:%M:%S %z").timestamp() + 1
                   for match in map(LOGGED.match, submissions.splitlines()) if match[3] != "429"]
    in_bucket = [at for at in let_through if at > now - window]
    if len(in_bucket) + SUBMISSIONS_PER_VISIT > target.data["auth_rate_burst"]:
        time.sleep(max(in_bucket) + window - now)
    psql(f"DELETE FROM rate_limit_counters WHERE key LIKE '%/{address}/%'")
    return address


def test_a_persons_visit_in_a_browser_is_never_refused(internet, host, a_persons_address):
    """Register, log out, log in and see the dashboard, clicking and typing: no
    response in the whole visit is a 429 or a 5xx, and it ends logged in."""
    email = f"browser-{secrets.token_hex(6)}@example.com"
    logged_before = int(host.check_output(f"wc -l < {ACCESS_LOG}"))
    proc = internet.run(sys.executable, "-m", "tests.outside.browser", internet.domain, internet.address,
                        internet.pebble_root, email, timeout=VISIT_TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    visit = json.loads(proc.stdout)
    assert not refused([status for status, _, _ in visit["responses"]]), visit["responses"]
    assert visit["error"] is None and visit["failed"] == [], visit
    assert visit["signed_in_as"] == email
    assert WHAT_A_VISIT_LOADS <= {urlsplit(url).path for _, _, url in visit["responses"]}, visit["responses"]
    # nginx's own record of the visit: every request, the browser's own (favicon, cache checks) included.
    logged = host.check_output(f"tail -n +{logged_before + 1} {ACCESS_LOG}").splitlines()
    statuses = [int(match[3]) for match in map(LOGGED.match, logged) if match and match[1] == a_persons_address]
    assert len(statuses) >= len(WHAT_A_VISIT_LOADS) and not refused(statuses), logged
