"""insta-connect-demo: accounts, Instagram OAuth, webhook queue, token refresh.

One package a feature: app.webhooks (receive, store, process), app.tokens
(OAuth and refresh), app.ops (health, metrics, alerts, request logging) and
app.web (the factory and the pages); what they all use stays here (config,
db, logs, accounts, security, migrate, the jobs' frame).  `app.wsgi` is the
object gunicorn serves.

Kept import-free on purpose: the jobs and `python -m app.migrate` import
submodules without paying for Flask.
"""
