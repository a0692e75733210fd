"""A disposable, systemd-booted Debian host on this machine: the sandbox VPS.

`up` boots a fresh copy of the cached root filesystem with systemd-nspawn in a
network namespace of its own, starts the machine-side services the host needs
(an HTTP proxy to the package registries, and Pebble as its ACME CA), and
writes the state, inventory and secrets that operators and tests read. `down`
removes every piece again.
"""

import contextlib
import fcntl
import hashlib
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

from . import acme, rootfs, secrets
from .network import Network, free_index
from .processes import children, in_pid_namespace, is_ours, kill_pid_namespace, pid_namespace, start, stop

REPO = Path(__file__).resolve().parents[2]
RUNTIME_ROOT = Path("/var/lib/insta-sandbox")
PROXY_PORT = 3128
FAKEMETA_PORT = 8081
TEAM_MEMBER = "sandboxops"  # an onboarded person, so the team checks have someone to check
SSH_OPTIONS = ("-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-o", "StrictHostKeyChecking=yes")


def release_suffix(release: str) -> str:
    """What tells another release's sandbox apart, so both can be up at once: none for the first."""
    return "" if release == rootfs.RELEASES[0] else f"-{release}"


def default_name(release: str = rootfs.RELEASE) -> str:
    """One sandbox per checkout and release, so CI's clone and a developer's never collide
    (another release's adds a dash and its initial: names have at most 12 characters)."""
    return "icd" + hashlib.sha1(str(REPO).encode()).hexdigest()[:6] + release_suffix(release)[:2]


def state_dir(release: str = rootfs.RELEASE) -> Path:
    base = Path(os.environ.get("SANDBOX_STATE") or REPO / ".sandbox")
    return base.with_name(base.name + release_suffix(release))


