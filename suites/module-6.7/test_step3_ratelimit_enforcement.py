"""Module 6.7 step 3: rate limits enforced by RateLimitMiddleware, with the in-process backend."""

import asyncio
import json
import logging
import time

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from suites.realtime_checks import (
    Recorder,
    assert_too_many_connections,
    error,
    heartbeat_tasks,
    join,
    match_path,
    members,
    ping,
    pong,
    rate_limited,
    room_count,
)
from target_app.realtime import ratelimit, utils
from target_app.realtime.middleware_ratelimit import RateLimitMiddleware
from target_app.realtime.ratelimit import connection_key
from target_app.realtime.ratelimit_backends import MemoryBackend, take_token

pytestmark = pytest.mark.looptime

HEARTBEAT_TIMEOUT = 50


def ping_of_size(size: int) -> str:
    """A ping frame of exactly `size` UTF-8 bytes."""
    padding = size - len(json.dumps({"type": "ping", "timestamp": ""}))
    frame = json.dumps({"type": "ping", "timestamp": "x" * padding})
    assert len(frame.encode()) == size
    return frame


async def held(kind: str, ident) -> int:
    """Connection slots of a user (`kind="user"`) or an address (`"ip"`) in the serving backend."""
    return await ratelimit.get_limiter().count(connection_key(kind, str(ident)))


async def settle() -> None:
    """Let the consumer finish handling the disconnect the middleware handed it.

    Channels runs `close_old_connections` in a thread before each handler, and while a thread is
    busy looptime moves virtual time along with real time: a 10 ms wait lost the race on a loaded
    machine. A virtual second costs nothing once the thread is back, and covers a slow one.
    """
    await asyncio.sleep(1)


async def echo_app(scope, receive, send):
    """A bare ASGI WebSocket app for the middleware alone: accepts and echoes text frames."""
    while True:
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif message["type"] == "websocket.receive":
            await send({"type": "websocket.send", "text": message.get("text") or ""})
        else:
            return


class TestConnectionLimitPerUser:
    """A user's connections beyond WS_CONN_PER_USER are accepted, told `too_many_connections`, closed 4029."""

    async def test_connection_over_the_user_limit_is_refused_before_the_consumer_runs(
        self, harness_ws, harness_rate_limits, harness_channel_layer, cast, match
    ):
        harness_rate_limits(conn_per_user=2)
        await join(harness_ws, match, cast.alice)
        await join(harness_ws, match, cast.alice)
        third = await harness_ws.connect(match_path(match), user=cast.alice)
        await assert_too_many_connections(third)
        assert len(members(harness_channel_layer, match)) == 2  # the consumer never ran for the third
        assert len(heartbeat_tasks()) == 2
        assert await held("user", cast.alice.pk) == 2

    async def test_default_limit_is_three_connections(self, harness_ws, cast, match):
        for _ in range(3):
            await join(harness_ws, match, cast.alice)
        await assert_too_many_connections(await harness_ws.connect(match_path(match), user=cast.alice))

    async def test_limit_counts_every_endpoint_and_room(
        self, harness_ws, harness_rate_limits, cast, tournament, match, other_match
    ):
        harness_rate_limits(conn_per_user=2)
        await join(harness_ws, match, cast.alice)
        await join(harness_ws, f"/ws/tournament/{tournament.pk}/", cast.alice)
        await assert_too_many_connections(await harness_ws.connect(match_path(other_match), user=cast.alice))

    async def test_other_users_are_not_affected(self, harness_ws, harness_rate_limits, cast, match):
        harness_rate_limits(conn_per_user=1)
        await join(harness_ws, match, cast.alice)
        await assert_too_many_connections(await harness_ws.connect(match_path(match), user=cast.alice))
        await join(harness_ws, match, cast.bob)

    async def test_users_are_counted_per_user_not_per_address(
        self, harness_ws, harness_rate_limits, cast, match
    ):
        harness_rate_limits(conn_per_ip=1)
        same_address = {"client": ("198.51.100.4", 40000)}
        for user in (cast.alice, cast.bob, cast.carol):
            await join(harness_ws, match, user, scope=same_address)
        assert await held("ip", "198.51.100.4") == 0


