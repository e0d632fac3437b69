"""Module 6.6 units: rate limiter and middleware, broadcasts, consumer helpers, match errors, JWT auth."""

import json
import logging
import math
from dataclasses import dataclass

import jwt
import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from django.contrib.auth.models import AnonymousUser

from suites.realtime_checks import Clock, assert_error, assert_refused, join_with_welcome
from target_app.realtime import middleware, ratelimit, tokens, utils
from target_app.realtime.consumers import TournamentConsumer
from target_app.realtime.match_consumer import MatchConsumer
from target_app.realtime.middleware import JWTAuthMiddleware, token_from_scope
from target_app.realtime.middleware_ratelimit import RateLimitMiddleware, client_identity, payload_size
from target_app.realtime.protocol import (
    FrameError,
    error_frame,
    frame_data,
    parse_frame,
    positive_id,
    server_frame,
    user_role,
)
from target_app.realtime.ratelimit import Limiter
from target_app.realtime.ratelimit_backends import MemoryBackend, RateDecision, RedisBackend
from target_app.realtime.routing import websocket_urlpatterns
from target_app.realtime.tokens import authenticate, decode_user_id
from target_app.tournaments.models import Match

# Virtual time for every async test (sync ones are untouched); the Redis test opts out below.
pytestmark = pytest.mark.looptime


@dataclass(frozen=True)
class Person:
    """Just what `user_role` reads from a user."""

    pk: int
    is_staff: bool = False
    is_superuser: bool = False


def frame_error(text: str | None, data: bytes | None = None) -> str:
    """The error code `parse_frame` answers a bad frame with."""
    with pytest.raises(FrameError) as caught:
        parse_frame(text, data)
    assert caught.value.message
    return caught.value.code


# -- rate limiter (ratelimit.py, ratelimit_backends.py) ----------------------------------------------


