"""WebSocket authentication: the session cookie (web UI), or an API token in
the handshake's ``Authorization: Bearer`` header (external clients).

A token sent later in the ``start`` message is checked by the consumer with
``futureself.auth.user_for_token``.
"""

from __future__ import annotations

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import OriginValidator
from django.conf import settings

from futureself.auth import user_for_token


def _bearer_from_headers(headers) -> str | None:
    for name, value in headers:
        if name.lower() == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


class TokenAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        raw = _bearer_from_headers(scope.get("headers", []))
        if raw:
            user = await database_sync_to_async(user_for_token)(raw)
            scope = dict(scope)
            scope["token_auth"] = user is not None
            if user is not None:
                scope["user"] = user
        return await super().__call__(scope, receive, send)


def TokenAuthMiddlewareStack(inner):  # noqa: N802 - mirrors Channels' AuthMiddlewareStack
    # The session stack sets scope["user"] from the cookie; the token, when given, then overrides it.
    return AuthMiddlewareStack(TokenAuthMiddleware(inner))


class BrowserOriginValidator(OriginValidator):
    """Checks the Origin of browser connections against the allowed hosts and
    the configured external frontend origins.

    Browsers always send Origin, so cross-site pages are refused; clients that
    are not browsers send none and must authenticate with a token.
    """

    def valid_origin(self, parsed_origin) -> bool:
        if parsed_origin is None:
            return True
        return self.validate_origin(parsed_origin)


def allowed_websocket_origins() -> list[str]:
    hosts = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not hosts:
        hosts = ["localhost", "127.0.0.1", "[::1]"]
    return hosts + list(settings.CORS_ALLOWED_ORIGINS)


def websocket_application(inner):
    return BrowserOriginValidator(TokenAuthMiddlewareStack(inner), allowed_websocket_origins())
