"""What every one-shot job shares.  The jobs, run by systemd timers, are
`python -m app.webhooks.job` and `python -m app.tokens.job`.

`run_job` gives every job the same frame: configuration check, logging,
a job_runs row (status and summary) and the exit status: 0 when all went
as expected, 1 when something unexpected failed, 2 on a configuration error.
"""

from __future__ import annotations

import logging
import uuid
from typing import Callable

from psycopg.types.json import Jsonb

from app.config import config_or_exit
from app.db import connect
from app.logs import request_id_var, setup_logging

log = logging.getLogger(__name__)

# The body returns (everything went as expected?, summary for job_runs and the log).
JobBody = Callable[..., "tuple[bool, dict]"]


def _finish(conn, run_id: int, ok: bool, summary: dict) -> None:
    conn.execute(
        "UPDATE job_runs SET status = %s, summary = %s, finished_at = now() WHERE id = %s",
        ("ok" if ok else "failed", Jsonb(summary), run_id),
    )


def run_job(name: str, process: str, body: JobBody) -> int:
    config = config_or_exit(process)
    setup_logging(config)
    request_id_var.set(f"{name}-{uuid.uuid4().hex[:12]}")
    try:
        with connect(config, f"insta-connect-{name}", autocommit=True) as conn:
            run_id = conn.execute("INSERT INTO job_runs (job) VALUES (%s) RETURNING id", (name,)).fetchone()[0]
            try:
                ok, summary = body(config, conn, run_id)
            except Exception as exc:
                log.exception("job %s crashed", name)
                _finish(conn, run_id, False, {"error": type(exc).__name__})
                return 1
            _finish(conn, run_id, ok, summary)
    except Exception as exc:  # the database is unreachable or went away
        log.error("job %s could not run: %s: %s", name, type(exc).__name__, exc)
        return 1
    log.log(logging.INFO if ok else logging.ERROR, "job %s finished", name, extra={"ok": ok, **summary})
    return 0 if ok else 1
