"""Many real clients of a served app at once: connect them, record what each receives, drop them."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from suites.served.app import ORIGIN, ServedApp
from suites.served.client import FRAME_TIMEOUT

POLL_SECONDS = 0.02


@dataclass
class Listener:
    """One connected client: every frame it received, with the monotonic time it arrived."""

    ws: ClientConnection
    frames: list[tuple[float, dict]] = field(default_factory=list)
    reader: asyncio.Task | None = None

    def of_type(self, frame_type: str) -> list[tuple[float, dict]]:
        return [(at, frame) for at, frame in self.frames if frame["type"] == frame_type]

    async def listen(self) -> None:
        """Record frames until the connection ends; answer the server's pings as a live client does."""
        try:
            async for raw in self.ws:
                frame = json.loads(raw)
                self.frames.append((time.monotonic(), frame))
                if frame["type"] == "ping":
                    await self.ws.send(json.dumps({"type": "pong"}))
        except ConnectionClosed:
            pass


class Crowd:
    """Clients of one served app, opened together with a bound on handshakes in flight.

    Use as `async with Crowd(app) as crowd:`; whatever is still open at the end is dropped.
    """

    def __init__(self, app: ServedApp) -> None:
        self.app = app
        self.listeners: list[Listener] = []

    async def __aenter__(self) -> Crowd:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.drop(graceful_share=1.0)

    async def join(self, seats: list[tuple[str, str]], in_flight: int) -> list[float]:
        """Connect one client per `(path, token)`, `in_flight` handshakes at a time, each until its
        `connection_established`; returns each one's milliseconds from dialling to the welcome."""
        gate = asyncio.Semaphore(in_flight)

        async def seat(path: str, token: str) -> float:
            async with gate:
                started = time.monotonic()
                ws = await connect(
                    self.app.ws_url(path, token),
                    origin=ORIGIN,
                    open_timeout=4 * FRAME_TIMEOUT,
                    close_timeout=FRAME_TIMEOUT,
                    ping_interval=None,
                )
                listener = Listener(ws)
                self.listeners.append(listener)  # before anything can fail: dropped at the end
                async with asyncio.timeout(4 * FRAME_TIMEOUT):
                    welcome = json.loads(await ws.recv())
                assert welcome["type"] == "connection_established", (path, welcome)
                elapsed = (time.monotonic() - started) * 1000
                listener.reader = asyncio.create_task(listener.listen())
                return elapsed

        async with asyncio.TaskGroup() as group:  # one failure cancels the other handshakes
            seated = [group.create_task(seat(path, token)) for path, token in seats]
        return [task.result() for task in seated]

    async def until(self, done: Callable[[Listener], bool], timeout: float, what: str) -> None:
        """Wait until `done(listener)` holds for every client; fail naming `what` after `timeout` s."""
        deadline = time.monotonic() + timeout
        while not all(done(listener) for listener in self.listeners):
            if time.monotonic() > deadline:
                missing = sum(not done(listener) for listener in self.listeners)
                pytest.fail(f"{missing} of {len(self.listeners)} clients never {what} within {timeout}s")
            await asyncio.sleep(POLL_SECONDS)

    async def drop(self, graceful_share: float) -> None:
        """Disconnect everyone at once: the first `graceful_share` with a close handshake, the rest
        by dropping the TCP connection (a client that vanished)."""
        listeners, self.listeners = self.listeners, []
        graceful = round(len(listeners) * graceful_share)
        for listener in listeners[graceful:]:
            listener.ws.transport.abort()
        await asyncio.gather(*(listener.ws.close() for listener in listeners[:graceful]))
        await asyncio.gather(*(listener.reader for listener in listeners if listener.reader))