class TestRateLimiter:
    """The limiter's counters and token buckets, on the in-process backend and on Redis."""

    def test_rate_limiter_initialization(self, settings, harness_redis):
        """REDIS_URL: Redis with in-process fallback; else in-process only; cached until settings change."""
        limiter = ratelimit.build_limiter()
        assert isinstance(limiter.primary, RedisBackend) and limiter.primary.url == harness_redis.url
        assert isinstance(limiter.fallback, MemoryBackend)
        assert not limiter.degraded
        settings.REDIS_URL = None
        limiter = ratelimit.build_limiter()
        assert isinstance(limiter.primary, MemoryBackend) and limiter.fallback is None
        cached = ratelimit.get_limiter()
        assert ratelimit.get_limiter() is cached
        settings.WS_MSG_RATE = 5  # setting_changed drops the cached limiter
        assert ratelimit.get_limiter() is not cached

    async def test_connection_rate_limiter_allows_below_limit(self):
        """`acquire` grants up to the limit, counting each holder, then refuses; keys count apart."""
        limiter = Limiter(MemoryBackend(), clock=Clock())
        assert [await limiter.acquire("ws:conn:user:1", 3) for _ in range(4)] == [True, True, True, False]
        assert await limiter.count("ws:conn:user:1") == 3
        assert await limiter.acquire("ws:conn:user:2", 3)
        assert await limiter.count("ws:conn:user:2") == 1
        assert await limiter.count("ws:conn:user:3") == 0

    async def test_rate_limiter_decrement_connection(self):
        """`release` frees one slot for the next holder and never counts below zero."""
        limiter = Limiter(MemoryBackend(), clock=Clock())
        for _ in range(2):
            await limiter.acquire("k", 2)
        assert not await limiter.acquire("k", 2)
        await limiter.release("k")
        assert await limiter.count("k") == 1
        assert await limiter.acquire("k", 2)
        for _ in range(4):
            await limiter.release("k")
        assert await limiter.count("k") == 0
        assert [await limiter.acquire("k", 2) for _ in range(3)] == [True, True, False]

    async def test_message_rate_limiter_allows_below_limit(self):
        """A full bucket passes `burst` messages at once; the next waits 1/rate seconds."""
        limiter = Limiter(MemoryBackend(), clock=Clock())
        decisions = [await limiter.hit("ws:msg:user:1", 10, 20) for _ in range(21)]
        assert decisions[:20] == [RateDecision(True, 0.0)] * 20
        assert decisions[20] == RateDecision(False, pytest.approx(0.1))
        assert await limiter.hit("ws:msg:user:2", 10, 20) == RateDecision(True, 0.0)  # another bucket

    async def test_rate_limiter_get_remaining_quota(self):
        """Tokens come back at `rate` per second, up to `burst`; a clock going backwards refills nothing."""
        clock = Clock()
        limiter = Limiter(MemoryBackend(), clock=clock)
        for _ in range(4):
            assert (await limiter.hit("k", 2, 4)).allowed
        clock.now += 1.0  # 2 tokens back
        assert [(await limiter.hit("k", 2, 4)).allowed for _ in range(3)] == [True, True, False]
        clock.now += 60  # capped at the burst of 4
        assert [(await limiter.hit("k", 2, 4)).allowed for _ in range(5)] == [True] * 4 + [False]
        clock.now -= 30
        decision = await limiter.hit("k", 2, 4)
        assert decision == RateDecision(False, pytest.approx(0.5))

    async def test_rate_limiter_rejects_non_positive_rate(self):
        """A rate of 0 or below is a configuration error, named in the message."""
        limiter = Limiter(MemoryBackend(), clock=Clock())
        for rate in (0, -1.5):
            with pytest.raises(ValueError, match=r"message rate must be a positive number .* got "):
                await limiter.hit("k", rate, 5)

    @pytest.mark.looptime(False)  # real socket I/O: under virtual time it would race the clock
    async def test_redis_backend_matches_memory_backend_and_reloads_scripts(self, harness_redis):
        """The Lua scripts answer exactly as the in-process backend, and come back after SCRIPT FLUSH."""
        redis_backend, memory = RedisBackend(harness_redis.url), MemoryBackend()

        async def script(backend) -> list:
            steps = [await backend.acquire("c", 2) for _ in range(3)]
            await backend.release("c")
            steps.append(await backend.count("c"))
            for now in (0.0, 0.0, 0.0, 0.25, 0.25, 10.0):
                steps.append(await backend.hit("b", 4, 2, now))
            return steps

        try:
            answers = await script(redis_backend)
            assert answers == await script(memory)
            assert answers[:4] == [True, True, False, 1]
            assert answers[6] == RateDecision(False, pytest.approx(0.25))
            assert redis_backend.script_loads == 3
            assert harness_redis.client().get("c") == b"1"
            harness_redis.client().script_flush()
            assert await redis_backend.acquire("c", 2)
            assert redis_backend.script_loads == 4
        finally:
            await redis_backend.aclose()


# -- rate-limit middleware (middleware_ratelimit.py) ---------------------------------------------------