class TestConnectionLimitPerAddress:
    """Anonymous connections count per client address, up to WS_CONN_PER_IP."""

    async def test_anonymous_connections_over_the_address_limit_are_refused(
        self, harness_ws, harness_rate_limits, match
    ):
        harness_rate_limits(conn_per_ip=2)
        address = {"client": ("203.0.113.7", 51000)}
        admitted = []
        for _ in range(2):  # admitted by the middleware, then refused by the consumer: no token
            client = await harness_ws.connect(match_path(match), scope=address)
            assert await client.expect_close(4001) == [error("missing")]
            admitted.append(client)
        await assert_too_many_connections(await harness_ws.connect(match_path(match), scope=address))
        elsewhere = await harness_ws.connect(match_path(match), scope={"client": ("203.0.113.8", 51000)})
        assert await elsewhere.expect_close(4001) == [error("missing")]

        await admitted[0].disconnect()  # what a real server reports once the close handshake is done
        assert await held("ip", "203.0.113.7") == 1
        again = await harness_ws.connect(match_path(match), scope=address)
        assert await again.expect_close(4001) == [error("missing")]

    async def test_default_address_limit_is_ten(self, harness_ws, match):
        address = {"client": ("203.0.113.9", 52000)}
        for _ in range(10):
            client = await harness_ws.connect(match_path(match), scope=address)
            assert await client.expect_close(4001) == [error("missing")]
        await assert_too_many_connections(await harness_ws.connect(match_path(match), scope=address))

    async def test_clients_without_an_address_share_one_count(self, harness_ws, harness_rate_limits, match):
        harness_rate_limits(conn_per_ip=1)
        first = await harness_ws.connect(match_path(match), scope={"client": None})
        assert await first.expect_close(4001) == [error("missing")]
        await assert_too_many_connections(await harness_ws.connect(match_path(match), scope={"client": None}))
        assert await held("ip", "unknown") == 1


async def _end_by_client(client, layer, match) -> None:
    await client.disconnect()


async def _end_by_heartbeat_timeout(client, layer, match) -> None:
    assert (await client.expect_close(4008, timeout=HEARTBEAT_TIMEOUT + 5))[-1] == error("heartbeat_timeout")
    await client.disconnect()  # the server reports the finished close handshake


async def _end_by_payload_too_large(client, layer, match) -> None:
    await client.send_text(ping_of_size(65))
    assert await client.expect_close(4009) == [error("payload_too_large")]
    await client.disconnect()


async def _end_by_rate_limit_close(client, layer, match) -> None:
    assert await ping(client, 1) == pong(1)
    await client.send_json({"type": "ping", "timestamp": 2})
    assert await client.expect_close(4029) == [rate_limited(0.1)]
    await client.disconnect()


async def _end_by_consumer_exception(client, layer, match) -> None:
    await layer.group_send(utils.match_group(match.pk), {"type": "no_handler_for_this"})
    with pytest.raises(ValueError, match="no_handler_for_this"):
        await client.receive_json()
    await client.disconnect()


ENDINGS = {
    "client_disconnect": _end_by_client,
    "heartbeat_timeout_4008": _end_by_heartbeat_timeout,
    "payload_too_large_4009": _end_by_payload_too_large,
    "rate_limited_4029": _end_by_rate_limit_close,
    "consumer_exception": _end_by_consumer_exception,
}


@pytest.fixture
def tight_limits(harness_rate_limits):
    """One connection per user and per room, 1-frame bursts closing on the first violation, 64 B frames."""
    return harness_rate_limits(
        conn_per_user=1, room_max=1, msg_rate=10, msg_burst=1, rate_close_after=1, max_payload_bytes=64
    )


