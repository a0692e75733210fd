"""The web application: the factory, its pages (auth, dashboard, api) and
what they rest on (shared, sessions, forms, ratelimit, templates, static).

Kept import-free, like app/: `python -m app.web.sessions` and the webhook
job (which deletes ended sessions) need no factory."""
