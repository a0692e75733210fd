"""insta-connect-demo: accounts, Instagram OAuth, webhook queue, token refresh.

Kept import-free on purpose: the jobs and `python -m app.migrate` import
submodules without paying for Flask.  The web application lives in
`app.web` (factory) and `app.wsgi` (the object gunicorn serves).
"""
