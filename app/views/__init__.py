"""Blueprints: auth (pages), dashboard, oauth, api, webhook, monitoring."""

from werkzeug.routing import BaseConverter


class AccountIdConverter(BaseConverter):
    """`<account:...>`: an Instagram account id in a URL. One with a control
    character (NUL, which PostgreSQL refuses in text) matches no route: 404."""

    regex = r"[^/\x00-\x1f\x7f]+"
