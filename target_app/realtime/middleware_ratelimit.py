"""ASGI middleware for WebSockets: connection limits, the message token bucket and the payload cap."""

from __future__ import annotations

import asyncio
import enum
import math
from typing import Any

from django.conf import settings

from target_app.realtime.protocol import CLOSE_PAYLOAD_TOO_LARGE, CLOSE_RATE_LIMITED, error_frame
from target_app.realtime.ratelimit import Limiter, connection_key, get_limiter, message_key

Message = dict[str, Any]


def client_identity(scope: Message) -> tuple[str, str]:
    """`("user", pk)` for an authenticated user, else `("ip", address)` of the anonymous client."""
    user = scope.get("user")
    if user is not None and getattr(user, "is_authenticated", False):
        return "user", str(user.pk)
    client = scope.get("client")
    return "ip", str(client[0]) if client else "unknown"


def payload_size(message: Message) -> int:
    """Bytes of a `websocket.receive` frame: UTF-8 length of text, or length of binary."""
    text = message.get("text")
    if text is not None:
        return len(text.encode("utf-8"))
    return len(message.get("bytes") or b"")


class _Verdict(enum.Enum):
    PASS = "pass"
    DROP = "drop"
    CLOSED = "closed"


class RateLimitMiddleware:
    """Limits WebSocket connections and messages in front of `inner`; other scopes pass straight through.

    Sits inside the JWT middleware (it keys on `scope["user"]`). `limiter` replaces `get_limiter()`
    (tests inject one with a controlled clock).
    """

    def __init__(self, inner: Any, *, limiter: Limiter | None = None) -> None:
        self.inner = inner
        self.limiter = limiter

    async def __call__(self, scope: Message, receive: Any, send: Any) -> Any:
        if scope["type"] != "websocket":
            return await self.inner(scope, receive, send)
        guard = _ConnectionGuard(scope, receive, send, self.limiter or get_limiter())
        return await guard.run(self.inner)


class _ConnectionGuard:
    """One connection's view through the middleware: wrapped `receive`/`send` and the held slot."""

    def __init__(self, scope: Message, receive: Any, send: Any, limiter: Limiter) -> None:
        self.scope = scope
        self.limiter = limiter
        self.kind, self.ident = client_identity(scope)
        self._receive = receive
        self._send = send
        self.accepted = False
        self.closed = False  # a websocket.close went out, from the consumer or from here
        self.close_code: int | None = None  # set when this middleware closed the connection
        self.violations = 0

    async def run(self, inner: Any) -> Any:
        if not settings.WS_RATE_ENABLED:
            return await inner(self.scope, self.receive, self.send)
        key = connection_key(self.kind, self.ident)
        limit = settings.WS_CONN_PER_USER if self.kind == "user" else settings.WS_CONN_PER_IP
        if not await self.limiter.acquire(key, limit):
            await self._refuse(limit)
            return None
        try:
            return await inner(self.scope, self.receive, self.send)
        finally:
            # Shielded: a cancelled connection still gives its slot back.
            await asyncio.shield(self.limiter.release(key))

    async def receive(self) -> Message:
        """The inner app's `receive`: drops over-rate frames, turns a close from here into a disconnect."""
        while self.close_code is None:
            message = await self._receive()
            if message["type"] != "websocket.receive" or self.closed:
                return message
            verdict = await self._check(message)
            if verdict is _Verdict.PASS:
                return message
        return {"type": "websocket.disconnect", "code": self.close_code}

    async def send(self, message: Message) -> None:
        """The inner app's `send`: silent once this middleware has closed the connection."""
        if self.close_code is not None:
            return
        if message["type"] == "websocket.accept":
            self.accepted = True
        elif message["type"] == "websocket.close":
            self.closed = True
        await self._send(message)

    async def _refuse(self, limit: int) -> None:
        if (await self._receive())["type"] != "websocket.connect":
            return  # the client left before connecting
        who = "user" if self.kind == "user" else "address"
        await self._close(
            CLOSE_RATE_LIMITED, "too_many_connections", f"at most {limit} connections per {who}"
        )
        # The inner app never runs; wait out the client so the server sees a finished exchange.
        while (await self._receive())["type"] != "websocket.disconnect":
            pass

    async def _check(self, message: Message) -> _Verdict:
        size, cap = payload_size(message), settings.WS_MAX_PAYLOAD_BYTES
        if size > cap:
            await self._close(
                CLOSE_PAYLOAD_TOO_LARGE, "payload_too_large", f"frame of {size} bytes, limit {cap}"
            )
            return _Verdict.CLOSED
        if not settings.WS_RATE_ENABLED:
            return _Verdict.PASS
        key = message_key(self.kind, self.ident)
        decision = await self.limiter.hit(key, settings.WS_MSG_RATE, settings.WS_MSG_BURST)
        if decision.allowed:
            return _Verdict.PASS
        self.violations += 1
        # Rounded up to the millisecond so a client that waits retry_after finds a token.
        data = {"retry_after": math.ceil(decision.retry_after * 1000) / 1000}
        if self.violations >= settings.WS_RATE_CLOSE_AFTER:
            await self._close(CLOSE_RATE_LIMITED, "rate_limited", "too many messages; closing", data)
            return _Verdict.CLOSED
        await self._send_error("rate_limited", "too many messages; this one was dropped", data)
        return _Verdict.DROP

    async def _close(self, code: int, error: str, text: str, data: Message | None = None) -> None:
        # The close rule: accept if needed (a close before accept is an HTTP 403), say why, then close.
        if not self.accepted:
            await self._send({"type": "websocket.accept"})
            self.accepted = True
        await self._send_error(error, text, data)
        await self._send({"type": "websocket.close", "code": code})
        self.closed = True
        self.close_code = code

    async def _send_error(self, code: str, text: str, data: Message | None = None) -> None:
        await self._send({"type": "websocket.send", "text": error_frame(code, text, data)})
