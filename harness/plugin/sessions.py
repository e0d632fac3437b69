"""Session logins for `harness_ws.connect(user=...)` on projects that authenticate WebSockets by session."""

from __future__ import annotations

from typing import Any

from .errors import FixtureUsageError


async def session_cookie(user: Any) -> tuple[bytes, bytes]:
    """A `Cookie` header carrying a saved, logged-in Django session for `user` (object or primary key)."""
    from channels.db import database_sync_to_async

    return await database_sync_to_async(_log_in)(user)


def _log_in(user: Any) -> tuple[bytes, bytes]:
    # Django's own test client does what a login view does (session key, backend, auth hash),
    # so Channels' AuthMiddleware accepts the session exactly as it would a browser's.
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    model = get_user_model()
    if not isinstance(user, model):
        try:
            user = model._default_manager.get(pk=user)
        except model.DoesNotExist:
            raise FixtureUsageError(f"harness_ws.connect(user={user!r}): no such user") from None
    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    return b"cookie", f"{name}={client.cookies[name].value}".encode("latin-1")
