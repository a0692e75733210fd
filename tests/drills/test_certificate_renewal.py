"""A renewal forced through certbot's own systemd service (the one its timer
starts, with the CA-bundle drop-in) ends with nginx serving the new certificate."""

import subprocess
import time

import pytest

FORCE = "/run/systemd/system/certbot.service.d/drill-force-renewal.conf"


def served_serial(state: dict) -> str:
    return subprocess.run(
        f"openssl s_client -connect {state['address']}:443 -servername {state['domain']} </dev/null "
        "2>/dev/null | openssl x509 -noout -serial", shell=True, capture_output=True, text=True,
        timeout=30).stdout.strip()


@pytest.mark.proves("S5.2-automatic-renewal", "S5.2-renew")
def test_forced_renewal_is_served(sandbox_state, host):
    before = served_serial(sandbox_state)
    assert before.startswith("serial=")
    host.run_test(f"mkdir -p $(dirname {FORCE}) && printf '[Service]\\nExecStart=\\n"
                  f"ExecStart=/usr/bin/certbot -q renew --force-renewal --no-random-sleep-on-renew\\n' > {FORCE}"
                  " && systemctl daemon-reload")
    try:
        run = host.run("systemctl start certbot.service")  # oneshot: returns when certbot is done
        assert run.rc == 0, host.check_output("journalctl -u certbot.service -n 30 --no-pager")
    finally:
        host.run_test(f"rm -f {FORCE} && systemctl daemon-reload")
    live = host.check_output(
        f"openssl x509 -noout -serial -in /etc/letsencrypt/live/{sandbox_state['domain']}/cert.pem")
    assert live != before, "certbot did not renew"
    # The hook's reload returns before nginx's new workers answer: give them a few seconds.
    for _ in range(20):
        after = served_serial(sandbox_state)
        if after == live:
            break
        time.sleep(0.5)
    assert after == live, f"nginx still serves {after}, not the renewed {live} (deploy hook?)"


@pytest.mark.proves("S5.2-renew-dry-run")
def test_the_documents_dry_run_renewal_works_as_printed(host):
    """Section 5.2's `certbot renew --dry-run`, over a non-interactive SSH like
    an operator's script: against the configured ACME server (Let's Encrypt's
    staging in production), with no random sleep first, and nothing renewed."""
    live = host.check_output("readlink -f /etc/letsencrypt/live/*/cert.pem")
    started = time.monotonic()
    run = host.run("certbot renew --dry-run")
    assert run.rc == 0 and "all simulated renewals succeeded" in run.stdout, run.stdout + run.stderr
    assert time.monotonic() - started < 60
    assert host.check_output("readlink -f /etc/letsencrypt/live/*/cert.pem") == live
