"""RateLimitMiddleware in front of a tiny echo consumer, on the in-process backend and a hand-moved clock."""

import asyncio
import json
from dataclasses import dataclass

import pytest
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from target_app.realtime import ratelimit
from target_app.realtime.middleware_ratelimit import RateLimitMiddleware, client_identity, payload_size
from target_app.realtime.ratelimit import Limiter
from target_app.realtime.ratelimit_backends import MemoryBackend, RateDecision
from tests.app.limits import FakeClock


@dataclass(frozen=True)
class StandInUser:
    """Just what the middleware reads from an authenticated user."""

    pk: int
    is_authenticated: bool = True


class EchoConsumer(AsyncWebsocketConsumer):
    """Echoes frames and records its lifecycle; after a server-side close it still tries to send."""

    channel_layer_alias = "no-channel-layer-in-these-tests"
    log: list | None = None

    def __init__(self, *, log: list) -> None:
        super().__init__()
        self.log = log

    async def connect(self):
        self.log.append("connect")
        await self.accept()

    async def receive(self, text_data=None, bytes_data=None):
        self.log.append(("receive", text_data if text_data is not None else bytes_data))
        await self.send(text_data=text_data, bytes_data=bytes_data)

    async def disconnect(self, code):
        self.log.append(("disconnect", code))
        if code >= 4000:
            await self.send(text_data="sent after the middleware closed")


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.REDIS_URL = None
    settings.WS_RATE_ENABLED = True
    settings.WS_CONN_PER_USER = 2
    settings.WS_CONN_PER_IP = 2
    settings.WS_MSG_RATE = 1
    settings.WS_MSG_BURST = 3
    settings.WS_RATE_CLOSE_AFTER = 3
    settings.WS_MAX_PAYLOAD_BYTES = 10
    yield
    ratelimit.reset_limiters()


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def limiter(clock):
    return Limiter(MemoryBackend(), clock=clock)


def stack(inner, limiter, *, user, client=("203.0.113.5", 40000)):
    """The middleware as the JWT middleware would leave it: `scope["user"]` and `scope["client"]` set."""
    app = RateLimitMiddleware(inner, limiter=limiter)

    async def with_auth(scope, receive, send):
        return await app({**scope, "user": user, "client": client}, receive, send)

    return with_auth


async def open_echo(limiter, log, user=StandInUser(1), client=("203.0.113.5", 40000)):
    communicator = WebsocketCommunicator(
        stack(EchoConsumer.as_asgi(log=log), limiter, user=user, client=client), "/ws/"
    )
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def expect_refused(communicator, code: str, message_part: str):
    """accept → error frame → close 4029, as a real client would see it."""
    connected, _ = await communicator.connect()
    assert connected  # accepted first, so a real client sees the close code and not an HTTP 403
    error = await communicator.receive_json_from()
    assert error["type"] == "error" and error["code"] == code and message_part in error["message"]
    assert await communicator.receive_output() == {"type": "websocket.close", "code": 4029}


async def test_http_scope_passes_through_untouched(limiter):
    seen = []

    async def inner(scope, receive, send):
        seen.append(scope)

    await RateLimitMiddleware(inner, limiter=limiter)({"type": "http", "path": "/"}, None, None)
    assert seen == [{"type": "http", "path": "/"}]


async def test_user_over_connection_limit_is_refused_before_the_consumer_runs(limiter):
    log: list = []
    first, second = await open_echo(limiter, log), await open_echo(limiter, log)
    third = WebsocketCommunicator(stack(EchoConsumer.as_asgi(log=log), limiter, user=StandInUser(1)), "/ws/")
    try:
        await expect_refused(third, "too_many_connections", "2 connections per user")
        assert log.count("connect") == 2  # the third never reached the consumer
        assert await limiter.count("ws:conn:user:1") == 2
        # Another user is counted apart.
        other = await open_echo(limiter, log, user=StandInUser(2))
        await other.disconnect()
    finally:
        await third.disconnect()
        await first.disconnect()
    assert await limiter.count("ws:conn:user:1") == 1
    fourth = await open_echo(limiter, log)  # a slot was freed
    await fourth.disconnect()
    await second.disconnect()
    assert await limiter.count("ws:conn:user:1") == 0