class TestCountsReleased:
    """However a connection ends, its slots come back and a new connection within the limit is admitted."""

    @pytest.mark.parametrize("ending", ENDINGS)
    async def test_user_slot_is_released(
        self, harness_ws, harness_channel_layer, tight_limits, cast, match, ending
    ):
        client = await join(harness_ws, match, cast.alice)
        assert await held("user", cast.alice.pk) == 1
        await ENDINGS[ending](client, harness_channel_layer, match)
        assert await held("user", cast.alice.pk) == 0
        # Another room, so only the user slot is tested here.
        await join(harness_ws, f"/ws/tournament/{match.tournament_id}/", cast.alice)

    @pytest.mark.parametrize("ending", ENDINGS)
    async def test_room_slot_is_released(
        self, harness_ws, harness_channel_layer, tight_limits, cast, match, ending
    ):
        client = await join(harness_ws, match, cast.alice)
        assert await room_count(match) == 1
        await ENDINGS[ending](client, harness_channel_layer, match)
        assert await room_count(match) == 0
        assert members(harness_channel_layer, match) == set()
        assert heartbeat_tasks() == []
        await join(harness_ws, match, cast.bob)

    async def test_user_slot_is_released_when_the_match_is_not_found(
        self, harness_ws, tight_limits, cast, match
    ):
        client = await harness_ws.connect(f"/ws/match/{match.pk + 1000}/", user=cast.alice)
        assert await client.expect_close(4004) == [error("not_found")]
        assert await held("user", cast.alice.pk) == 1  # held until the server reports the disconnect
        await client.disconnect()
        assert await held("user", cast.alice.pk) == 0
        await join(harness_ws, match, cast.alice)

    async def test_middleware_close_ends_the_consumer_without_waiting_for_the_client(
        self, harness_ws, harness_channel_layer, tight_limits, cast, match
    ):
        client = await join(harness_ws, match, cast.alice)
        await client.send_text(ping_of_size(65))
        assert await client.expect_close(4009) == [error("payload_too_large")]
        # The middleware hands the consumer a disconnect itself: the room and slots come free at once.
        await settle()
        assert members(harness_channel_layer, match) == set()
        assert heartbeat_tasks() == []
        assert (await held("user", cast.alice.pk), await room_count(match)) == (0, 0)
        await join(harness_ws, match, cast.alice)


