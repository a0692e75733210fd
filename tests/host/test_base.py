"""deploys/base.py, as the host shows it. Read-only: safe against production."""


def test_timezone_is_utc(host):
    assert host.check_output("date +%Z") == "UTC"
    assert host.file("/etc/localtime").linked_to.endswith("/UTC")


def test_base_packages_installed(host, target):
    missing = [name for name in target.data["base_packages"] if not host.package(name).is_installed]
    assert missing == []


def test_apt_proxy_matches_inventory(host, target):
    proxy_conf = host.file("/etc/apt/apt.conf.d/01proxy")
    if target.data["apt_proxy"]:
        assert proxy_conf.contains(f'Acquire::http::Proxy "{target.data["apt_proxy"]}"')
    else:
        assert not proxy_conf.exists


def test_unattended_security_upgrades_enabled(host):
    periodic = host.check_output("apt-config dump APT::Periodic")
    assert 'APT::Periodic::Unattended-Upgrade "1"' in periodic
    assert 'APT::Periodic::Update-Package-Lists "1"' in periodic
    origins = host.check_output("apt-config dump Unattended-Upgrade::Origins-Pattern")
    assert "security" in origins.lower()
    for timer in ("apt-daily.timer", "apt-daily-upgrade.timer"):
        assert host.service(timer).is_enabled, timer
        assert host.service(timer).is_running, timer


def test_unattended_upgrades_dry_run_finds_security_origin(host):
    # The real tool, not just its config: it must parse the config and see the security origin.
    out = host.run("unattended-upgrade --dry-run --debug 2>&1 | grep -i 'allowed origins'")
    assert out.rc == 0 and "security" in out.stdout.lower(), out.stdout


def test_extra_cas_trusted(host, target):
    bundle = host.file("/etc/ssl/certs/ca-certificates.crt").content_string
    for pem in target.data["extra_ca_certs"]:
        body = "".join(pem.strip().splitlines()[1:-1])
        assert body[:64] in bundle.replace("\n", ""), "extra CA missing from the system bundle"