async def test_anonymous_clients_are_limited_per_ip(limiter):
    log: list = []
    here = ("198.51.100.7", 1)
    opened = [await open_echo(limiter, log, user=AnonymousUser(), client=here) for _ in range(2)]
    refused = WebsocketCommunicator(
        stack(EchoConsumer.as_asgi(log=log), limiter, user=AnonymousUser(), client=here), "/"
    )
    try:
        await expect_refused(refused, "too_many_connections", "2 connections per address")
        elsewhere = await open_echo(limiter, log, user=AnonymousUser(), client=("198.51.100.8", 1))
        await elsewhere.disconnect()
        assert await limiter.count("ws:conn:ip:198.51.100.7") == 2
    finally:
        await refused.disconnect()
        for communicator in opened:
            await communicator.disconnect()
    assert await limiter.count("ws:conn:ip:198.51.100.7") == 0


async def test_slot_released_when_the_inner_app_raises(limiter):
    async def crashing(scope, receive, send):
        await receive()
        await send({"type": "websocket.accept"})
        raise RuntimeError("consumer bug")

    communicator = WebsocketCommunicator(stack(crashing, limiter, user=StandInUser(1)), "/ws/")
    await communicator.connect()
    assert await limiter.count("ws:conn:user:1") == 1
    with pytest.raises(RuntimeError, match="consumer bug"):
        await communicator.wait()
    assert await limiter.count("ws:conn:user:1") == 0


async def test_slot_released_when_the_consumer_closes(limiter):
    async def closing(scope, receive, send):
        await receive()
        await send({"type": "websocket.close", "code": 4004})

    communicator = WebsocketCommunicator(stack(closing, limiter, user=StandInUser(1)), "/ws/")
    assert await communicator.connect() == (False, 4004)
    await communicator.wait()
    assert await limiter.count("ws:conn:user:1") == 0


async def test_slot_released_when_the_connection_is_cancelled(limiter):
    async def stuck(scope, receive, send):
        await receive()
        await send({"type": "websocket.accept"})
        await asyncio.Future()  # never returns, as a hung consumer

    communicator = WebsocketCommunicator(stack(stuck, limiter, user=StandInUser(1)), "/ws/")
    await communicator.connect()
    communicator.future.cancel()
    with pytest.raises(asyncio.CancelledError):
        await communicator.future
    await asyncio.sleep(0)  # the shielded release finishes on its own task
    assert await limiter.count("ws:conn:user:1") == 0


async def test_over_rate_frames_are_dropped_then_connection_closed(limiter, clock):
    log: list = []
    communicator = await open_echo(limiter, log)
    try:
        for text in ("a", "b", "c"):  # the burst
            await communicator.send_to(text_data=text)
            assert await communicator.receive_from() == text
        await communicator.send_to(text_data="d")
        dropped = await communicator.receive_json_from()
        assert dropped["type"] == "error" and dropped["code"] == "rate_limited"
        assert dropped["data"] == {"retry_after": 1.0}
        assert ("receive", "d") not in log

        clock.now += 1.0  # one token back
        await communicator.send_to(text_data="e")
        assert await communicator.receive_from() == "e"

        await communicator.send_to(text_data="f")  # second violation: dropped, still open
        assert (await communicator.receive_json_from())["code"] == "rate_limited"
        clock.now += 0.25
        await communicator.send_to(text_data="g")  # third: error, then close 4029
        closing = await communicator.receive_json_from()
        assert closing["code"] == "rate_limited" and closing["data"] == {"retry_after": 0.75}
        assert await communicator.receive_output() == {"type": "websocket.close", "code": 4029}
        await communicator.wait()
    finally:
        await communicator.disconnect()
    assert log == ["connect", ("receive", "a"), ("receive", "b"), ("receive", "c"), ("receive", "e"),
                   ("disconnect", 4029)]  # fmt: skip
    assert communicator.output_queue.empty()  # the consumer's send after the close was dropped
    assert await limiter.count("ws:conn:user:1") == 0


async def test_message_bucket_is_shared_by_a_users_connections(limiter):
    log: list = []
    first, second = await open_echo(limiter, log), await open_echo(limiter, log)
    try:
        for communicator in (first, second, first):
            await communicator.send_to(text_data="x")
            assert await communicator.receive_from() == "x"
        await second.send_to(text_data="y")
        assert (await second.receive_json_from())["code"] == "rate_limited"
    finally:
        await first.disconnect()
        await second.disconnect()


