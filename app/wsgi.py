"""The WSGI object gunicorn serves: `gunicorn app.wsgi:app`."""

from app.web.factory import create_app

app = create_app()
