"""Checks and test doubles shared by the module suites: frames, rooms, rate limits, clocks, recorders."""

import asyncio
import time

from target_app.realtime import ratelimit, utils
from target_app.realtime.consumers import RealtimeConsumer
from target_app.realtime.ratelimit import room_key

ERROR_KEYS = {"type", "code", "message"}


class _AnyText:
    """Equal to any non-empty string: for checks about an error's code (its fixed text, listed in
    docs/protocol.md "Error messages", is checked by the tests of where it is made)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and bool(other.strip())

    def __repr__(self) -> str:
        return "<non-empty text>"


TEXT = _AnyText()


def error(code: str, message: str | _AnyText = TEXT, **data) -> dict:
    """The error frame with `code`, `message` (by default any text), and `data` when given."""
    frame = {"type": "error", "code": code, "message": message}
    return {**frame, "data": data} if data else frame


def assert_error(frame: dict, code: str, data: dict | None = None) -> None:
    """`frame` is exactly `{"type": "error", "code": code, "message": <text>}` (plus `data` if given)."""
    assert frame["type"] == "error" and frame["code"] == code, frame
    assert isinstance(frame["message"], str) and frame["message"], frame
    assert set(frame) == (ERROR_KEYS | {"data"} if data is not None else ERROR_KEYS), frame
    if data is not None:
        assert frame["data"] == data, frame


def match_path(match) -> str:
    """The WebSocket path of `match`'s room."""
    return f"/ws/match/{match.pk}/"


def tournament_path(tournament) -> str:
    """The WebSocket path of a tournament's room (a tournament or its id)."""
    return f"/ws/tournament/{getattr(tournament, 'pk', tournament)}/"


async def join_with_welcome(harness_ws, target, **connect) -> tuple:
    """Connect to `target` (a path or a match) and read `connection_established`; the client and its data."""
    path = target if isinstance(target, str) else match_path(target)
    client = await harness_ws.connect(path, **connect)
    assert client.accepted and not client.closed, client
    welcome = await client.receive_json()
    assert welcome["type"] == "connection_established", welcome
    return client, welcome["data"]


async def join(harness_ws, target, user=None, **connect):
    """A client admitted to `target` (a path or a match) as `user`, its welcome frame already read."""
    if user is not None:
        connect["user"] = user
    client, _ = await join_with_welcome(harness_ws, target, **connect)
    return client


def heartbeat_tasks() -> list[asyncio.Task]:
    """Heartbeat tasks of consumers still alive in this loop: tasks running `RealtimeConsumer._heartbeat`."""
    heartbeat = RealtimeConsumer._heartbeat.__code__
    return [
        task
        for task in asyncio.all_tasks()
        if not task.done() and getattr(task.get_coro(), "cr_code", None) is heartbeat
    ]


def members(layer, target) -> set[str]:
    """Channels in a group of the in-memory `layer`: a group name, or a match's group."""
    group = target if isinstance(target, str) else utils.match_group(target.pk)
    return set(layer.groups.get(group, {}))


async def assert_refused(
    client, close_code: int, error_code: str, layer=None, *, message: str | _AnyText = TEXT
) -> None:
    """Accepted, exactly one error frame, the close code; then the client completes the close handshake.

    A close before accept would be an HTTP 403 and hide the code. Until the client completes the
    handshake, as a real one does, the server still counts the connection against the user's limit.
    With `layer`, also: the refused client never joined a group nor started a heartbeat. With `message`,
    the error frame says exactly that.
    """
    assert client.accepted
    frames = await client.expect_close(close_code)
    assert frames == [error(error_code, message)], frames
    assert_error(frames[0], error_code)
    if layer is not None:
        assert layer.groups == {}
        assert heartbeat_tasks() == []
    await client.disconnect()


# -- rate limits ----------------------------------------------------------------------------------


def pong(timestamp=None) -> dict:
    """The answer to a ping carrying `timestamp`."""
    return {"type": "pong", "data": {"timestamp": timestamp}}


def rate_limited(retry_after: float) -> dict:
    """The error frame for a frame over the message rate."""
    return error("rate_limited", retry_after=retry_after)


async def ping(client, timestamp) -> dict:
    """Send a ping with `timestamp`; the next frame (its pong, or the error it got instead)."""
    await client.send_json({"type": "ping", "timestamp": timestamp})
    return await client.receive_json()


async def assert_too_many_connections(client) -> None:
    """Refused by the connection limit before the consumer ran."""
    assert client.accepted  # the close rule: accept, say why, then close
    assert await client.expect_close(4029) == [error("too_many_connections")]


async def room_count(match) -> int:
    """Places taken in `match`'s room in the serving backend."""
    return await group_count(utils.match_group(match.pk))


async def group_count(group: str) -> int:
    """Places taken in the room of channel-layer group `group` in the serving backend."""
    return await ratelimit.get_limiter().count(room_key(group))


# -- test doubles -----------------------------------------------------------------------------------


class Clock:
    """A clock the test moves by hand (the limiter's clock is injectable for exactly this)."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Recorder:
    """An ASGI app wrapped to keep every message it sends, to check what follows a close."""

    def __init__(self, app) -> None:
        self.app = app
        self.sent: list[dict] = []

    async def __call__(self, scope, receive, send):
        async def recording_send(message):
            self.sent.append(message)
            await send(message)

        return await self.app(scope, receive, recording_send)

    def after_close(self) -> list[dict]:
        """What the app sent after its one close (asserting there was exactly one)."""
        types = [message["type"] for message in self.sent]
        assert types.count("websocket.close") == 1, types
        return self.sent[types.index("websocket.close") + 1 :]


class StillClock:
    """Holds virtual time still while real Redis I/O is in flight; only `advance()` moves it.

    looptime jumps to the next timer as soon as the loop idles, even while a Redis reply is on its
    way, and that timer is often redis-py's own socket timeout. A task that always has a callback
    ready keeps the loop from idling. After REAL_GUARD real seconds it gives up, so a test waiting
    for something that never comes still times out instead of hanging.
    """

    REAL_GUARD = 5.0

    def __init__(self) -> None:
        self._task: asyncio.Task | None = None

    def hold(self) -> None:
        """Keep the loop busy so virtual time stands still."""
        self._task = asyncio.ensure_future(self._spin())

    async def release(self) -> None:
        """Let virtual time run again."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def advance(self, seconds: float) -> None:
        """Let `seconds` of loop time pass (nothing may be talking to Redis meanwhile)."""
        await self.release()
        await asyncio.sleep(seconds)
        self.hold()

    async def _spin(self) -> None:
        give_up = time.monotonic() + self.REAL_GUARD
        while time.monotonic() < give_up:
            await asyncio.sleep(0)
