"""A throwaway PostgreSQL server from this machine's binaries, for tests and the benchmark.

PostgreSQL refuses to run as root, so when we are root the server runs as
the `postgres` user (or `nobody`), in a temporary directory it owns,
listening on 127.0.0.1 at a free port.  It is stopped by pid.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg


def find_bindir() -> Path:
    """The newest /usr/lib/postgresql/<version>/bin, else pg_config's, else PATH."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                        key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    if candidates:
        return Path(candidates[-1]).parent
    pg_config = shutil.which("pg_config")
    if pg_config:
        return Path(subprocess.check_output([pg_config, "--bindir"], text=True).strip())
    postgres = shutil.which("postgres")
    if postgres:
        return Path(postgres).parent
    raise RuntimeError("no PostgreSQL server binaries found (apt-get install postgresql-15)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_as() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root and neither a postgres nor a nobody user exists")


class PostgresServer:
    def __init__(self, durable: bool = False, settings: dict | None = None):
        # Tests trade durability for speed; the benchmark keeps fsync on.
        self.durable = durable
        self.settings = settings or {}
        self.process: subprocess.Popen | None = None
        self.port = free_port()
        self.tmp = Path(tempfile.mkdtemp(prefix="insta-pg-"))

    def _popen_args(self) -> dict:
        user = _run_as()
        if user is None:
            return {}
        os.chown(self.tmp, user.pw_uid, user.pw_gid)
        return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}

    def start(self, timeout: float = 30) -> "PostgresServer":
        bindir = find_bindir()
        as_user = self._popen_args()
        data = self.tmp / "data"
        subprocess.run([bindir / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                        "--no-sync", "--no-instructions"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **as_user)
        options = {"listen_addresses": "127.0.0.1", "port": self.port, "unix_socket_directories": self.tmp,
                   "max_connections": 200, "shared_buffers": "128MB"}
        if not self.durable:
            options.update(fsync="off", synchronous_commit="off", full_page_writes="off")
        options.update(self.settings)
        args = [bindir / "postgres", "-D", data]
        for key, value in options.items():
            args += ["-c", f"{key}={value}"]
        log = open(self.tmp / "postgres.log", "wb")
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                        **as_user)
        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg.connect(self.url("postgres"), connect_timeout=2).close()
                return self
            except psycopg.OperationalError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    log_tail = (self.tmp / "postgres.log").read_text()[-2000:]
                    self.stop()
                    raise RuntimeError(f"PostgreSQL did not start: {log_tail}") from None
                time.sleep(0.1)

    def url(self, dbname: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(self.url("postgres"), autocommit=True)

    def create_database(self, name: str, template: str | None = None) -> str:
        with self.admin() as conn:
            clause = f" TEMPLATE {template} STRATEGY FILE_COPY" if template else ""
            conn.execute(f'CREATE DATABASE "{name}"{clause}')
        return self.url(name)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # "immediate": the data is thrown away anyway
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


def main() -> None:
    """`python -m tests.app.pgserver [dbname]`: a throwaway server for local
    development; prints DATABASE_URL and runs until Ctrl-C, then deletes it."""
    server = PostgresServer().start()
    try:
        url = server.create_database(sys.argv[1] if len(sys.argv) > 1 else "insta_dev")
        print(f"DATABASE_URL={url}", flush=True)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        server.stop()


if __name__ == "__main__":
    main()