class TestMessageRate:
    """Frames over the bucket get `rate_limited` and are dropped; WS_RATE_CLOSE_AFTER of them close 4029."""

    async def test_frame_beyond_the_burst_is_dropped_with_retry_after(
        self, harness_ws, harness_rate_limits, cast, match
    ):
        harness_rate_limits(msg_rate=10, msg_burst=3, rate_close_after=5)
        client = await join(harness_ws, match, cast.alice)
        assert [await ping(client, n) for n in range(3)] == [pong(0), pong(1), pong(2)]
        assert await ping(client, "dropped") == rate_limited(0.1)
        await asyncio.sleep(0.1)
        assert await ping(client, "after") == pong("after")  # no pong for the dropped frame came first

    async def test_waiting_less_than_retry_after_is_still_limited(
        self, harness_ws, harness_rate_limits, cast, match
    ):
        harness_rate_limits(msg_rate=10, msg_burst=1, rate_close_after=5)
        client = await join(harness_ws, match, cast.alice)
        assert await ping(client, 1) == pong(1)
        assert await ping(client, 2) == rate_limited(0.1)
        await asyncio.sleep(0.04)
        assert await ping(client, 3) == rate_limited(0.06)
        await asyncio.sleep(0.06)
        assert await ping(client, 4) == pong(4)

    async def test_retry_after_is_rounded_up_so_waiting_it_is_enough(
        self, harness_ws, harness_rate_limits, cast, match
    ):
        harness_rate_limits(msg_rate=3, msg_burst=1, rate_close_after=5)
        client = await join(harness_ws, match, cast.alice)
        assert await ping(client, 1) == pong(1)
        assert await ping(client, 2) == rate_limited(0.334)  # 1/3 s, up to the next millisecond
        await asyncio.sleep(0.334)
        assert await ping(client, 3) == pong(3)

    async def test_bucket_refills_at_the_message_rate(self, harness_ws, harness_rate_limits, cast, match):
        harness_rate_limits(msg_rate=2, msg_burst=2, rate_close_after=5)
        client = await join(harness_ws, match, cast.alice)
        assert [await ping(client, n) for n in range(3)] == [pong(0), pong(1), rate_limited(0.5)]
        await asyncio.sleep(0.5)
        assert [await ping(client, n) for n in range(2)] == [pong(0), rate_limited(0.5)]
        await asyncio.sleep(10)  # refills to the burst, never beyond
        assert [await ping(client, n) for n in range(3)] == [pong(0), pong(1), rate_limited(0.5)]

    async def test_connection_closes_with_4029_on_the_close_after_violation(
        self, harness_ws, harness_rate_limits, harness_channel_layer, cast, match
    ):
        harness_rate_limits(msg_rate=10, msg_burst=2, rate_close_after=3)
        client = await join(harness_ws, match, cast.alice)
        assert [await ping(client, n) for n in range(2)] == [pong(0), pong(1)]
        assert await ping(client, "v1") == rate_limited(0.1)
        assert await ping(client, "v2") == rate_limited(0.1)
        assert not client.closed
        await client.send_json({"type": "ping", "timestamp": "v3"})
        assert await client.expect_close(4029) == [rate_limited(0.1)]
        await settle()
        assert members(harness_channel_layer, match) == set()

    async def test_violations_accumulate_across_allowed_frames(
        self, harness_ws, harness_rate_limits, cast, match
    ):
        harness_rate_limits(msg_rate=10, msg_burst=1, rate_close_after=2)
        client = await join(harness_ws, match, cast.alice)
        assert await ping(client, 1) == pong(1)
        assert await ping(client, 2) == rate_limited(0.1)
        await asyncio.sleep(0.1)
        assert await ping(client, 3) == pong(3)
        await client.send_json({"type": "ping", "timestamp": 4})
        assert await client.expect_close(4029) == [rate_limited(0.1)]

    async def test_defaults_are_a_burst_of_20_at_10_per_second_closing_after_5(self, harness_ws, cast, match):
        client = await join(harness_ws, match, cast.alice)
        assert [await ping(client, n) for n in range(20)] == [pong(n) for n in range(20)]
        assert [await ping(client, n) for n in range(4)] == [rate_limited(0.1)] * 4
        await client.send_json({"type": "ping"})
        assert await client.expect_close(4029) == [rate_limited(0.1)]

    async def test_bucket_is_shared_by_a_users_connections(
        self, harness_ws, harness_rate_limits, cast, match
    ):
        harness_rate_limits(msg_rate=10, msg_burst=2, rate_close_after=5)
        first = await join(harness_ws, match, cast.alice)
        second = await join(harness_ws, match, cast.alice)
        bob = await join(harness_ws, match, cast.bob)
        assert [await ping(first, 1), await ping(first, 2)] == [pong(1), pong(2)]
        assert await ping(second, 3) == rate_limited(0.1)
        assert await ping(bob, 4) == pong(4)

    async def test_every_frame_counts_even_invalid_ones(self, harness_ws, harness_rate_limits, cast, match):
        harness_rate_limits(msg_rate=10, msg_burst=2, rate_close_after=5)
        client = await join(harness_ws, match, cast.alice)
        await client.send_text("garbage")
        assert await client.receive_json() == error("invalid_json")
        await client.send_bytes(b"\x00\x01")
        assert await client.receive_json() == error("invalid_json")
        assert await ping(client, 1) == rate_limited(0.1)

    async def test_dropped_score_report_is_neither_saved_nor_broadcast(
        self, harness_ws, harness_rate_limits, cast, match
    ):
        harness_rate_limits(msg_rate=10, msg_burst=1, rate_close_after=5)
        alice = await join(harness_ws, match, cast.alice)
        watcher = await join(harness_ws, match, cast.carol)
        assert await ping(alice, 1) == pong(1)
        await alice.send_json({"type": "report_score", "data": {"score1": 9, "score2": 9}})
        assert await alice.receive_json() == rate_limited(0.1)
        await watcher.assert_nothing_received(1)
        await match.arefresh_from_db()
        assert (match.score1, match.score2) == (0, 0)