class TestRateLimitMiddlewareUnits:
    """The middleware's limiter injection, client keys, frame sizes and retry hints."""

    async def test_middleware_initialization(self, harness_ws, cast, match):
        """An injected limiter counts the connection; the process-wide one is left alone."""
        own = Limiter(MemoryBackend())
        stack = JWTAuthMiddleware(RateLimitMiddleware(URLRouter(websocket_urlpatterns), limiter=own))
        client, _ = await join_with_welcome(
            harness_ws, f"/ws/match/{match.pk}/", user=cast.alice, application=stack
        )
        assert await own.count(f"ws:conn:user:{cast.alice.pk}") == 1
        assert await ratelimit.get_limiter().count(f"ws:conn:user:{cast.alice.pk}") == 0
        await client.disconnect()
        assert await own.count(f"ws:conn:user:{cast.alice.pk}") == 0

    def test_client_identity_is_user_or_address(self):
        """Authenticated users are keyed by pk; anonymous clients by address, or `unknown` without one."""
        assert client_identity({"user": Person(7), "client": ("10.0.0.1", 5)}) == ("ip", "10.0.0.1")
        user = type("User", (), {"pk": 7, "is_authenticated": True})()
        assert client_identity({"user": user, "client": ("10.0.0.1", 5)}) == ("user", "7")
        assert client_identity({"user": AnonymousUser(), "client": ("10.0.0.1", 5)}) == ("ip", "10.0.0.1")
        assert client_identity({"client": None}) == ("ip", "unknown")
        assert ratelimit.connection_key(*client_identity({"user": user})) == "ws:conn:user:7"
        assert ratelimit.message_key("ip", "10.0.0.1") == "ws:msg:ip:10.0.0.1"

    def test_payload_size_counts_utf8_bytes(self):
        """Text frames count UTF-8 bytes, not characters; binary frames their length."""
        assert payload_size({"type": "websocket.receive", "text": "é€"}) == 5
        assert payload_size({"type": "websocket.receive", "bytes": b"\x00" * 9}) == 9
        assert payload_size({"type": "websocket.receive", "text": ""}) == 0
        assert payload_size({"type": "websocket.receive", "bytes": None}) == 0

    async def test_retry_after_is_rounded_up_to_the_millisecond(
        self, harness_ws, harness_rate_limits, cast, match
    ):
        """At 3 frames/s, the dropped frame's retry_after is 1/3 s rounded up: 0.334."""
        harness_rate_limits(msg_rate=3, msg_burst=1)
        client, _ = await join_with_welcome(harness_ws, f"/ws/match/{match.pk}/", user=cast.alice)
        await client.send_json({"type": "ping", "timestamp": 1})
        assert await client.receive_json() == {"type": "pong", "data": {"timestamp": 1}}
        await client.send_json({"type": "ping", "timestamp": 2})
        assert_error(await client.receive_json(), "rate_limited", {"retry_after": 0.334})


# -- broadcasts (utils.py) -------------------------------------------------------------------------------


async def listen(layer, *groups: str) -> str:
    channel = await layer.new_channel()
    for group in groups:
        await layer.group_add(group, channel)
    return channel


async def queued(layer, channel: str) -> list[dict]:
    """Messages already waiting on `channel`, without waiting for more."""
    messages = []
    while channel in layer.channels:  # InMemoryChannelLayer drops a channel's queue once it is empty
        messages.append(await layer.receive(channel))
    return messages


class TestBroadcastUtils:
    """Group and channel sends through the real in-memory layer; failures logged, never raised."""

    async def test_broadcast_tournament_event_basic(self, harness_channel_layer):
        """The event reaches the tournament_<id> group, unchanged, and no match group."""
        tournament = await listen(harness_channel_layer, "tournament_5")
        match = await listen(harness_channel_layer, "match_5")
        await utils.broadcast_tournament_event(5, "bracket_updated", {"round": 2})
        assert await queued(harness_channel_layer, tournament) == [
            {"type": "bracket_updated", "data": {"round": 2}}
        ]
        assert await queued(harness_channel_layer, match) == []

    async def test_broadcast_match_event_basic(self, harness_channel_layer):
        """The event reaches the match_<id> group only; "9" and 9 name the same group."""
        match = await listen(harness_channel_layer, "match_9")
        tournament = await listen(harness_channel_layer, "tournament_9")
        await utils.broadcast_match_event(9, "match_started", {"match_id": 9})
        await utils.broadcast_match_event("9", "dispute_created", {"reason": "lag"})
        assert await queued(harness_channel_layer, match) == [
            {"type": "match_started", "data": {"match_id": 9}},
            {"type": "dispute_created", "data": {"reason": "lag"}},
        ]
        assert await queued(harness_channel_layer, tournament) == []

    async def test_send_error_to_channel(self, harness_channel_layer, harness_ws, cast, match):
        """One channel gets `{"type": "error", "data": {code, message}}`; a consumer relays it as a frame."""
        target = await listen(harness_channel_layer, "match_999999")  # no match of the test has this id
        bystander = await listen(harness_channel_layer, "match_999999")
        await utils.send_error_to_channel(target, "rate_limited", "slow down")
        expected = {"type": "error", "data": {"code": "rate_limited", "message": "slow down"}}
        assert await queued(harness_channel_layer, target) == [expected]
        assert await queued(harness_channel_layer, bystander) == []
        alice, _ = await join_with_welcome(harness_ws, f"/ws/match/{match.pk}/", user=cast.alice)
        bob, _ = await join_with_welcome(harness_ws, f"/ws/match/{match.pk}/", user=cast.bob)
        channels = list(harness_channel_layer.groups[f"match_{match.pk}"])  # in join order
        await utils.send_error_to_channel(channels[0], "kicked", "the organizer removed you")
        assert await alice.receive_json() == {
            "type": "error",
            "code": "kicked",
            "message": "the organizer removed you",
        }
        await bob.assert_nothing_received(0.1)

    async def test_failed_broadcast_is_logged_not_raised(self, harness_channel_layer, monkeypatch, caplog):
        """A layer whose sends raise: each broadcast logs the failure at ERROR and returns normally."""

        async def broken(*args):
            raise ConnectionError("layer down")

        monkeypatch.setattr(harness_channel_layer, "group_send", broken)
        monkeypatch.setattr(harness_channel_layer, "send", broken)
        await utils.broadcast_tournament_event(5, "bracket_updated", {})
        await utils.send_error_to_channel("specific.x!y", "rate_limited", "slow down")
        records = [
            (r.levelno, r.getMessage()) for r in caplog.records if r.name == "target_app.realtime.utils"
        ]
        assert records == [
            (logging.ERROR, "channel layer group_send of 'bracket_updated' to tournament_5 failed"),
            (logging.ERROR, "channel layer send of 'error' to specific.x!y failed"),
        ]


