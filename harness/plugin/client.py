"""WebSocket test clients over Channels' WebsocketCommunicator that never leave a connection behind."""

from __future__ import annotations

import asyncio
import json
from typing import Any

_ACCEPT = "websocket.accept"
_CLOSE = "websocket.close"
_SEND = "websocket.send"


class WebSocketTimeout(AssertionError):
    """Nothing arrived from the application within the (event-loop) time allowed."""


class WebSocketClient:
    """One connection to the application under test; create it with `harness_ws.connect()`."""

    def __init__(self, communicator: Any, path: str) -> None:
        self.path = path
        self.accepted = False
        self.subprotocol: str | None = None
        self.close_code: int | None = None
        self._communicator = communicator
        self._started = False
        self._finished = False
        self._error_reported = False

    def __repr__(self) -> str:
        state = "closed" if self.closed else "accepted" if self.accepted else "new"
        return f"<WebSocketClient {self.path} {state} close_code={self.close_code}>"

    @property
    def scope(self) -> dict[str, Any]:
        """The ASGI scope the application saw (path, query string, headers, client, ...)."""
        return self._communicator.scope

    @property
    def closed(self) -> bool:
        """True once the server has closed the connection (or refused it)."""
        return self.close_code is not None

    async def _open(self, timeout: float) -> None:
        self._started = True
        await self._communicator.send_input({"type": "websocket.connect"})
        message = await self._next(timeout, "the accept")
        if message["type"] == _CLOSE:
            self._mark_closed(message)
        elif message["type"] == _ACCEPT:
            self.accepted = True
            self.subprotocol = message.get("subprotocol")
        else:
            raise AssertionError(f"{self.path}: expected accept or close, got {message!r}")

    # -- receiving ---------------------------------------------------------------------------

    async def receive_frame(self, timeout: float = 1.0) -> str | bytes:
        """The next text (str) or binary (bytes) frame; fails if the server closes instead."""
        self._require_open("receive a frame")
        message = await self._next(timeout, "a frame")
        if message["type"] == _CLOSE:
            self._mark_closed(message)
            raise AssertionError(
                f"{self.path}: expected a frame, the server closed with code {self.close_code}"
            )
        return _payload(message, self.path)

    async def receive_json(self, timeout: float = 1.0) -> Any:
        """The next frame decoded as JSON; fails on binary or non-JSON frames."""
        frame = await self.receive_frame(timeout)
        if isinstance(frame, bytes):
            raise AssertionError(f"{self.path}: expected a JSON text frame, got binary {frame[:200]!r}")
        try:
            return json.loads(frame)
        except ValueError:
            raise AssertionError(f"{self.path}: expected a JSON text frame, got {frame[:200]!r}") from None

    async def expect_close(self, code: int | None = None, timeout: float = 1.0) -> list[Any]:
        """Wait up to `timeout` s (loop time) for the server to close; check `code` if given.

        Frames that arrive first (an error frame before the close, pings) are
        collected and returned, JSON-decoded where they are JSON.
        """
        frames: list[Any] = []
        deadline = asyncio.get_running_loop().time() + timeout
        while not self.closed:
            remaining = max(0.0, deadline - asyncio.get_running_loop().time())
            message = await self._next(remaining, f"a close (got {len(frames)} frames first: {frames!r})")
            if message["type"] == _CLOSE:
                self._mark_closed(message)
            else:
                frames.append(_decoded(_payload(message, self.path)))
        if code is not None and self.close_code != code:
            raise AssertionError(
                f"{self.path}: expected close code {code}, got {self.close_code}; "
                f"frames before it: {frames!r}"
            )
        return frames

    async def assert_nothing_received(self, seconds: float = 0.1) -> None:
        """Fail if any frame or close arrives within `seconds` of event-loop time."""
        if self.closed:
            return
        message = await self._wait_message(seconds)
        if message is None:
            return
        if message["type"] == _CLOSE:
            self._mark_closed(message)
            raise AssertionError(
                f"{self.path}: expected nothing for {seconds} s, the server closed ({self.close_code})"
            )
        frame = _decoded(_payload(message, self.path))
        raise AssertionError(f"{self.path}: expected nothing for {seconds} s, received {frame!r}")

    # -- sending -----------------------------------------------------------------------------

    async def send_text(self, text: str) -> None:
        """Send a text frame (any string, including empty or invalid JSON)."""
        await self._send({"type": "websocket.receive", "text": text})

    async def send_bytes(self, data: bytes) -> None:
        """Send a binary frame."""
        await self._send({"type": "websocket.receive", "bytes": data})

    async def send_json(self, data: Any) -> None:
        """Send `data` encoded as JSON in a text frame."""
        await self.send_text(json.dumps(data))

    async def _send(self, message: dict[str, Any]) -> None:
        self._require_open("send")
        self._raise_if_crashed()
        await self._communicator.send_input(message)

    # -- closing -----------------------------------------------------------------------------

    async def disconnect(self, code: int = 1000, timeout: float = 1.0) -> None:
        """Close from the client side and wait for the application to finish; safe to call twice.

        A CancelledError from the application (a consumer awaiting its own cancelled
        heartbeat task, say) is swallowed; any other exception it raised and the test
        has not seen yet is raised here.
        """
        error = await self._shutdown(code, timeout)
        if error is not None:
            raise error

    async def _shutdown(self, code: int, timeout: float) -> BaseException | None:
        """Disconnect and return the app's unreported exception, if any; never raises."""
        if self._finished or not self._started:
            self._finished = True
            return None
        self._finished = True
        app = self._communicator.future
        if not app.done():
            # A real server tells the app the code the connection ended with.
            final_code = self.close_code if self.closed else code
            await self._communicator.input_queue.put({"type": "websocket.disconnect", "code": final_code})
            await asyncio.wait({app}, timeout=timeout)
        if not app.done():
            app.cancel()
            await asyncio.wait({app})
        if app.cancelled() or self._error_reported:
            return None
        return app.exception()

    # -- internals ---------------------------------------------------------------------------

    async def _wait_message(self, timeout: float) -> dict[str, Any] | None:
        """The app's next message; None if `timeout` passes or the app ended without one."""
        app = self._communicator.future
        queue = self._communicator.output_queue
        if not queue.empty():
            return queue.get_nowait()
        self._raise_if_crashed()
        if app.done():
            return None
        getter = asyncio.ensure_future(queue.get())
        try:
            await asyncio.wait({getter, app}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not getter.done():
                getter.cancel()  # an item it was woken for stays in the queue
        if getter.done() and not getter.cancelled():
            return getter.result()
        if not queue.empty():
            return queue.get_nowait()
        self._raise_if_crashed()
        return None

    async def _next(self, timeout: float, waiting_for: str) -> dict[str, Any]:
        message = await self._wait_message(timeout)
        if message is not None:
            return message
        if self._communicator.future.done():
            raise AssertionError(f"{self.path}: the application ended without sending {waiting_for}")
        raise WebSocketTimeout(
            f"{self.path}: nothing received within {timeout:g} s (loop time) waiting for {waiting_for}"
        )

    def _raise_if_crashed(self) -> None:
        app = self._communicator.future
        if app.done() and not app.cancelled() and app.exception() is not None:
            self._error_reported = True
            raise app.exception()

    def _require_open(self, action: str) -> None:
        if self.closed:
            raise AssertionError(
                f"{self.path}: cannot {action}, the server closed with code {self.close_code}"
            )
        if self._finished:
            raise AssertionError(f"{self.path}: cannot {action}, the client has disconnected")

    def _mark_closed(self, message: dict[str, Any]) -> None:
        self.close_code = message.get("code") or 1000


def _payload(message: dict[str, Any], path: str) -> str | bytes:
    if message["type"] != _SEND:
        raise AssertionError(f"{path}: expected a websocket.send message, got {message!r}")
    text = message.get("text")
    return text if text is not None else message["bytes"]


def _decoded(frame: str | bytes) -> Any:
    if isinstance(frame, bytes):
        return frame
    try:
        return json.loads(frame)
    except ValueError:
        return frame
