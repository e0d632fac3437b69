"""Committed database rows for tests whose consumers read them from executor threads."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from .errors import FixtureUsageError


def _require_sync(call: str) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    async_call = call.replace(".", ".a", 1)
    raise FixtureUsageError(
        f"{call}() touches the database synchronously; in async code use `await {async_call}(...)`"
    )


class Rows:
    """Creates rows of any model in committed transactions (pytest-django's `transactional_db`)."""

    def __init__(self) -> None:
        self.created: list[Any] = []

    def create(self, model: type[Any], **fields: Any) -> Any:
        """`model._default_manager.create(**fields)`, committed at once; for sync code and fixtures."""
        _require_sync("harness_rows.create")
        row = model._default_manager.create(**fields)
        self.created.append(row)
        return row

    async def acreate(self, model: type[Any], **fields: Any) -> Any:
        """Async twin of `create()`, for use inside async tests and fixtures."""
        from asgiref.sync import sync_to_async

        return await sync_to_async(self.create)(model, **fields)


class Users:
    """Creates users of the project's user model (`get_user_model()`), committed at once."""

    def __init__(self, rows: Rows) -> None:
        self._rows = rows
        self._numbers = itertools.count(1)

    @property
    def model(self) -> type[Any]:
        from django.contrib.auth import get_user_model

        return get_user_model()

    def create(self, username: str | None = None, *, password: str | None = None, **fields: Any) -> Any:
        """A user with `username` (default `user1`, `user2`, ...) and `fields` (is_staff=True, ...).

        Without `password` the user gets an unusable one: hashing costs a large part of a second.
        """
        _require_sync("harness_users.create")
        model = self.model
        username_field = model.USERNAME_FIELD
        fields.setdefault(username_field, username or self._next_name(username_field))
        manager = model._default_manager
        if hasattr(manager, "create_user"):
            user = manager.create_user(password=password, **fields)
        else:
            user = manager.create(**fields)
        self._rows.created.append(user)
        return user

    async def acreate(self, username: str | None = None, **fields: Any) -> Any:
        """Async twin of `create()`, for use inside async tests and fixtures."""
        from asgiref.sync import sync_to_async

        return await sync_to_async(self.create)(username, **fields)

    def _next_name(self, username_field: str) -> str:
        number = next(self._numbers)
        return f"user{number}@example.test" if "email" in username_field.lower() else f"user{number}"