# -- consumer helpers (consumers.py, protocol.py) ----------------------------------------------------


class TestConsumerHelpers:
    """Origin checks, payload cap, heartbeat settings, frame parsing, ids, roles and check order."""

    def test_consumer_get_allowed_origins(self, settings):
        """No list admits any Origin; a list admits exact matches only, and a missing Origin fails."""
        consumer = TournamentConsumer()
        consumer.scope = {"headers": [(b"host", b"cup.example"), (b"origin", b"https://cup.example")]}
        settings.WS_ALLOWED_ORIGINS = []
        assert consumer.origin() == "https://cup.example" and consumer.origin_allowed()
        settings.WS_ALLOWED_ORIGINS = ["https://cup.example", "http://localhost"]
        assert consumer.origin_allowed()
        consumer.scope = {"headers": [(b"origin", b"https://cup.example.evil")]}
        assert not consumer.origin_allowed()
        consumer.scope = {"headers": [(b"host", b"cup.example")]}
        assert consumer.origin() is None and not consumer.origin_allowed()
        settings.WS_ALLOWED_ORIGINS = []
        assert consumer.origin_allowed()

    async def test_consumer_get_max_payload_bytes(self, harness_ws, harness_rate_limits, cast, match):
        """The cap comes from WS_MAX_PAYLOAD_BYTES and holds even with rate limiting off."""
        harness_rate_limits(max_payload_bytes=64, rate_enabled=False)
        client, _ = await join_with_welcome(harness_ws, f"/ws/match/{match.pk}/", user=cast.alice)
        stamp = "x" * (64 - len('{"type": "ping", "timestamp": ""}'))
        await client.send_text(f'{{"type": "ping", "timestamp": "{stamp}"}}')
        assert await client.receive_json() == {"type": "pong", "data": {"timestamp": stamp}}
        await client.send_bytes(b"\x00" * 65)
        frames = await client.expect_close(4009)
        assert len(frames) == 1
        assert_error(frames[0], "payload_too_large")
        assert frames[0]["message"] == "frame of 65 bytes, limit 64"
        # Let the consumer finish here, on the test's loop time: left to the fixture's teardown, its
        # heartbeat timer sometimes fired before its cleanup ended (unstable coverage of the
        # middleware's late-send branch, which module 6.7 tests on purpose).
        await client.disconnect()

    async def test_consumer_heartbeat_constants(self, harness_ws, cast, tournament):
        """Both consumers ping every 25 s and time out after 50 s, and tell the client the interval."""
        for consumer in (TournamentConsumer, MatchConsumer):
            assert (consumer.HEARTBEAT_INTERVAL, consumer.HEARTBEAT_TIMEOUT) == (25, 50)
        _, welcome = await join_with_welcome(harness_ws, f"/ws/tournament/{tournament.pk}/", user=cast.carol)
        assert welcome == {
            "tournament_id": tournament.pk,
            "user_id": cast.carol.pk,
            "role": "spectator",
            "is_participant": False,
            "heartbeat_interval": 25,
        }

    def test_parse_frame_rejects_non_json_as_invalid_json(self):
        """Binary frames, broken JSON, NaN/Infinity, out-of-range numbers, deep nesting: invalid_json."""
        assert frame_error(None, b'{"type": "ping"}') == "invalid_json"
        for text in (
            "",
            "{type: ping}",
            "NaN",
            '{"type": "ping", "v": -Infinity}',
            '{"type": "x", "v": 1e999}',
        ):
            assert frame_error(text) == "invalid_json", text
        assert frame_error("[" * 100_000) == "invalid_json"
        assert parse_frame('{"type": "ping", "timestamp": 1.5}', None) == {"type": "ping", "timestamp": 1.5}

    def test_frame_errors_carry_the_documented_messages(self):
        """docs/protocol.md lists each frame error's message; the exception reads as its message."""
        cases = {
            (None, b"{}"): "binary frames are not supported; send JSON text",
            ("{type: ping}", None): "frame is not valid JSON",
            ('{"v": NaN}', None): "frame is not valid JSON",
            ('{"v": 1e999}', None): "frame is not valid JSON",
            ("[]", None): "a frame is a JSON object with a string 'type'",
        }
        for (text, data), message in cases.items():
            with pytest.raises(FrameError) as caught:
                parse_frame(text, data)
            assert (caught.value.message, str(caught.value)) == (message, message), text
        with pytest.raises(FrameError) as caught:
            frame_data({"type": "x", "data": None})
        assert (caught.value.message, str(caught.value)) == ("'data' must be an object",) * 2

    def test_frames_the_server_sends_never_carry_nan_or_infinity(self):
        """A non-finite number in an outgoing frame is a bug: refused before it reaches a client."""
        pong = {"type": "pong", "data": {"timestamp": 1.5}}
        assert json.loads(server_frame("pong", {"timestamp": 1.5})) == pong
        for value in (math.nan, math.inf, -math.inf):
            with pytest.raises(ValueError):
                server_frame("pong", {"timestamp": value})
            with pytest.raises(ValueError):
                error_frame("rate_limited", "slow down", {"retry_after": value})

    def test_parse_frame_rejects_wrong_shapes_as_invalid_schema(self):
        """Non-objects, a missing or non-string type, and a non-object `data` are invalid_schema."""
        for text in ("[]", "1", '"ping"', "{}", '{"type": null}', '{"type": 1}', '{"type": ["ping"]}'):
            assert frame_error(text) == "invalid_schema", text
        for frame in ({"type": "x"}, {"type": "x", "data": [1]}, {"type": "x", "data": "s"}):
            with pytest.raises(FrameError) as caught:
                frame_data(frame)
            assert caught.value.code == "invalid_schema"
        assert frame_data({"type": "x", "data": {"a": 1}}) == {"a": 1}

    def test_positive_id_accepts_only_positive_ascii_integers(self):
        """Path ids are ASCII digits above zero; anything else is None (close 4000)."""
        assert [positive_id(raw) for raw in ("1", "42", "007")] == [1, 42, 7]
        for raw in (None, "", "0", "00", "-3", "+3", "1.5", "abc", " 1", "\u0663", "\u00b2", "7/x", 7):
            assert positive_id(raw) is None, raw

    def test_ids_beyond_a_64_bit_key_are_one_past_the_largest(self):
        """Up to 2**63 - 1 an id is itself; any longer one is 2**63, which no row has (close 4004)."""
        largest = 2**63 - 1
        assert positive_id(str(largest)) == largest
        assert positive_id("0" + str(largest)) == largest  # leading zeros do not make it longer
        assert positive_id(str(largest + 1)) == 2**63  # as long as the largest: read as it is
        for raw in ("9" * 20, "1" + "0" * 19, "7" * 5000):
            assert positive_id(raw) == 2**63, raw[:25]

    def test_user_role_precedence(self):
        """organizer > admin (staff or superuser) > participant > spectator."""
        assert user_role(Person(1, is_staff=True), organizer_id=1, participant=True) == "organizer"
        assert user_role(Person(2, is_staff=True), organizer_id=1, participant=True) == "admin"
        assert user_role(Person(2, is_superuser=True), organizer_id=1, participant=False) == "admin"
        assert user_role(Person(2), organizer_id=1, participant=True) == "participant"
        assert user_role(Person(2), organizer_id=1, participant=False) == "spectator"

    async def test_connection_checks_run_in_protocol_order(self, harness_ws, settings, cast, tournament):
        """Origin (4003) before id (4000) before auth (4001) before existence (4004)."""
        settings.WS_ALLOWED_ORIGINS = ["https://cup.example"]
        good, bad = "https://cup.example", "https://evil.example"
        await assert_refused(
            await harness_ws.connect("/ws/tournament/abc/", origin=bad), 4003, "origin_not_allowed"
        )
        await assert_refused(await harness_ws.connect("/ws/tournament/abc/", origin=good), 4000, "invalid_id")
        await assert_refused(await harness_ws.connect("/ws/tournament/999999/", origin=good), 4001, "missing")
        missing = await harness_ws.connect("/ws/tournament/999999/", origin=good, user=cast.alice)
        await assert_refused(missing, 4004, "not_found")
        _, welcome = await join_with_welcome(
            harness_ws, f"/ws/tournament/{tournament.pk}/", origin=good, user=cast.alice
        )
        assert welcome["tournament_id"] == tournament.pk

    async def test_full_room_is_refused_with_4029(self, harness_ws, harness_rate_limits, cast, tournament):
        """With WS_ROOM_MAX=1 the second member gets room_full and 4029; the place frees on leaving."""
        harness_rate_limits(room_max=1)
        path = f"/ws/tournament/{tournament.pk}/"
        first, _ = await join_with_welcome(harness_ws, path, user=cast.organizer)
        await assert_refused(await harness_ws.connect(path, user=cast.alice), 4029, "room_full")
        await first.disconnect()
        _, welcome = await join_with_welcome(harness_ws, path, user=cast.alice)
        assert welcome["user_id"] == cast.alice.pk


