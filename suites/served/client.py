"""A real `websockets` client of the served app, with frame helpers that fail the test clearly."""

from __future__ import annotations

import asyncio
import json
import secrets

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

FRAME_TIMEOUT = 5.0  # a real server answers in milliseconds; this only bounds a failing test
QUIET_SECONDS = 0.4  # longer than the 100 ms score window, so a second batch would have arrived


class Client:
    """A real `websockets` client connection with frame helpers that fail the test with a clear message."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.welcome: dict | None = None

    async def send(self, frame: dict | list | str | bytes) -> None:
        await self.ws.send(frame if isinstance(frame, str | bytes) else json.dumps(frame))

    async def recv(self, timeout: float = FRAME_TIMEOUT) -> dict:
        try:
            async with asyncio.timeout(timeout):
                raw = await self.ws.recv()
        except ConnectionClosed as exc:
            pytest.fail(f"connection closed ({_close_code(exc)}) while a frame was expected")
        except TimeoutError:
            pytest.fail(f"no frame from the server within {timeout}s")
        assert isinstance(raw, str), f"server sent a binary frame: {raw!r}"
        return json.loads(raw)

    async def expect(self, frame_type: str) -> dict:
        """The next frame, which must have this type; returns its `data`."""
        frame = await self.recv()
        assert frame["type"] == frame_type, frame
        return frame["data"]

    async def expect_error(self, code: str) -> dict:
        """The next frame, which must be `{"type": "error", "code": code, "message": <text>}`."""
        frame = await self.recv()
        assert frame["type"] == "error" and frame["code"] == code, frame
        assert isinstance(frame["message"], str) and frame["message"], frame
        return frame

    async def close_code(self, timeout: float = FRAME_TIMEOUT) -> int | None:
        """Wait for the server's close and return its code; any frame before it fails the test."""
        try:
            async with asyncio.timeout(timeout):
                raw = await self.ws.recv()
        except ConnectionClosed as exc:
            return _close_code(exc)
        except TimeoutError:
            pytest.fail(f"the server did not close within {timeout}s")
        pytest.fail(f"expected the server to close, got {raw!r}")

    async def until_closed(self, timeout: float = FRAME_TIMEOUT) -> tuple[list[dict], int | None]:
        """Every frame up to the server's close, and the close code."""
        frames: list[dict] = []
        try:
            async with asyncio.timeout(timeout):
                while True:
                    frames.append(json.loads(await self.ws.recv()))
        except ConnectionClosed as exc:
            return frames, _close_code(exc)
        except TimeoutError:
            pytest.fail(f"the server did not close within {timeout}s; frames so far: {frames}")

    async def quiet(self, seconds: float = QUIET_SECONDS) -> None:
        """Assert that no frame arrives for `seconds`."""
        try:
            async with asyncio.timeout(seconds):
                raw = await self.ws.recv()
        except TimeoutError:
            return
        pytest.fail(f"unexpected frame {raw!r}")

    async def ping_pong(self) -> None:
        """Prove the connection is open and served: a ping with a fresh timestamp comes back as its pong."""
        stamp = secrets.token_hex(4)
        await self.send({"type": "ping", "timestamp": stamp})
        assert await self.recv() == {"type": "pong", "data": {"timestamp": stamp}}


def _close_code(exc: ConnectionClosed) -> int | None:
    return exc.rcvd.code if exc.rcvd is not None else None