class TestPayloadCap:
    """Frames over WS_MAX_PAYLOAD_BYTES (UTF-8 or binary bytes) get `payload_too_large` and close 4009."""

    async def test_frame_at_the_cap_passes_and_one_byte_more_closes_with_4009(
        self, harness_ws, harness_rate_limits, cast, match
    ):
        harness_rate_limits(max_payload_bytes=64)
        client = await join(harness_ws, match, cast.alice)
        await client.send_text(ping_of_size(64))
        assert (await client.receive_json())["type"] == "pong"
        await client.send_text(ping_of_size(65))
        assert await client.expect_close(4009) == [error("payload_too_large")]

    async def test_cap_counts_utf8_bytes_not_characters(self, harness_ws, harness_rate_limits, cast, match):
        harness_rate_limits(max_payload_bytes=64)
        client = await join(harness_ws, match, cast.alice)
        frame = json.dumps({"type": "ping", "timestamp": "\u00e9" * 20}, ensure_ascii=False)
        assert len(frame) <= 64 < len(frame.encode())
        await client.send_text(frame)
        assert await client.expect_close(4009) == [error("payload_too_large")]

    async def test_binary_frames_are_capped_too(self, harness_ws, harness_rate_limits, cast, match):
        harness_rate_limits(max_payload_bytes=64)
        client = await join(harness_ws, match, cast.alice)
        await client.send_bytes(b"\x00" * 64)
        assert await client.receive_json() == error("invalid_json")  # within the cap: the consumer answers
        await client.send_bytes(b"\x00" * 65)
        assert await client.expect_close(4009) == [error("payload_too_large")]

    async def test_default_cap_is_16384_bytes(self, harness_ws, cast, match):
        client = await join(harness_ws, match, cast.alice)
        await client.send_text(ping_of_size(16384))
        assert (await client.receive_json())["type"] == "pong"
        await client.send_text(ping_of_size(16385))
        assert await client.expect_close(4009) == [error("payload_too_large")]

    async def test_cap_holds_with_rate_limiting_switched_off(
        self, harness_ws, harness_rate_limits, cast, match
    ):
        harness_rate_limits(rate_enabled=False, max_payload_bytes=64)
        client = await join(harness_ws, match, cast.alice)
        await client.send_text(ping_of_size(65))
        assert await client.expect_close(4009) == [error("payload_too_large")]


class TestRoomCapacity:
    """A room holds WS_ROOM_MAX connections; one more is accepted, told `room_full`, closed 4029."""

    async def test_connection_to_a_full_room_is_closed_with_4029(
        self, harness_ws, harness_rate_limits, harness_channel_layer, cast, tournament, match, other_match
    ):
        harness_rate_limits(room_max=2)
        await join(harness_ws, match, cast.alice)
        bob = await join(harness_ws, match, cast.bob)
        carol = await harness_ws.connect(match_path(match), user=cast.carol)
        assert carol.accepted
        assert await carol.expect_close(4029) == [error("room_full", "this room is full")]
        assert len(members(harness_channel_layer, match)) == 2
        assert len(heartbeat_tasks()) == 2
        await carol.disconnect()
        assert await room_count(match) == 2  # a refused client held no place

        await join(harness_ws, other_match, cast.carol)  # each room counts on its own
        await join(harness_ws, f"/ws/tournament/{tournament.pk}/", cast.carol)
        await bob.disconnect()
        await join(harness_ws, match, cast.carol)


class TestDisabledSwitch:
    """WS_RATE_ENABLED=False turns off connection, message and room limits (not the payload cap)."""

    async def test_connections_beyond_every_limit_are_admitted(
        self, harness_ws, harness_rate_limits, cast, match
    ):
        harness_rate_limits(rate_enabled=False, conn_per_user=1, room_max=1)
        for _ in range(3):
            await join(harness_ws, match, cast.alice)
        await join(harness_ws, match, cast.bob)
        assert await held("user", cast.alice.pk) == 0
        assert await room_count(match) == 0

    async def test_anonymous_connections_are_not_counted(self, harness_ws, harness_rate_limits, match):
        harness_rate_limits(rate_enabled=False, conn_per_ip=1)
        for _ in range(3):
            client = await harness_ws.connect(match_path(match), scope={"client": ("203.0.113.20", 1)})
            assert await client.expect_close(4001) == [error("missing")]

    async def test_messages_are_never_rate_limited(self, harness_ws, harness_rate_limits, cast, match):
        harness_rate_limits(rate_enabled=False, msg_rate=1, msg_burst=1, rate_close_after=1)
        client = await join(harness_ws, match, cast.alice)
        assert [await ping(client, n) for n in range(10)] == [pong(n) for n in range(10)]


