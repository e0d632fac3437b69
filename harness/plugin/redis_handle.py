"""`harness_redis`: a per-test view of the session's private redis-server, with an outage switch."""

from __future__ import annotations

import os
from typing import Any

import pytest


def start_session_server() -> Any:
    """Start the session's RedisServer; skip (fail under CI=true) when redis-server is missing."""
    from .redis_server import RedisServer, RedisServerError, find_redis_server

    executable = find_redis_server()
    if executable is None:
        reason = "harness_redis: redis-server is not installed (not on PATH)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI=true requires it", pytrace=False)
        pytest.skip(reason)
    try:
        return RedisServer(executable).start()
    except RedisServerError as err:
        pytest.fail(f"harness_redis: {err}", pytrace=False)


class RedisHandle:
    """The private Redis of this test session: empty at the start of every test."""

    def __init__(self, server: Any) -> None:
        self._server = server
        self._clients: list[Any] = []

    @property
    def url(self) -> str:
        """`redis://127.0.0.1:<port>/0`."""
        return self._server.url

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def running(self) -> bool:
        return self._server.running

    def client(self) -> Any:
        """A new synchronous redis-py client for this server (closed by you, or at teardown)."""
        import redis

        client = redis.Redis.from_url(self.url)
        self._clients.append(client)
        return client

    def flush(self) -> None:
        """Drop every key and cached Lua script."""
        self._server.flush()

    def down(self) -> None:
        """Stop the server: clients now get connection errors, as when Redis goes away."""
        self._server.stop()

    def up(self) -> None:
        """Start the server again on the same port (empty: it keeps no data)."""
        if not self._server.running:
            self._server.start()

    def _reset(self) -> None:
        for client in self._clients:
            client.close()
        self._clients.clear()
        self.up()
        self._server.flush()