@contextlib.contextmanager
def allocation_lock():
    """Two `up`s at once must not pick the same free subnet."""
    RUNTIME_ROOT.mkdir(parents=True, exist_ok=True)
    with open(RUNTIME_ROOT / ".allocation.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def fakemeta_urls(base: str) -> dict:
    """The app's Meta endpoints, all served by tests.fakemeta."""
    return {"INSTAGRAM_AUTHORIZE_URL": f"{base}/oauth/authorize",
            "INSTAGRAM_API_BASE": base, "INSTAGRAM_GRAPH_BASE": base}


def web_check(state: dict) -> tuple[bool, str]:
    """Whether https://<domain>/ is served with a certificate that chains to
    Pebble's root, and what it answers, from the machine side."""
    url = f"https://{state['domain']}/"
    context = ssl.create_default_context(cafile=state["pebble_root"])
    try:
        with socket.create_connection((state["address"], 443), timeout=5) as raw, \
                context.wrap_socket(raw, server_hostname=state["domain"]) as tls:
            issuer = dict(pair[0] for pair in tls.getpeercert()["issuer"])["commonName"]
            tls.sendall(f"GET / HTTP/1.1\r\nHost: {state['domain']}\r\nConnection: close\r\n\r\n".encode())
            reply = http.client.HTTPResponse(tls)
            reply.begin()
    except (OSError, http.client.HTTPException) as error:  # ssl errors are OSErrors
        return False, f"{url} is not served with a Pebble certificate yet ({error})"
    location = reply.getheader("Location")
    answer = f"{url} answers {reply.status}{f' (to {location})' if location else ''}; certificate from {issuer}"
    return reply.status < 500, answer


def log(message: str) -> None:
    print(f"sandbox: {message}", flush=True)


class Sandbox:
    def __init__(self, name: str | None = None):
        self.name = name or os.environ.get("SANDBOX_NAME") or default_name()
        if not (2 <= len(self.name) <= 12 and self.name.replace("-", "").isalnum()):
            raise SystemExit(f"sandbox: name {self.name!r} must be 2-12 letters, digits or dashes")
        self.dir = state_dir()
        self.state_file = self.dir / "state.json"
        self.root = RUNTIME_ROOT / self.name / "root"

    # -- state ---------------------------------------------------------------
    def state(self) -> dict:
        if not self.state_file.exists():
            return {}
        state = json.loads(self.state_file.read_text())
        return state if state.get("name") == self.name else {}

    def network(self, state: dict) -> Network:
        return Network(self.name, state["subnet_index"])

    def process_markers(self, state: dict) -> dict[str, str]:
        """What each started process's command line contains, so pid reuse can't fool us."""
        return {"nspawn": str(self.root), "tinyproxy": str(self.dir / "tinyproxy.conf"),
                "fakemeta": f"tests.fakemeta --host {state['gateway']} ",
                "challtestsrv": f"{state['gateway']}:{acme.DNS_PORT}",
                "chronyd": str(self.dir / "chrony-server.conf"),
                "pebble": str(self.dir / "pebble-config.json")}

    def running(self, state: dict) -> bool:
        """The host and every machine-side process it relies on are alive."""
        markers = self.process_markers(state) if state else {}
        return bool(state) and all(is_ours(state.get("pids", {}).get(role), marker)
                                   for role, marker in markers.items())

    # -- commands --------------------------------------------------------------
    def up(self) -> dict:
        state = self.state()
        if self.running(state) and self.ssh_ok(state):
            log(f"{self.name} is already running at {state['address']}; reusing it")
            return state
        self.down(quiet=True)
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        cached = rootfs.ensure_cached_rootfs(log)
        with allocation_lock():
            net = Network(self.name, free_index())
            state = self._new_state(net)
            # Recorded before anything is created, so a crash part-way can be cleaned up.
            self._save(state)
            log(f"network {net.subnet}: host {net.host_address}, machine side {net.gateway}")
            net.create()
        self._prepare_root(cached, state)
        state["pids"]["tinyproxy"] = self._start_proxy(net)
        state["pids"]["fakemeta"] = self._start_fakemeta(net)
        state["pids"]["chronyd"] = self._start_timeserver(net)
        self._save(state)
        self._start_acme(state)
        state["pids"]["nspawn"] = self._boot(net)
        self._save(state)
        self._wait_for_ssh(state)
        state["pebble_root"] = str(acme.fetch_issuing_root(self.dir, state["gateway"], self._listener_ca()))
        self._save(state)
        secrets.ensure(self.dir, state)
        secrets.ensure_backup_key(self.dir)
        self._write_inventory(state)
        log(f"{self.name} is up at {state['address']}")
        return state

    def down(self, quiet: bool = False) -> None:
        state = self.state()
        if not state:
            if not quiet:
                log(f"{self.name}: nothing to take down")
            return
        markers = self.process_markers(state)
        state["container_pid_namespace"] = self.container_pid_namespace(state)
        for role, pid in state.get("pids", {}).items():
            stop(pid, markers[role], grace=30)
        # A poweroff that hangs (a stuck unit) outlives nspawn's SIGKILL: end the container itself.
        kill_pid_namespace(state["container_pid_namespace"])
        self._unmount(RUNTIME_ROOT / self.name)
        self.network(state).destroy()
        shutil.rmtree(RUNTIME_ROOT / self.name, ignore_errors=True)
        for generated in ("state.json", "inventory.py", "known_hosts", acme.ISSUING_ROOT):
            (self.dir / generated).unlink(missing_ok=True)
        leftovers = self.leftovers(state)
        if leftovers:
            raise SystemExit("sandbox: down left these behind: " + "; ".join(leftovers))
        if not quiet:
            log(f"{self.name} is down; nothing left behind")

    def container_pid_namespace(self, state: dict) -> str | None:
        """The pid namespace of the container's init: nspawn's child while it runs, else as recorded."""
        nspawn = state.get("pids", {}).get("nspawn")
        if is_ours(nspawn, self.process_markers(state)["nspawn"]):
            for child in children(nspawn):
                if pid_namespace(child) != pid_namespace(os.getpid()):
                    return pid_namespace(child)
        return state.get("container_pid_namespace")

    def leftovers(self, state: dict) -> list[str]:
        """Anything of this sandbox still on the machine: processes, mounts, links, namespaces."""
        found = [f"process {pid} ({role})" for role, pid in state.get("pids", {}).items()
                 if is_ours(pid, self.process_markers(state)[role])]
        found += [f"process {pid} (in the container)"
                  for pid in in_pid_namespace(state.get("container_pid_namespace"))]
        found += [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()
                  if str(RUNTIME_ROOT / self.name) in line]
        net = self.network(state)
        found += [f"link or namespace of {net.subnet}"] if net.exists() else []
        found += [str(RUNTIME_ROOT / self.name)] if (RUNTIME_ROOT / self.name).exists() else []
        return found

    def status(self) -> int:
        state = self.state()
        if not state:
            print(f"{self.name}: not created")
            return 1
        up = self.running(state) and self.ssh_ok(state)
        print(f"sandbox {self.name}: {'running' if up else 'NOT running'} (state in {self.state_file})")
        print(f"  address     {state['address']}  (domain {state['domain']}, network {state['subnet']})")
        print(f"  ssh         python -m tests.sandbox ssh {self.name}")
        print(f"              ssh -i {state['ssh_key']} -o UserKnownHostsFile={state['known_hosts']} "
              f"{state['ssh_user']}@{state['address']}")
        print(f"  app         python -m tests.sandbox ssh {self.name} -- curl -s --unix-socket /run/insta-connect-demo.sock http://localhost/health")
        served, answer = web_check(state)
        curl = (f"curl -sS --noproxy '*' --cacert {state['pebble_root']} "
                f"--resolve {state['domain']}:443:{state['address']}")
        print(f"  web         {answer}")
        print(f"              {curl} -L https://{state['domain']}/")
        print(f"              {curl} https://{state['domain']}/health")
        print(f"  acme        Pebble {acme.directory_url(state['gateway'])} (its root: {state['pebble_root']})")
        return 0 if up and served else 1

    def ssh_argv(self, state: dict, *command: str) -> list[str]:
        return ["ssh", "-i", state["ssh_key"], "-o", f"UserKnownHostsFile={state['known_hosts']}",
                *SSH_OPTIONS, f"{state['ssh_user']}@{state['address']}", *command]

    def ssh_ok(self, state: dict) -> bool:
        return subprocess.run(self.ssh_argv(state, "true"), capture_output=True).returncode == 0

    # -- pieces ----------------------------------------------------------------
    def _new_state(self, net: Network) -> dict:
        return {
            "name": self.name,
            "address": net.host_address,
            "gateway": net.gateway,
            "outside_address": net.outside_address,
            "outside_netns": net.outside_netns,
            "subnet": net.subnet,
            "subnet_index": net.index,
            "ssh_user": "root",
            "ssh_key": str(self.dir / "id_ed25519"),
            "team_key": str(self.dir / f"{TEAM_MEMBER}_ed25519"),  # TEAM_MEMBER's
            "known_hosts": str(self.dir / "known_hosts"),
            "domain": f"{self.name}.sandbox.test",
            "proxy": f"http://{net.gateway}:{PROXY_PORT}",
            "root": str(self.root),
            "pids": {},
        }

    def _save(self, state: dict) -> None:
        self.state_file.write_text(json.dumps(state, indent=2) + "\n")

    def _prepare_root(self, cached: Path, state: dict) -> None:
        shutil.rmtree(self.root.parent, ignore_errors=True)
        self.root.parent.mkdir(parents=True)
        subprocess.run(["cp", "-a", "--reflink=auto", str(cached), str(self.root)], check=True)
        key = Path(state["ssh_key"])
        if not key.exists():
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"sandbox-{self.name}",
                            "-f", str(key)], check=True)
        ssh_dir = self.root / "root/.ssh"
        ssh_dir.mkdir(mode=0o700, exist_ok=True)
        (ssh_dir / "authorized_keys").write_text(key.with_suffix(".pub").read_text())
        (ssh_dir / "authorized_keys").chmod(0o600)
        subprocess.run(["ssh-keygen", "-A", "-f", str(self.root)], check=True, stdout=subprocess.DEVNULL)
        (self.root / "etc/hostname").write_text(self.name + "\n")
        (self.root / "etc/hosts").write_text(
            f"127.0.0.1 localhost\n127.0.1.1 {self.name}\n{state['address']} {state['domain']}\n")
        (self.root / "etc/resolv.conf").unlink(missing_ok=True)
        (self.root / "etc/resolv.conf").write_text("# the sandbox has no DNS; apt and pip go through the proxy\n")

    def _start_proxy(self, net: Network) -> int:
        conf = self.dir / "tinyproxy.conf"
        conf.write_text(
            "User nobody\nGroup nogroup\n"
            f"Listen {net.gateway}\nPort {PROXY_PORT}\nTimeout 600\n"
            f"Allow {net.subnet}\nConnectPort 443\nMaxClients 100\nLogLevel Warning\n")
        return start(["tinyproxy", "-d", "-c", str(conf)], self.dir / "tinyproxy.log")

    def _start_fakemeta(self, net: Network) -> int:
        """The fake Meta API the host's app talks to instead of Meta (unreachable from here)."""
        return start([sys.executable, "-m", "tests.fakemeta", "--host", net.gateway, "--port", str(FAKEMETA_PORT)],
                     self.dir / "fakemeta.log", cwd=REPO)

    def _start_timeserver(self, net: Network) -> int:
        """An NTP server for the host on the machine side: chronyd serving this
        machine's clock, which it never sets (-x), and asking no one (no sources)."""
        conf = self.dir / "chrony-server.conf"
        conf.write_text(f"bindaddress {net.gateway}\nallow {net.subnet}\nlocal stratum 8\ncmdport 0\n"
                        f"pidfile {self.dir / 'chronyd.pid'}\n")
        return start(["chronyd", "-d", "-x", "-u", "root", "-f", str(conf)], self.dir / "chronyd.log")

    def _listener_ca(self) -> Path:
        return self.dir / acme.LISTENER_CA

    def _start_acme(self, state: dict) -> None:
        gateway = state["gateway"]
        _, cert, key = acme.make_listener_ca(self.dir, gateway)
        state["pids"]["challtestsrv"] = acme.start_dns(self.dir, gateway)
        self._save(state)
        acme.add_host_record(gateway, state["domain"], state["address"])
        state["pids"]["pebble"] = acme.start_pebble(self.dir, gateway, cert, key)
        self._save(state)

    def _boot(self, net: Network) -> int:
        return start(
            ["systemd-nspawn", "-D", str(self.root), "--boot", "--register=no", "--keep-unit",
             f"--network-namespace-path=/run/netns/{net.host_netns}", "--capability=CAP_NET_ADMIN",
             "-M", self.name, "--resolv-conf=off", "--timezone=off", "--link-journal=no",
             # Its console output is read into nspawn.log: a console nobody reads ("passive")
             # fills up, and the container's systemd then blocks writing to it (seen when a
             # systemd update re-executed it).
             "--console=read-only"],
            self.dir / "nspawn.log",
            # ufw and the deploys write /proc/sys/net; the rest of /proc/sys stays read-only.
            env={"SYSTEMD_NSPAWN_API_VFS_WRITABLE": "network"},
        )

    def _wait_for_ssh(self, state: dict, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running(state):
                time.sleep(1)  # look twice: a just-started nspawn has been seen to look gone once
            if not self.running(state):
                raise SystemExit(f"sandbox: the container exited during boot; see {self.dir / 'nspawn.log'}")
            scan = subprocess.run(["ssh-keyscan", "-T", "2", "-t", "ed25519", state["address"]],
                                  capture_output=True, text=True)
            if scan.stdout.strip():
                Path(state["known_hosts"]).write_text(scan.stdout)
                booted = subprocess.run(self.ssh_argv(state, "systemctl", "is-system-running", "--wait"),
                                        capture_output=True, text=True)
                log(f"systemd inside says: {booted.stdout.strip() or booted.stderr.strip()}")
                if booted.stdout.strip() == "running":
                    state["container_pid_namespace"] = self.container_pid_namespace(state)
                    self._save(state)
                    return
                failed = subprocess.run(self.ssh_argv(state, "systemctl", "--failed", "--no-legend"),
                                        capture_output=True, text=True).stdout
                raise SystemExit(f"sandbox: the host booted degraded; failed units:\n{failed}")
            time.sleep(1)
        raise SystemExit(f"sandbox: no SSH on {state['address']} after {timeout:.0f}s")

    @staticmethod
    def _unmount(below: Path) -> None:
        mounts = Path("/proc/mounts").read_text().splitlines()
        targets = [line.split()[1] for line in mounts if line.split()[1].startswith(str(below))]
        for target in sorted(targets, key=len, reverse=True):
            subprocess.run(["umount", "-l", target], check=False)

    def _write_inventory(self, state: dict) -> None:
        # The egress's CAs, and Pebble's HTTPS listener's: root's own certbot commands (the
        # document's `certbot renew --dry-run`) reach the ACME server like certbot.service does.
        extra_cas = [ca.read_text() for ca in sorted(rootfs.EXTRA_CA_DIR.glob("*.crt"))] + [
            self._listener_ca().read_text()]
        team_key = Path(state["team_key"])
        if not team_key.exists():
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{TEAM_MEMBER}@{self.name}",
                            "-f", str(team_key)], check=True)
        host_data = {
            "ssh_hostname": state["address"],  # may change with a rebuild; the host's name does not
            "ssh_user": state["ssh_user"],
            "ssh_key": state["ssh_key"],
            "ssh_known_hosts_file": state["known_hosts"],
            "ssh_strict_host_key_checking": "yes",
            "apt_proxy": state["proxy"],
            "https_proxy": state["proxy"],
            "debian_mirror": rootfs.machine_mirror(),  # the archive this machine's apt, and so the proxy, reaches
            "extra_ca_certs": extra_cas,
            "domain": state["domain"],
            "admin_ips": [state["gateway"]],
            "ntp_servers": [state["gateway"]],
            "time_sync_sets_clock": False,  # a container: the clock is the machine's
            "team": [{"name": TEAM_MEMBER, "keys": [team_key.with_suffix(".pub").read_text().strip()],
                      "sudo": True}],
            "acme_directory": acme.directory_url(state["gateway"]),
            "acme_ca_bundle": self._listener_ca().read_text(),
            "secrets_file": str(self.dir / "secrets.env"),
            "doppler_config": None,  # the generated secrets above, never a Doppler config the machine may reach
            "backup_recipient": secrets.backup_recipient(self.dir),
            "backup_identity_file": str(self.dir / secrets.BACKUP_KEY),
            "local_backup_dir": str(self.dir / "backups"),  # kept by `down`, as the operator keeps theirs
            "meta_base_urls": fakemeta_urls(f"http://{state['gateway']}:{FAKEMETA_PORT}"),
            "sandbox": True,
        }
        (self.dir / "inventory.py").write_text(
            "# Generated by `python -m tests.sandbox up`; do not edit.\n"
            f"sandbox = [({state['domain']!r}, {host_data!r})]\n")
