"""What operators watch: /health, /metrics and /alerts (views, checks,
metrics) and every request's id, counters and access line (request_log)."""
