"""JWT authentication for WebSocket connections: sets `scope["user"]`, never raises into the server."""

import logging
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.contrib.auth.models import AnonymousUser

from target_app.realtime.tokens import (
    MALFORMED,
    authenticate,
    bearer_token,
    create_token,
    decode_user_id,
    signing_key,
)

# The token functions live in `tokens`, shared with the HTTP API; the JWT suites import them from here.
__all__ = [
    "JWTAuthMiddleware",
    "authenticate",
    "create_token",
    "decode_user_id",
    "signing_key",
    "token_from_scope",
]

logger = logging.getLogger(__name__)


def token_from_scope(scope) -> str | None:
    """The token from `?token=` (first) or an `Authorization: Bearer` header."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if query.get("token"):
        return query["token"][0]
    for name, value in scope.get("headers", []):
        if name.lower() == b"authorization":
            return bearer_token(value.decode("latin-1"))
    return None


@database_sync_to_async
def _authenticate(token: str | None):
    return authenticate(token)


class JWTAuthMiddleware(BaseMiddleware):
    """Authenticate WebSocket scopes from a JWT; failures become `scope["auth_error"]`, not exceptions."""

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return await super().__call__(scope, receive, send)
        scope = dict(scope)
        try:
            user, error = await _authenticate(token_from_scope(scope))
        except Exception:  # a broken database must not take the server down with it
            logger.exception("JWT authentication failed unexpectedly")
            user, error = AnonymousUser(), MALFORMED
        scope["user"] = user
        if error:
            scope["auth_error"] = error
        return await super().__call__(scope, receive, send)
