"""Refresh long-lived tokens that are due: `python -m app.tokens.job`.

Due: active account, token at least 24 h old, expiring within
TOKEN_REFRESH_WINDOW_DAYS.  Error classes (see app.tokens.meta.classify):
190/10/200-299 mark the account needs_reauth; 4/17/32/613/80002/341 leave it
for the next run; 1/2/5xx/timeouts are retried with backoff within the run.
One account's failure, whatever it is, never stops the others; every attempt
is a row of token_refresh_log.  Exit status 1 when an account failed in an
unexpected way (or retries ran out).
"""

from __future__ import annotations

import logging
import sys
from collections import Counter

from app import accounts
from app.config import TOKEN_REFRESH
from app.jobs import run_job
from app.security import TokenCipher
from app.tokens.meta import InstagramClient
from app.tokens.refresh import FAILED, refresh_account

log = logging.getLogger(__name__)


def refresh_due(config, conn, run_id: int) -> tuple[bool, dict]:
    client = InstagramClient(config)
    cipher = TokenCipher(config.token_encryption_key)
    outcomes = Counter()
    for account_id in accounts.due_for_refresh(conn, config.token_refresh_window_days):
        try:
            outcome = refresh_account(
                conn, client, cipher, account_id,
                retries=config.token_refresh_retries,
                retry_base_seconds=config.token_refresh_retry_base_seconds,
                window_days=config.token_refresh_window_days,
                run_id=run_id,
            ).outcome
        except Exception:
            # refresh_account fails the account itself on any error in its
            # transaction; this is for what comes after (e.g. writing its
            # attempts while the database is going away).
            log.exception("token refresh of account %s could not be completed", account_id)
            outcome = FAILED
        outcomes[outcome] += 1
    return outcomes[FAILED] == 0, {"outcomes": dict(outcomes)}


if __name__ == "__main__":
    sys.exit(run_job("refresh_tokens", TOKEN_REFRESH, refresh_due))