class TestMiddlewareAlone:
    """The middleware around bare apps: anonymous buckets, late sends, exchanges no client library makes."""

    async def test_anonymous_clients_share_a_message_bucket_per_address(
        self, harness_ws, harness_rate_limits
    ):
        harness_rate_limits(msg_rate=10, msg_burst=2, rate_close_after=5)
        app = RateLimitMiddleware(echo_app)
        first = await harness_ws.connect("/echo/", application=app, scope={"client": ("192.0.2.10", 1)})
        second = await harness_ws.connect("/echo/", application=app, scope={"client": ("192.0.2.10", 2)})
        other = await harness_ws.connect("/echo/", application=app, scope={"client": ("192.0.2.11", 1)})
        for text in ("a", "b"):
            await first.send_text(text)
            assert await first.receive_frame() == text
        await second.send_text("c")
        assert json.loads(await second.receive_frame()) == rate_limited(0.1)
        await other.send_text("d")
        assert await other.receive_frame() == "d"

    async def test_inner_apps_sends_after_the_middleware_closed_are_dropped(
        self, harness_ws, harness_rate_limits
    ):
        harness_rate_limits(max_payload_bytes=8)

        async def talks_after_disconnect(scope, receive, send):
            await receive()
            await send({"type": "websocket.accept"})
            assert (await receive()) == {"type": "websocket.disconnect", "code": 4009}
            await send({"type": "websocket.send", "text": "too late"})
            await send({"type": "websocket.close", "code": 1000})

        recorder = Recorder(RateLimitMiddleware(talks_after_disconnect))
        client = await harness_ws.connect("/late/", application=recorder)
        await client.send_text("x" * 9)
        assert await client.expect_close(4009) == [error("payload_too_large")]
        await client.disconnect()
        assert recorder.after_close() == []

    async def test_refused_client_that_leaves_before_connecting_gets_nothing(self, harness_rate_limits, cast):
        harness_rate_limits(conn_per_user=1)
        key = connection_key("user", str(cast.alice.pk))
        assert await ratelimit.get_limiter().acquire(key, 1)
        sent, inbox = await self._run_refused(cast.alice, [{"type": "websocket.disconnect", "code": 1001}])
        assert sent == [] and inbox == []
        assert await ratelimit.get_limiter().count(key) == 1  # the refused attempt took nothing

    async def test_frames_after_a_refusal_are_read_and_ignored_until_disconnect(
        self, harness_rate_limits, cast
    ):
        harness_rate_limits(conn_per_user=1)
        assert await ratelimit.get_limiter().acquire(connection_key("user", str(cast.alice.pk)), 1)
        script = [
            {"type": "websocket.connect"},
            {"type": "websocket.receive", "text": '{"type": "ping"}'},
            {"type": "websocket.receive", "bytes": b"x" * 100000},
            {"type": "websocket.disconnect", "code": 4029},
        ]
        sent, inbox = await self._run_refused(cast.alice, script)
        assert [message["type"] for message in sent] == [
            "websocket.accept",
            "websocket.send",
            "websocket.close",
        ]
        assert json.loads(sent[1]["text"]) == error("too_many_connections")
        assert sent[2]["code"] == 4029
        assert inbox == []  # read through to the disconnect

    async def test_frames_after_the_app_closed_pass_unchecked(self, harness_rate_limits, cast):
        harness_rate_limits(max_payload_bytes=8, msg_burst=1, rate_close_after=1)
        seen = []

        async def closes_first(scope, receive, send):
            await receive()
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.close", "code": 4004})
            while (message := await receive())["type"] != "websocket.disconnect":
                seen.append(message)

        frames = [{"type": "websocket.receive", "text": "x" * 100} for _ in range(3)]
        inbox = [{"type": "websocket.connect"}, *frames, {"type": "websocket.disconnect", "code": 4004}]
        sent = []
        await RateLimitMiddleware(closes_first)(
            self._scope(cast.alice), self._reader(inbox), self._writer(sent)
        )
        assert seen == frames  # in flight when the app closed: neither capped nor rate limited
        assert [message["type"] for message in sent] == ["websocket.accept", "websocket.close"]

    async def test_other_scopes_pass_straight_through(self):
        calls = []

        async def inner(scope, receive, send):
            calls.append((scope, receive, send))
            return "inner's answer"

        scope, receive, send = {"type": "http", "path": "/api/health"}, object(), object()
        assert await RateLimitMiddleware(inner)(scope, receive, send) == "inner's answer"
        assert calls == [(scope, receive, send)]

    @staticmethod
    def _scope(user) -> dict:
        return {"type": "websocket", "path": "/ws/x/", "user": user, "client": ("127.0.0.1", 1)}

    @staticmethod
    def _reader(inbox: list):
        async def receive():
            return inbox.pop(0)

        return receive

    @staticmethod
    def _writer(sent: list):
        async def send(message):
            sent.append(message)

        return send

    async def _run_refused(self, user, inbox: list) -> tuple[list, list]:
        async def must_not_run(scope, receive, send):
            raise AssertionError("the inner app ran for a refused connection")

        sent: list = []
        answer = await RateLimitMiddleware(must_not_run)(
            self._scope(user), self._reader(inbox), self._writer(sent)
        )
        assert answer is None
        return sent, inbox


