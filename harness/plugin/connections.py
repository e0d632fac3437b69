"""The `harness_ws` factory: opens WebSocket clients, remembers them, tears every one down."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .client import WebSocketClient
from .sessions import session_cookie

HeaderPairs = Iterable[tuple[str | bytes, str | bytes]]
_client_ports = itertools.count(50000)


class WebSocketClients:
    """Factory behind `harness_ws`: `await harness_ws.connect(path, ...)` returns a WebSocketClient."""

    def __init__(
        self,
        application: Any,
        mint_token: Callable[[Any], str],
        query_param: str = "token",
        *,
        production: Callable[[], Any] | None = None,
        auth: Literal["jwt", "session"] = "jwt",
    ) -> None:
        self.application = application
        self.clients: list[WebSocketClient] = []
        self._mint_token = mint_token
        self._query_param = query_param
        self._production = production
        self._auth = auth
        self._tasks_before: set[asyncio.Task[Any]] = set()

    async def connect(
        self,
        path: str,
        *,
        user: Any = None,
        token: str | None = None,
        token_via: Literal["query", "header"] = "query",
        headers: Mapping[str, str] | HeaderPairs | None = None,
        origin: str | None = None,
        subprotocols: list[str] | None = None,
        scope: Mapping[str, Any] | None = None,
        application: Any = None,
        production: bool = False,
        timeout: float = 1.0,
    ) -> WebSocketClient:
        """Open a connection and wait (up to `timeout` s of loop time) for accept or close.

        `user` logs that user (or id) in: a token (`harness_ws_auth = jwt`) or a session
        cookie (`session`); `token` sends the given string, in `?token=` or, with
        `token_via="header"`, in `Authorization: Bearer`. `origin` adds an Origin header;
        `scope` adds or overrides scope keys. `production=True` connects to the production
        application built now (origin check included); `application` to any other ASGI
        app. A refused connection is returned too: check `client.accepted`/`close_code`.
        """
        from channels.testing import WebsocketCommunicator

        target = self._target(application, production)
        header_list = _header_pairs(headers)
        if origin is not None:
            header_list.append((b"origin", origin.encode("latin-1")))
        path = await self._credentials(path, header_list, user, token, token_via)
        communicator = WebsocketCommunicator(target, path, headers=header_list, subprotocols=subprotocols)
        communicator.scope.update(
            {"client": ("127.0.0.1", next(_client_ports)), "server": ("testserver", 80)}
        )
        communicator.scope.update(scope or {})
        client = WebSocketClient(communicator, path)
        self.clients.append(client)
        await client._open(timeout)
        return client

    def _target(self, application: Any, production: bool) -> Any:
        if application is not None and production:
            raise TypeError("harness_ws.connect(): pass application= or production=True, not both")
        if production:
            if self._production is None:
                raise TypeError("harness_ws.connect(): no production application to connect to")
            return self._production()
        return application or self.application

    async def _credentials(
        self, path: str, headers: list[tuple[bytes, bytes]], user: Any, token: str | None, token_via: str
    ) -> str:
        """Add the user's or the given token's credentials to `headers` or `path`; return the path."""
        if user is not None and token is not None:
            raise TypeError("harness_ws.connect(): pass user= or token=, not both")
        if token_via not in ("query", "header"):
            raise ValueError(
                f"harness_ws.connect(): token_via must be 'query' or 'header', not {token_via!r}"
            )
        if user is not None and self._auth == "session":
            headers.append(await session_cookie(user))
            return path
        if user is not None:
            token = self._mint_token(user)
        if token is not None and token_via == "header":
            headers.append((b"authorization", f"Bearer {token}".encode("latin-1")))
        elif token is not None:
            path = _with_query_param(path, self._query_param, token)
        return path

    def _remember_tasks(self) -> None:
        self._tasks_before = asyncio.all_tasks()

    async def _close_all(self) -> list[tuple[WebSocketClient, BaseException]]:
        """Disconnect every client, then cancel tasks they left behind; return unseen app errors."""
        errors: list[tuple[WebSocketClient, BaseException]] = []
        for client in reversed(self.clients):
            error = await client._shutdown(1000, timeout=1.0)
            if error is not None:
                errors.append((client, error))
        await self._cancel_leftover_tasks()
        return errors

    async def _cancel_leftover_tasks(self) -> None:
        # Tasks consumers spawned (heartbeats, batch timers) must not outlive the test.
        current = asyncio.current_task()
        leftovers = {
            task
            for task in asyncio.all_tasks() - self._tasks_before
            if task is not current and not task.done()
        }
        for task in leftovers:
            task.cancel()
        if leftovers:
            await asyncio.wait(leftovers, timeout=1.0)


def _header_pairs(headers: Mapping[str, str] | HeaderPairs | None) -> list[tuple[bytes, bytes]]:
    items = headers.items() if isinstance(headers, Mapping) else (headers or ())
    return [(_latin1(name).lower(), _latin1(value)) for name, value in items]


def _latin1(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("latin-1")


def _with_query_param(path: str, name: str, value: str) -> str:
    parts = urlsplit(path)
    query = [*parse_qsl(parts.query, keep_blank_values=True), (name, value)]
    return urlunsplit(parts._replace(query=urlencode(query)))