# -- match consumer errors (match_consumer.py) ---------------------------------------------------------------


class TestMatchConsumerErrors:
    """The match endpoint's refusals: bad ids, spectators reporting, malformed scores."""

    async def test_match_consumer_missing_match_id(self, harness_ws, cast, match):
        """`/ws/match/` and `/ws/match` reach the consumer and are closed with invalid_id, 4000."""
        for path in ("/ws/match/", "/ws/match"):
            await assert_refused(await harness_ws.connect(path, user=cast.alice), 4000, "invalid_id")

    async def test_match_consumer_invalid_match_id(self, harness_ws, cast, match):
        """Ids that are not positive integers are invalid_id (4000); an unknown one is not_found (4004)."""
        for raw in ("abc", "0", "-3", "1.5", f"{match.pk}x", f"{match.pk}/extra"):
            client = await harness_ws.connect(f"/ws/match/{raw}/", user=cast.alice)
            await assert_refused(client, 4000, "invalid_id")
        await assert_refused(
            await harness_ws.connect("/ws/match/999999/", user=cast.alice), 4004, "not_found"
        )

    async def test_match_consumer_unauthorized_user(self, harness_ws, cast, match):
        """A spectator's report_score (even malformed) is permission_denied; organizer's and admin's pass."""
        path = f"/ws/match/{match.pk}/"
        player, _ = await join_with_welcome(harness_ws, path, user=cast.alice)
        spectator, welcome = await join_with_welcome(harness_ws, path, user=cast.carol)
        assert (welcome["role"], welcome["is_participant"]) == ("spectator", False)
        for data in ({"score1": 3, "score2": 1}, {"score1": "three"}, None):
            await spectator.send_json({"type": "report_score", "data": data})
            assert_error(await spectator.receive_json(), "permission_denied")
        await player.assert_nothing_received(1.0)  # ten score windows
        stored = Match.objects.values_list("score1", "score2")
        assert await sync_to_async(stored.get)(pk=match.pk) == (0, 0)
        organizer, welcome = await join_with_welcome(harness_ws, path, user=cast.organizer)
        assert (welcome["role"], welcome["is_participant"]) == ("organizer", False)
        admin, welcome = await join_with_welcome(harness_ws, path, user=cast.admin)
        assert (welcome["role"], welcome["is_participant"]) == ("admin", False)
        await organizer.send_json({"type": "report_score", "data": {"score1": 3, "score2": 1}})
        await admin.send_json({"type": "report_score", "data": {"score1": 4, "score2": 1}})
        update = await player.receive_json()  # one batch, the latest report wins
        assert update["type"] == "score_updated"
        # Neither reporter was refused: each one's next frame is that same batch.
        assert await organizer.receive_json() == update
        assert await admin.receive_json() == update
        assert (update["data"]["score1"], update["data"]["reported_by"], update["data"]["sequence"]) == (
            4,
            cast.admin.pk,
            1,
        )
        assert await sync_to_async(stored.get)(pk=match.pk) == (4, 1)

    async def test_match_consumer_rejects_malformed_scores(self, harness_ws, cast, match):
        """Bad scores (negative, non-integer, missing, above 2**31-1) are invalid_schema and never queued."""
        client, _ = await join_with_welcome(harness_ws, f"/ws/match/{match.pk}/", user=cast.alice)
        bad = [
            {"score1": -1, "score2": 0},
            {"score1": "3", "score2": 0},
            {"score1": True, "score2": 0},
            {"score1": 1.5, "score2": 0},
            {"score1": 1},
            {"score1": 0, "score2": 2**31},
            [1, 2],
            None,
        ]
        for data in bad:
            await client.send_json({"type": "report_score", "data": data})
            assert_error(await client.receive_json(), "invalid_schema")
        await client.send_json({"type": "report_score", "data": {"score1": 2, "score2": 1}})
        update = await client.receive_json()
        assert update == {
            "type": "score_updated",
            "data": {
                "score1": 2,
                "score2": 1,
                "reported_by": cast.alice.pk,
                "match_id": match.pk,
                "tournament_id": match.tournament_id,
                "sequence": 1,
            },
        }


