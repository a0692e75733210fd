"""Meta's webhooks: received (receive), stored as queue rows (store),
processed by the timer's job (process, job)."""
