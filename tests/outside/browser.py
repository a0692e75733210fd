"""A person's visit in Debian's Chromium, driven by Playwright, run inside a
namespace and printing JSON (tests/outside/test_browser.py runs it):

    ip netns exec NS python -m tests.outside.browser DOMAIN ADDRESS CA_FILE EMAIL
    -> {"responses": [[status, method, url], ...], "failed": [[method, url, error], ...],
        "signed_in_as": str | null, "error": str | null}

The person opens the site, registers as EMAIL, logs out, logs in again and
sees the dashboard, clicking and typing; the browser follows the redirects
and loads the stylesheet and favicon. Every response the page gets is
recorded. The browser trusts CA_FILE (Pebble's root) and resolves DOMAIN to
ADDRESS, and no other name. Bounded: each step waits at most STEP_TIMEOUT_MS.
"""

import json
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"  # Debian's package, never a browser Playwright downloads
STEP_TIMEOUT_MS = 10_000

# Playwright passes most of these itself; named here so that the rule (traffic
# to the sandbox only) does not rest on its defaults. Its own --disable-features
# list (OptimizationHints, NetworkTimeServiceQuerying, ...) is kept: a second
# --disable-features would replace it. Any fetch these miss still needs a name
# the resolver rules refuse, and the namespace routes nothing beyond the sandbox.
NO_BACKGROUND_TRAFFIC = [
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-default-apps",
    "--disable-domain-reliability", "--disable-client-side-phishing-detection", "--no-first-run", "--no-pings",
    "--metrics-recording-only", "--no-proxy-server",
]


def trusting_home(home: Path, ca_file: str) -> None:
    """Chromium on Linux takes extra roots from $HOME/.pki/nssdb: a throwaway one holding CA_FILE."""
    nssdb = f"sql:{home}/.pki/nssdb"
    (home / ".pki/nssdb").mkdir(parents=True)
    subprocess.run(["certutil", "-N", "-d", nssdb, "--empty-password"], check=True, capture_output=True)
    subprocess.run(["certutil", "-A", "-d", nssdb, "-n", "sandbox ACME root", "-t", "C,,", "-i", ca_file],
                   check=True, capture_output=True)


def visit(page: Page, domain: str, email: str) -> str:
    """Register, log out, log in; the email the dashboard says is signed in."""
    password = secrets.token_urlsafe(12)
    nav = page.locator("header nav")
    page.goto(f"https://{domain}/")  # typed into the address bar: redirected to /login
    nav.get_by_role("link", name="Register").click()
    page.get_by_label("Email").press_sequentially(email)
    page.get_by_label("Password", exact=True).press_sequentially(password)
    page.get_by_label("Repeat password").press_sequentially(password)
    page.get_by_role("button", name="Create account").click()
    page.get_by_role("heading", name="Dashboard").wait_for()

    nav.get_by_role("link", name="Log out").click()
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("status").filter(has_text="You are logged out.").wait_for()

    page.get_by_label("Email").press_sequentially(email)
    page.get_by_label("Password").press_sequentially(password)
    page.get_by_label("Password").press("Enter")
    page.get_by_role("heading", name="Dashboard").wait_for()
    page.wait_for_load_state("networkidle")  # the favicon, too
    return page.locator("main strong").inner_text()


def main(domain: str, address: str, ca_file: str, email: str) -> dict:
    responses, failed = [], []
    signed_in_as = error = None
    with tempfile.TemporaryDirectory() as home, sync_playwright() as playwright:
        trusting_home(Path(home), ca_file)
        # Chromium refuses to start as root (as the tests run) with its own sandbox on;
        # this browser visits only the sandbox host, so it runs without (--no-sandbox).
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, chromium_sandbox=False, timeout=STEP_TIMEOUT_MS,
            env={**os.environ, "HOME": home},
            args=[*NO_BACKGROUND_TRAFFIC, f"--host-resolver-rules=MAP {domain} {address}, MAP * ~NOTFOUND"])
        try:
            page = browser.new_page()
            page.set_default_timeout(STEP_TIMEOUT_MS)
            page.on("response", lambda response: responses.append(
                [response.status, response.request.method, response.url]))
            page.on("requestfailed", lambda request: failed.append(
                [request.method, request.url, request.failure]))
            signed_in_as = visit(page, domain, email)
        except PlaywrightError as exc:
            error = str(exc).splitlines()[0]  # the step that failed; the responses show why
        finally:
            browser.close()
    return {"responses": responses, "failed": failed, "signed_in_as": signed_in_as, "error": error}


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:])))