# -- the limiter's bookkeeping between a store that fails and its in-process fallback -------------------


class FlakyStore(MemoryBackend):
    """An in-process store that fails as an unreachable Redis does while `down`; notes being closed."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.closed = 0

    def _answer(self) -> None:
        if self.down:
            raise RedisConnectionError("Connection refused")

    async def hit(self, key, rate, burst, now):
        self._answer()
        return await super().hit(key, rate, burst, now)

    async def acquire(self, key, limit):
        self._answer()
        return await super().acquire(key, limit)

    async def release(self, key):
        self._answer()
        await super().release(key)

    async def count(self, key):
        self._answer()
        return await super().count(key)

    def close_nowait(self) -> None:
        self.closed += 1
        super().close_nowait()


class TestLimiterFallback:
    """Slots are given back where they were taken; outages and recoveries are logged with their cause."""

    @pytest.fixture
    def limiter(self):
        now = [100.0]
        primary, fallback = FlakyStore(), FlakyStore()
        limiter = ratelimit.Limiter(primary, fallback, clock=lambda: now[0])
        return limiter, primary, fallback, now

    async def test_slots_taken_in_the_fallback_are_each_given_back_there(self, limiter):
        limiter, primary, fallback, now = limiter
        primary.down = True
        assert [await limiter.acquire("k", 5) for _ in range(3)] == [True] * 3
        assert await fallback.count("k") == 3
        primary.down = False
        now[0] += ratelimit.REDIS_RETRY_COOLDOWN
        assert await limiter.acquire("k", 5)  # Redis again
        for expected_fallback in (2, 1, 0):
            await limiter.release("k")
            assert await fallback.count("k") == expected_fallback
        assert await primary.count("k") == 1  # the one slot Redis granted is still held there
        await limiter.release("k")
        assert await primary.count("k") == 0

    async def test_redis_is_asked_again_exactly_after_the_cooldown(self, limiter):
        limiter, primary, fallback, now = limiter
        primary.down = True
        await limiter.hit("m", rate=1, burst=1)
        primary.down = False
        now[0] += ratelimit.REDIS_RETRY_COOLDOWN - 0.001
        assert await limiter.acquire("k", 1) and await fallback.count("k") == 1
        now[0] += 0.001
        assert await limiter.acquire("k2", 1) and await primary.count("k2") == 1
        assert ratelimit.REDIS_RETRY_COOLDOWN == 5.0  # docs/protocol.md: retried after 5 s

    async def test_a_release_that_reaches_redis_again_ends_the_outage(self, limiter, caplog):
        limiter, primary, _, now = limiter
        caplog.set_level(logging.INFO, logger=ratelimit.__name__)
        assert await limiter.acquire("k", 1)  # held in Redis
        primary.down = True
        await limiter.hit("m", rate=1, burst=1)
        assert limiter.degraded
        primary.down = False
        now[0] += ratelimit.REDIS_RETRY_COOLDOWN
        await limiter.release("k")
        assert not limiter.degraded and await primary.count("k") == 0
        messages = [r.getMessage() for r in caplog.records if r.name == ratelimit.__name__]
        assert messages == [
            "Redis unreachable (Connection refused); rate limits are served in-process until it is back",
            "Redis is reachable again; rate limits are served from Redis",
        ]

    async def test_a_release_that_finds_redis_gone_starts_the_outage_with_its_cause(self, limiter, caplog):
        limiter, primary, _, _ = limiter
        caplog.set_level(logging.INFO, logger=ratelimit.__name__)
        assert await limiter.acquire("k", 1)
        primary.down = True
        await limiter.release("k")
        assert limiter.degraded
        assert [r.getMessage() for r in caplog.records if r.name == ratelimit.__name__] == [
            "Redis unreachable (Connection refused); rate limits are served in-process until it is back"
        ]

    def test_closing_without_a_loop_closes_both_stores(self, limiter):
        limiter, primary, fallback, _ = limiter
        limiter.close_nowait()
        assert (primary.closed, fallback.closed) == (1, 1)


def test_a_limiter_built_from_settings_reads_the_clock_it_is_given(settings):
    settings.REDIS_URL = ""
    assert ratelimit.build_limiter(clock=time.monotonic).clock is time.monotonic
    assert ratelimit.build_limiter().clock is ratelimit.loop_clock


def test_resetting_closes_the_limiter_and_settings_that_shape_it_reset_it(settings, monkeypatch):
    settings.REDIS_URL = ""
    first = ratelimit.get_limiter()
    closed = []
    monkeypatch.setattr(first, "close_nowait", lambda: closed.append(True))
    settings.DEBUG = not settings.DEBUG  # unrelated: the limiter stays
    assert ratelimit.get_limiter() is first and closed == []
    settings.WS_ROOM_MAX = 7
    assert closed == [True]
    second = ratelimit.get_limiter()
    assert second is not first
    settings.REDIS_URL = ""  # set again: a change all the same
    assert ratelimit.get_limiter() is not second


async def test_the_in_process_store_counts_each_holder_and_forgets_all_when_closed():
    store = MemoryBackend()
    assert [await store.acquire("k", 3) for _ in range(4)] == [True, True, True, False]
    await store.release("k")
    assert await store.count("k") == 2
    await store.hit("m", rate=1, burst=1, now=0.0)
    assert not (await store.hit("m", rate=1, burst=1, now=0.0)).allowed
    await store.aclose()
    assert await store.count("k") == 0
    assert (await store.hit("m", rate=1, burst=1, now=0.0)).allowed  # a fresh bucket
    await store.acquire("k", 3)
    store.close_nowait()
    assert await store.count("k") == 0


def test_a_token_short_only_by_float_rounding_still_counts_as_whole():
    """0.1 s at 10/s refills 0.9999999999999964 tokens: enough for one message, as one whole token is."""
    decision, left, _ = take_token(1 - 1e-9, 0.0, rate=10.0, burst=3.0, now=0.0)
    assert decision.allowed and left == pytest.approx(0.0, abs=1e-8)
    assert not take_token(1 - 1e-6, 0.0, rate=10.0, burst=3.0, now=0.0)[0].allowed
    refilled = take_token(0.0, 0.0, rate=10.0, burst=3.0, now=0.1)
    assert refilled[0].allowed


def test_outside_an_event_loop_the_limiter_reads_the_monotonic_clock():
    before = time.monotonic()
    assert before <= ratelimit.loop_clock() <= time.monotonic()


async def test_closing_awaits_each_store_and_drops_the_process_wide_limiter(settings):
    settings.REDIS_URL = ""
    alone = FlakyStore()
    await ratelimit.Limiter(alone).aclose()  # no fallback: the one store is closed
    assert alone.closed == 1
    first = ratelimit.get_limiter()
    await first.acquire("k", 1)
    await ratelimit.close_limiters()
    assert await first.primary.count("k") == 0  # its state is gone
    assert ratelimit.get_limiter() is not first
    await ratelimit.close_limiters()
    await ratelimit.close_limiters()  # nothing left to close: no error