# -- JWT errors (tokens.py, middleware.py) -----------------------------------------------------------


class TestJWTMiddlewareErrors:
    """Each auth_error value, from the token helpers up to the scope the consumers read."""

    def test_middleware_handles_missing_token(self):
        """No token in the scope (nothing, empty, non-Bearer, blank Bearer) is `missing`."""
        for scope in (
            {},
            {"query_string": b"token=", "headers": []},
            {"headers": [(b"authorization", b"Basic dXNlcjpwYXNz")]},
            {"headers": [(b"authorization", b"Bearer   ")]},
        ):
            assert token_from_scope(scope) is None, scope
        for token in (None, ""):
            user, error = authenticate(token)
            assert isinstance(user, AnonymousUser) and error == "missing"

    def test_middleware_handles_malformed_token(self, harness_jwt, cast):
        """Undecodable tokens, missing claims and non-integer user ids are `malformed`."""
        key = tokens.signing_key()
        now = 1_800_000_000
        assert decode_user_id(harness_jwt.malformed()) == (None, "malformed")
        assert decode_user_id("") == (None, "malformed")
        no_exp = jwt.encode({"user_id": cast.alice.pk, "iat": now}, key, algorithm="HS256")
        for claims in ({"user_id": str(cast.alice.pk)}, {"user_id": True}, {"user_id": None}):
            token = jwt.encode({**claims, "iat": now, "exp": now + 10**6}, key, algorithm="HS256")
            assert decode_user_id(token) == (None, "malformed"), claims
        assert decode_user_id(no_exp) == (None, "malformed")
        user, error = authenticate(harness_jwt.malformed())
        assert isinstance(user, AnonymousUser) and error == "malformed"

    def test_middleware_handles_expired_token(self, harness_jwt, harness_time_travel, cast):
        """A token is good until its `exp` and `expired` after it."""
        token = harness_jwt.valid(cast.alice, ttl=60)
        assert authenticate(token) == (cast.alice, None)
        harness_time_travel.shift(61)
        assert decode_user_id(token) == (None, "expired")
        assert decode_user_id(harness_jwt.expired(cast.alice, ago=1)) == (None, "expired")
        user, error = authenticate(token)
        assert isinstance(user, AnonymousUser) and error == "expired"

    def test_middleware_handles_bad_signature(self, harness_jwt, cast):
        """Another key, `alg: none` and any algorithm but HS256 are `bad_signature`."""
        foreign = jwt.encode(harness_jwt.claims(cast.alice), "k" * 64, algorithm="HS512")
        for token in (harness_jwt.wrong_key(cast.alice), harness_jwt.alg_none(cast.alice), foreign):
            assert decode_user_id(token) == (None, "bad_signature")
            user, error = authenticate(token)
            assert isinstance(user, AnonymousUser) and error == "bad_signature"
        assert decode_user_id(harness_jwt.valid(cast.alice)) == (cast.alice.pk, None)

    def test_middleware_handles_unknown_and_inactive_users(self, harness_jwt, harness_users):
        """A valid token for no user is `unknown_user`; for a deactivated one, `inactive_user`."""
        gone = harness_users.create("gone", is_active=False)
        assert decode_user_id(harness_jwt.unknown_user()) == (2_000_000_001, None)
        assert authenticate(harness_jwt.unknown_user())[1] == "unknown_user"
        user, error = authenticate(harness_jwt.valid(gone))
        assert isinstance(user, AnonymousUser) and error == "inactive_user"

    async def test_jwt_middleware_sets_scope_and_never_raises(self, harness_jwt, cast, monkeypatch, caplog):
        """The query token wins over the header; failures become auth_error, even a broken database."""
        seen = []

        async def inner(scope, receive, send):
            seen.append(scope)
            channels.append((receive, send))

        channels = []
        app = JWTAuthMiddleware(inner)
        alice, bob = harness_jwt.valid(cast.alice), harness_jwt.valid(cast.bob)
        header = [(b"Authorization", f"Bearer {bob}".encode())]
        await app(
            {"type": "websocket", "query_string": f"token={alice}".encode(), "headers": header}, None, None
        )
        await app({"type": "websocket", "query_string": b"", "headers": header}, None, None)
        await app({"type": "websocket", "query_string": b"token=junk", "headers": header}, None, None)
        receive, send = object(), object()  # stand-ins the middleware must hand on as they are
        await app({"type": "http", "query_string": f"token={alice}".encode()}, receive, send)
        assert channels[3] == (receive, send)
        assert [scope.get("user") for scope in seen[:2]] == [cast.alice, cast.bob]
        assert ["auth_error" in scope for scope in seen[:2]] == [False, False]
        assert seen[2]["auth_error"] == "malformed" and isinstance(seen[2]["user"], AnonymousUser)
        assert "user" not in seen[3]  # HTTP scopes are not authenticated here

        async def database_down(token):
            raise ConnectionError("database unreachable")

        monkeypatch.setattr(
            middleware, "_authenticate", database_down
        )  # a real DB outage can't be staged here
        await app({"type": "websocket", "query_string": f"token={alice}".encode()}, None, None)
        assert isinstance(seen[4]["user"], AnonymousUser) and seen[4]["auth_error"] == "malformed"
        assert [r.getMessage() for r in caplog.records if r.name == middleware.__name__] == [
            "JWT authentication failed unexpectedly"
        ]