@pytest.mark.parametrize(
    ("frame", "size"),
    [({"text": "ééééé!"}, 11), ({"bytes": b"\x00" * 11}, 11)],
    ids=["text-utf8", "binary"],
)
async def test_payload_cap_holds_with_rate_limiting_off(settings, limiter, frame, size):
    settings.WS_RATE_ENABLED = False
    log: list = []
    opened = [await open_echo(limiter, log) for _ in range(3)]  # over WS_CONN_PER_USER: not counted
    communicator = opened[0]
    try:
        for _ in range(5):  # over the burst: not limited
            await communicator.send_to(text_data="ééééé")  # 10 bytes: exactly the cap
            assert await communicator.receive_from() == "ééééé"
        await communicator.send_input({"type": "websocket.receive", **frame})
        error = await communicator.receive_json_from()
        assert (
            error["type"] == "error"
            and error["code"] == "payload_too_large"
            and str(size) in error["message"]
        )
        assert await communicator.receive_output() == {"type": "websocket.close", "code": 4009}
        await communicator.wait()
    finally:
        for each in opened:
            await each.disconnect()
    assert ("disconnect", 4009) in log
    assert await limiter.count("ws:conn:user:1") == 0


async def test_oversized_frame_does_not_spend_a_token(limiter):
    log: list = []
    communicator = await open_echo(limiter, log)
    try:
        await communicator.send_to(text_data="x" * 11)
        assert (await communicator.receive_json_from())["code"] == "payload_too_large"
        assert await communicator.receive_output() == {"type": "websocket.close", "code": 4009}
    finally:
        await communicator.disconnect()
    assert await limiter.hit("ws:msg:user:1", 1, 3) == RateDecision(True, 0.0)
    assert [(await limiter.hit("ws:msg:user:1", 1, 3)).allowed for _ in range(3)] == [True, True, False]


async def test_middleware_close_accepts_first_when_the_consumer_has_not(limiter):
    sent = []

    async def never_accepts(scope, receive, send):
        sent.append(await receive())
        await send({"type": "websocket.send", "text": "too early"})

    communicator = WebsocketCommunicator(stack(never_accepts, limiter, user=StandInUser(1)), "/ws/")
    try:
        await communicator.send_to(text_data="x" * 11)
        assert await communicator.receive_output() == {"type": "websocket.accept"}
        assert json.loads((await communicator.receive_output())["text"])["code"] == "payload_too_large"
        assert await communicator.receive_output() == {"type": "websocket.close", "code": 4009}
        await communicator.wait()
    finally:
        await communicator.disconnect()
    assert sent == [{"type": "websocket.disconnect", "code": 4009}]
    assert communicator.output_queue.empty()


@pytest.mark.looptime
async def test_rate_limit_runs_on_virtual_loop_time(settings):
    settings.WS_MSG_BURST = 1
    limiter = Limiter(MemoryBackend())  # the default clock: the running loop's time
    log: list = []
    communicator = await open_echo(limiter, log)
    try:
        await communicator.send_to(text_data="a")
        assert await communicator.receive_from() == "a"
        await communicator.send_to(text_data="b")
        assert (await communicator.receive_json_from())["data"] == {"retry_after": 1.0}
        await asyncio.sleep(1)  # virtual: looptime fast-forwards
        await communicator.send_to(text_data="c")
        assert await communicator.receive_from() == "c"
    finally:
        await communicator.disconnect()


async def test_middleware_uses_get_limiter_by_default():
    log: list = []
    app = RateLimitMiddleware(EchoConsumer.as_asgi(log=log))
    communicator = WebsocketCommunicator(app, "/ws/")
    communicator.scope.update(user=StandInUser(9), client=("192.0.2.1", 1))
    await communicator.connect()
    try:
        assert await ratelimit.get_limiter().count("ws:conn:user:9") == 1
    finally:
        await communicator.disconnect()
    assert await ratelimit.get_limiter().count("ws:conn:user:9") == 0


def test_identity_and_payload_size():
    assert client_identity({"user": StandInUser(3), "client": ("192.0.2.1", 5)}) == ("user", "3")
    assert client_identity({"user": AnonymousUser(), "client": ("192.0.2.1", 5)}) == ("ip", "192.0.2.1")
    assert client_identity({}) == ("ip", "unknown")
    assert payload_size({"type": "websocket.receive", "text": "é"}) == 2
    assert payload_size({"type": "websocket.receive", "bytes": b"abc", "text": None}) == 3
