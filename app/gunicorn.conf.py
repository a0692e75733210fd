"""gunicorn settings: `gunicorn --config app/gunicorn.conf.py app.wsgi:app`.

The configuration is validated here, in the master, so a bad variable stops
start-up with one line (`config error: ...`) instead of workers crashing in
a loop.  Environment knobs besides the app's own:
  WEB_CONCURRENCY   worker processes (default 2 x cores + 1, at most 8)
  GUNICORN_THREADS  threads per worker (default 4: gthread workers, which
                    also keep connections from nginx alive; 1: sync workers).
                    Keep DB_POOL_MAX_SIZE at least this.
  PROMETHEUS_MULTIPROC_DIR  where workers share metric counters; default a
                    fresh directory under /tmp (the unit may point it at
                    /run/insta-connect-demo/metrics instead).
Access lines are written by the app itself (JSON, with request id, without
query strings) to stdout and the combined log, so gunicorn's own access
log stays off.
"""

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

APP_DIR = Path(__file__).resolve().parent.parent
if str(APP_DIR) not in sys.path:
    sys.path.insert(0, str(APP_DIR))

from app.config import SERVICE_STARTED_AT, WEB, config_or_exit  # noqa: E402  (needs APP_DIR on sys.path)

_config = config_or_exit(WEB)


def _positive_int_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        print(f"config error: {name} is malformed: must be a positive integer", file=sys.stderr)
        raise SystemExit(2)
    return int(raw)


bind = f"127.0.0.1:{_config.port}"  # on the host, systemd's socket (LISTEN_FDS) is used instead
workers = _positive_int_env("WEB_CONCURRENCY", min(2 * (os.cpu_count() or 1) + 1, 8))
threads = _positive_int_env("GUNICORN_THREADS", 4)
worker_class = "gthread" if threads > 1 else "sync"
timeout = 30
graceful_timeout = 20
keepalive = 5  # seconds an idle keep-alive connection (from nginx) stays open
proc_name = "insta-connect-demo"
# gunicorn >= 25 opens a control socket under $HOME by default: read-only
# under ProtectSystem=strict, and shared by every instance of the same user.
# systemd is the control interface here.
control_socket_disable = True
accesslog = None
errorlog = "-"
loglevel = {"DEBUG": "debug", "INFO": "info", "WARNING": "warning"}.get(_config.log_level, "error")

# Metric counters shared by the workers.  The directory must exist and be
# empty before any worker imports prometheus_client.
_created_metrics_dir = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
_metrics_dir = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="insta-connect-metrics-"))
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(_metrics_dir)


def on_starting(server):
    # The service's start, which every worker (and a reload's new ones) inherits: /health's uptime.
    os.environ[SERVICE_STARTED_AT] = repr(time.time())
    _metrics_dir.mkdir(parents=True, exist_ok=True)
    for stale in _metrics_dir.glob("*.db"):  # counters of a previous run
        stale.unlink()


def child_exit(server, worker):
    from prometheus_client import multiprocess
    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _created_metrics_dir:
        shutil.rmtree(_metrics_dir, ignore_errors=True)
