"""Drain the webhook queue: `python -m app.webhooks.job`.

Runs until no event is due or WEBHOOK_PROCESSOR_MAX_SECONDS pass (the timer
starts it every 5 minutes), then trims old rows.  Safe to run several at
once; see app.webhooks.process for the claim protocol.
"""

from __future__ import annotations

import sys
import time

from app.config import WEBHOOK_PROCESSOR
from app.jobs import run_job
from app.webhooks.process import Processor, housekeeping


def drain_queue(config, conn, run_id: int) -> tuple[bool, dict]:
    processor = Processor(conn, config)
    stats = processor.drain(time.monotonic() + config.webhook_processor_max_seconds, time.monotonic)
    stats.update(housekeeping(conn, config))
    stats["worker"] = processor.worker
    return True, stats


if __name__ == "__main__":
    sys.exit(run_job("webhook_processor", WEBHOOK_PROCESSOR, drain_queue))
