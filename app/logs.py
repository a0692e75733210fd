"""JSON-lines logging to stdout (the journal) and to daily files.

Files are LOG_DIR/combined-YYYY-MM-DD.log (everything) and
LOG_DIR/error-YYYY-MM-DD.log (ERROR and above), dated in UTC.  Files older
than LOG_RETENTION_DAYS are deleted when a process starts and when the day
rolls over.  Each line carries the request id (or the job run id) of the
context it was written in.  Known secret values, and fields whose names
say they hold a secret, are replaced by "[redacted]" before anything is
written.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import os
import re
import sys
import threading
from pathlib import Path

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

REDACTED = "[redacted]"
SENSITIVE_FIELDS = {
    "password", "access_token", "token", "client_secret", "app_secret", "secret",
    "authorization", "cookie", "code", "state", "verify_token", "signature",
}
# Query-string style secrets that may sit inside an exception message or URL.
SENSITIVE_PATTERN = re.compile(
    r"((?:access_token|client_secret|code|hub\.verify_token|state)=)[^&\s'\"]+", re.IGNORECASE
)
LOG_FILE_PATTERN = re.compile(r"^(combined|error)-(\d{4}-\d{2}-\d{2})\.log$")
# Attributes every LogRecord has; anything else came in through `extra=`.
_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_OUR_HANDLER = "_insta_handler"


def utc_iso(moment: dt.datetime) -> str:
    """ISO 8601 with milliseconds and Z, the shape /health and logs use."""
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Redactor:
    def __init__(self, secrets: list[str]):
        # Longest first, so a secret that contains another is replaced whole.
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
        # Cheap test first: this runs for every field of every line.
        return SENSITIVE_PATTERN.sub(r"\1" + REDACTED, value) if "=" in value else value

    def value(self, key: str, value):
        if key.lower() in SENSITIVE_FIELDS:
            return REDACTED
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.value(str(k), v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(key, v) for v in value]
        return value


class JsonFormatter(logging.Formatter):
    def __init__(self, redactor: Redactor, service: str = "insta-connect-demo"):
        super().__init__()
        self.redactor = redactor
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        # Each handler (stdout, combined, error) formats the record: do it once.
        cached = record.__dict__.get("_json")
        if cached is not None:
            return cached
        entry = {
            "timestamp": utc_iso(dt.datetime.fromtimestamp(record.created, dt.timezone.utc)),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": self.redactor.text(record.getMessage()),
            "service": self.service,
            "pid": record.process,
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = self.redactor.value(key, value)
        if record.exc_info:
            entry["exception"] = self.redactor.text(self.formatException(record.exc_info))
        record._json = json.dumps(entry, default=str, ensure_ascii=False)
        return record._json


class DailyFileHandler(logging.Handler):
    """Appends to LOG_DIR/<prefix>-YYYY-MM-DD.log, one write() per line.

    O_APPEND with a single write per record keeps lines whole when several
    gunicorn workers and the jobs share a file. The day's files of the
    `companions` prefixes are created with this one's, so that error-<day>.log
    is there to tail before the day's first error.
    """

    def __init__(self, log_dir: Path, prefix: str, retention_days: int, level=logging.NOTSET,
                 companions: tuple[str, ...] = ()):
        super().__init__(level)
        self.log_dir = log_dir
        self.prefix = prefix
        self.companions = companions
        self.retention_days = retention_days
        self._day = None
        self._fd = None
        self._lock = threading.Lock()

    def _open_for(self, day: str) -> None:
        if self._fd is not None:
            os.close(self._fd)
        self._fd = os.open(self.log_dir / f"{self.prefix}-{day}.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        for companion in self.companions:
            os.close(os.open(self.log_dir / f"{companion}-{day}.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640))
        self._day = day
        prune_old_logs(self.log_dir, self.retention_days)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = (self.format(record) + "\n").encode("utf-8")
            day = dt.datetime.fromtimestamp(record.created, dt.timezone.utc).strftime("%Y-%m-%d")
            with self._lock:
                if day != self._day:
                    self._open_for(day)
                os.write(self._fd, line)
        except Exception:  # logging must never take the request down
            self.handleError(record)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
        super().close()


def prune_old_logs(log_dir: Path, retention_days: int, today: dt.date | None = None) -> list[str]:
    today = today or dt.datetime.now(dt.timezone.utc).date()
    cutoff = today - dt.timedelta(days=retention_days)
    removed = []
    for path in log_dir.iterdir():
        match = LOG_FILE_PATTERN.match(path.name)
        if not match:
            continue
        try:
            day = dt.date.fromisoformat(match.group(2))
        except ValueError:
            continue
        if day < cutoff:
            path.unlink(missing_ok=True)
            removed.append(path.name)
    return removed


def setup_logging(config, stream=None) -> None:
    """(Re)configure the root logger; safe to call more than once."""
    log_dir = Path(config.log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    formatter = JsonFormatter(Redactor(config.secret_values()))
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _OUR_HANDLER, False)]:
        root.removeHandler(handler)
        handler.close()
    handlers = [
        logging.StreamHandler(stream or sys.stdout),
        DailyFileHandler(log_dir, "combined", config.log_retention_days, companions=("error",)),
        DailyFileHandler(log_dir, "error", config.log_retention_days, level=logging.ERROR),
    ]
    for handler in handlers:
        setattr(handler, _OUR_HANDLER, True)
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(config.log_level)
    # Library chatter at INFO (e.g. every pool connection) is noise in the journal.
    for noisy in ("urllib3", "psycopg.pool", "werkzeug"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
