"""Module 6.7 step 2: MatchConsumer's lifecycle on the test stack; real 25/50 s heartbeats, virtual time."""

import asyncio
import time

import pytest
from channels.routing import URLRouter
from django.contrib.auth.models import AnonymousUser
from redis.exceptions import ConnectionError as RedisConnectionError

from suites.realtime_checks import (
    Recorder,
    assert_refused,
    error,
    heartbeat_tasks,
    join,
    match_path,
    members,
    room_count,
)
from target_app.realtime import utils
from target_app.realtime.match_consumer import MatchConsumer
from target_app.realtime.middleware_ratelimit import RateLimitMiddleware
from target_app.realtime.routing import websocket_urlpatterns
from target_app.tournaments.models import Match, Tournament

pytestmark = pytest.mark.looptime

# Protocol values (shared spec): heartbeat defaults and the 100 ms score batch window.
HEARTBEAT_INTERVAL = 25
HEARTBEAT_TIMEOUT = 50
WINDOW = 0.1
# Executor threads (database_sync_to_async) advance virtual time in step with real time.
SLACK = 0.05


def now() -> float:
    return asyncio.get_running_loop().time()


def welcome(match, user, role: str, is_participant: bool) -> dict:
    return {
        "type": "connection_established",
        "data": {
            "match_id": match.pk,
            "tournament_id": match.tournament_id,
            "user_id": user.pk,
            "role": role,
            "is_participant": is_participant,
            "heartbeat_interval": HEARTBEAT_INTERVAL,
        },
    }


async def assert_still_open(client) -> None:
    await client.send_json({"type": "ping", "timestamp": "alive"})
    assert await client.receive_json() == {"type": "pong", "data": {"timestamp": "alive"}}


@pytest.fixture
def ghost(harness_users):
    """A deactivated user whose token is still correctly signed."""
    return harness_users.create("ghost", is_active=False)


class TestConnectByRole:
    """Every role is admitted and told who it is in `connection_established`."""

    @pytest.mark.parametrize(
        ("who", "role", "is_participant"),
        [
            ("alice", "participant", True),
            ("bob", "participant", True),
            ("organizer", "organizer", False),
            ("admin", "admin", False),
            ("carol", "spectator", False),
        ],
    )
    async def test_each_role_is_welcomed_with_its_role(
        self, harness_ws, cast, match, who, role, is_participant
    ):
        user = getattr(cast, who)
        client = await harness_ws.connect(match_path(match), user=user)
        assert client.accepted and not client.closed
        assert await client.receive_json() == welcome(match, user, role, is_participant)

    async def test_superuser_without_staff_flag_is_admin(self, harness_ws, harness_users, match):
        root = await harness_users.acreate("root", is_superuser=True)
        client = await harness_ws.connect(match_path(match), user=root)
        assert await client.receive_json() == welcome(match, root, "admin", False)

    async def test_organizer_who_plays_is_organizer_and_participant(
        self, harness_ws, harness_rows, cast, tournament
    ):
        own = await harness_rows.acreate(
            Match,
            tournament=tournament,
            participant1_id=cast.organizer.pk,
            participant1_name="organizer",
            participant2_id=cast.bob.pk,
            participant2_name="bob",
        )
        client = await harness_ws.connect(match_path(own), user=cast.organizer)
        assert await client.receive_json() == welcome(own, cast.organizer, "organizer", True)

    async def test_admin_who_plays_is_admin_and_participant(self, harness_ws, harness_rows, cast, tournament):
        own = await harness_rows.acreate(
            Match,
            tournament=tournament,
            participant1_id=cast.alice.pk,
            participant1_name="alice",
            participant2_id=cast.admin.pk,
            participant2_name="admin",
        )
        client = await harness_ws.connect(match_path(own), user=cast.admin)
        assert await client.receive_json() == welcome(own, cast.admin, "admin", True)

    async def test_staff_organizer_is_organizer_not_admin(
        self, harness_ws, harness_users, harness_rows, cast
    ):
        boss = await harness_users.acreate("boss", is_staff=True)
        cup = await harness_rows.acreate(Tournament, name="Staff Cup", organizer=boss)
        own = await harness_rows.acreate(Match, tournament=cup, participant1_id=cast.alice.pk)
        client = await harness_ws.connect(match_path(own), user=boss)
        assert await client.receive_json() == welcome(own, boss, "organizer", False)

    async def test_token_in_authorization_header_is_accepted(self, harness_ws, cast, match):
        client = await harness_ws.connect(match_path(match), user=cast.bob, token_via="header")
        assert await client.receive_json() == welcome(match, cast.bob, "participant", True)

    async def test_welcome_joins_the_match_group_and_nothing_follows_before_the_first_ping(
        self, harness_ws, harness_channel_layer, cast, match
    ):
        client = await join(harness_ws, match, cast.alice)
        assert harness_channel_layer.groups.keys() == {utils.match_group(match.pk)}
        assert len(members(harness_channel_layer, match)) == 1
        assert len(heartbeat_tasks()) == 1
        await client.assert_nothing_received(HEARTBEAT_INTERVAL - 1)


class TestConnectRefusals:
    """Bad ids, unknown matches, anonymous clients and foreign origins are accepted, told why, then closed."""

    @pytest.mark.parametrize(
        "path",
        [
            "/ws/match/",
            "/ws/match",
            "/ws/match/abc/",
            "/ws/match/0/",
            "/ws/match/-3/",
            "/ws/match/1.5/",
            "/ws/match/1e3/",
            "/ws/match/%201/",
            "/ws/match/\u00b2/",  # a digit, but not an ASCII one
            "/ws/match/1/2/",
        ],
    )
    async def test_missing_or_bad_id_is_closed_with_4000(
        self, harness_ws, harness_channel_layer, cast, match, path
    ):
        client = await harness_ws.connect(path, user=cast.alice)
        await assert_refused(
            client, 4000, "invalid_id", harness_channel_layer, message="match_id must be a positive integer"
        )

    async def test_bad_id_is_reported_before_authentication(self, harness_ws, harness_channel_layer):
        client = await harness_ws.connect("/ws/match/abc/")
        await assert_refused(client, 4000, "invalid_id", harness_channel_layer)

    async def test_unknown_match_is_closed_with_4004(self, harness_ws, harness_channel_layer, cast, match):
        client = await harness_ws.connect(f"/ws/match/{match.pk + 1000}/", user=cast.alice)
        said = f"match_id {match.pk + 1000} not found"
        await assert_refused(client, 4004, "not_found", harness_channel_layer, message=said)

    @pytest.mark.parametrize(
        ("token_kind", "auth_error"),
        [
            ("none", "missing"),
            ("malformed", "malformed"),
            ("expired", "expired"),
            ("wrong_key", "bad_signature"),
            ("alg_none", "bad_signature"),
            ("unknown_user", "unknown_user"),
            ("inactive_user", "inactive_user"),
        ],
    )
    async def test_unauthenticated_is_closed_with_4001_naming_the_auth_error(
        self, harness_ws, harness_jwt, harness_channel_layer, cast, ghost, match, token_kind, auth_error
    ):
        token = {
            "none": lambda: None,
            "malformed": harness_jwt.malformed,
            "expired": lambda: harness_jwt.expired(cast.alice),
            "wrong_key": lambda: harness_jwt.wrong_key(cast.alice),
            "alg_none": lambda: harness_jwt.alg_none(cast.alice),
            "unknown_user": harness_jwt.unknown_user,
            "inactive_user": lambda: harness_jwt.valid(ghost),
        }[token_kind]()
        client = await harness_ws.connect(match_path(match), token=token)
        said = "authentication required"
        await assert_refused(client, 4001, auth_error, harness_channel_layer, message=said)

    async def test_authentication_is_checked_before_the_match_exists(self, harness_ws, harness_channel_layer):
        client = await harness_ws.connect("/ws/match/999999/")
        await assert_refused(client, 4001, "missing", harness_channel_layer)

    async def test_anonymous_scope_without_auth_error_gets_auth_required(
        self, harness_ws, harness_channel_layer, match
    ):
        # A stack without the JWT middleware: the user is anonymous and no auth_error says why.
        bare = RateLimitMiddleware(URLRouter(websocket_urlpatterns))
        client = await harness_ws.connect(
            match_path(match), application=bare, scope={"user": AnonymousUser()}
        )
        said = "authentication required"
        await assert_refused(client, 4001, "auth_required", harness_channel_layer, message=said)

    @pytest.mark.parametrize(
        ("origin", "headers"),
        [(None, None), ("http://evil.example", None), (None, {"x-origin": "http://localhost"})],
    )
    async def test_origin_outside_the_allowed_list_is_closed_with_4003(
        self, harness_ws, harness_channel_layer, settings, cast, match, origin, headers
    ):
        settings.WS_ALLOWED_ORIGINS = ["http://localhost"]
        client = await harness_ws.connect(match_path(match), user=cast.alice, origin=origin, headers=headers)
        said = "origin not allowed"
        await assert_refused(client, 4003, "origin_not_allowed", harness_channel_layer, message=said)

    async def test_allowed_origin_is_welcomed(self, harness_ws, settings, cast, match):
        settings.WS_ALLOWED_ORIGINS = ["http://localhost"]
        client = await harness_ws.connect(match_path(match), user=cast.alice, origin="http://localhost")
        assert await client.receive_json() == welcome(match, cast.alice, "participant", True)

    async def test_origin_is_checked_before_the_id(self, harness_ws, harness_channel_layer, settings):
        settings.WS_ALLOWED_ORIGINS = ["http://localhost"]
        client = await harness_ws.connect("/ws/match/abc/", origin="http://evil.example")
        await assert_refused(client, 4003, "origin_not_allowed", harness_channel_layer)

    async def test_consumer_served_without_a_router_is_closed_with_4000(
        self, harness_ws, harness_channel_layer
    ):
        """Mounted without URLRouter the scope has no `url_route`: that is a missing id, not a crash."""
        client = await harness_ws.connect("/ws/match/7/", application=MatchConsumer.as_asgi())
        await assert_refused(client, 4000, "invalid_id", harness_channel_layer)


class TestClientFrames:
    """Each client frame type gets its protocol answer; every error leaves the connection open."""

    @pytest.mark.parametrize(
        ("frame", "echoed"),
        [
            ({"type": "ping", "timestamp": 1700000000}, 1700000000),
            ({"type": "ping", "timestamp": 12.5}, 12.5),
            ({"type": "ping", "timestamp": "t-1"}, "t-1"),
            ({"type": "ping", "timestamp": None}, None),
            ({"type": "ping"}, None),
        ],
    )
    async def test_ping_is_answered_with_pong_echoing_its_timestamp(
        self, harness_ws, cast, match, frame, echoed
    ):
        client = await join(harness_ws, match, cast.carol)
        await client.send_json(frame)
        assert await client.receive_json() == {"type": "pong", "data": {"timestamp": echoed}}

    @pytest.mark.parametrize("timestamp", [True, [1], {"at": 1}])
    async def test_ping_with_a_timestamp_of_the_wrong_type_is_invalid_schema(
        self, harness_ws, cast, match, timestamp
    ):
        client = await join(harness_ws, match, cast.carol)
        await client.send_json({"type": "ping", "timestamp": timestamp})
        wrong_type = error("invalid_schema", "'timestamp' must be a number or a string")
        assert await client.receive_json() == wrong_type
        await assert_still_open(client)

    async def test_pong_gets_no_answer(self, harness_ws, cast, match):
        client = await join(harness_ws, match, cast.alice)
        await client.send_json({"type": "pong", "data": {"timestamp": 1}})
        await client.assert_nothing_received(HEARTBEAT_INTERVAL - 1)

    async def test_subscribe_answers_with_the_match_as_stored(self, harness_ws, cast, match):
        await Match.objects.filter(pk=match.pk).aupdate(
            state="completed", score1=2, score2=5, winner_id=cast.bob.pk
        )
        client = await join(harness_ws, match, cast.carol)
        await client.send_json({"type": "subscribe"})
        assert await client.receive_json() == {
            "type": "subscribed",
            "data": {
                "match_id": match.pk,
                "tournament_id": match.tournament_id,
                "state": "completed",
                "score1": 2,
                "score2": 5,
                "winner_id": cast.bob.pk,
                "participant1": {"id": cast.alice.pk, "name": "alice"},
                "participant2": {"id": cast.bob.pk, "name": "bob"},
            },
        }

    async def test_subscribe_after_the_match_was_deleted_closes_with_4004(self, harness_ws, cast, match):
        client = await join(harness_ws, match, cast.alice)
        await Match.objects.filter(pk=match.pk).adelete()
        await client.send_json({"type": "subscribe"})
        gone = error("not_found", f"match_id {match.pk} no longer exists")
        assert await client.expect_close(4004) == [gone]

    async def test_participant_score_is_saved_and_broadcast_once_after_the_window(
        self, harness_ws, cast, tournament, match
    ):
        alice = await join(harness_ws, match, cast.alice)
        watcher = await harness_ws.connect(f"/ws/tournament/{tournament.pk}/", user=cast.organizer)
        assert (await watcher.receive_json())["type"] == "connection_established"
        sent_at = now()
        await alice.send_json({"type": "report_score", "data": {"score1": 3, "score2": 0}})
        expected = {
            "type": "score_updated",
            "data": {
                "score1": 3,
                "score2": 0,
                "reported_by": cast.alice.pk,
                "match_id": match.pk,
                "tournament_id": tournament.pk,
                "sequence": 1,
            },
        }
        assert await alice.receive_json() == expected
        assert now() - sent_at == pytest.approx(WINDOW, abs=SLACK)
        assert await watcher.receive_json() == expected  # the tournament group gets it too
        stored = await Match.objects.aget(pk=match.pk)
        assert (stored.score1, stored.score2) == (3, 0)
        await alice.assert_nothing_received(1)

    @pytest.mark.parametrize("who", ["organizer", "admin"])
    async def test_organizer_and_admin_may_report_scores(self, harness_ws, cast, match, who):
        reporter = await join(harness_ws, match, getattr(cast, who))
        await reporter.send_json({"type": "report_score", "data": {"score1": 0, "score2": 7}})
        frame = await reporter.receive_json()
        assert frame["type"] == "score_updated"
        assert frame["data"]["reported_by"] == getattr(cast, who).pk
        assert (frame["data"]["score1"], frame["data"]["score2"], frame["data"]["sequence"]) == (0, 7, 1)
        stored = await Match.objects.aget(pk=match.pk)
        assert (stored.score1, stored.score2) == (0, 7)

    @pytest.mark.parametrize(
        "frame",
        [
            {"type": "report_score", "data": {"score1": 1, "score2": 0}},
            {"type": "report_score", "data": "not an object"},  # permission is checked before fields
        ],
    )
    async def test_spectator_report_is_permission_denied_and_changes_nothing(
        self, harness_ws, cast, match, frame
    ):
        alice = await join(harness_ws, match, cast.alice)
        carol = await join(harness_ws, match, cast.carol)
        await carol.send_json(frame)
        denial = "only participants, the organizer or an admin report scores"
        assert await carol.receive_json() == error("permission_denied", denial)
        await alice.assert_nothing_received(1)
        stored = await Match.objects.aget(pk=match.pk)
        assert (stored.score1, stored.score2) == (0, 0)
        await assert_still_open(carol)

    @pytest.mark.parametrize(
        "frame",
        [
            {"type": "report_score"},
            {"type": "report_score", "data": [1, 2]},
            {"type": "report_score", "data": {"score2": 1}},
            {"type": "report_score", "data": {"score1": 1}},
            {"type": "report_score", "data": {"score1": -1, "score2": 0}},
            {"type": "report_score", "data": {"score1": 1.5, "score2": 0}},
            {"type": "report_score", "data": {"score1": "3", "score2": 0}},
            {"type": "report_score", "data": {"score1": True, "score2": 0}},
            {"type": "report_score", "data": {"score1": 0, "score2": False}},
            {"type": "report_score", "data": {"score1": 0, "score2": None}},
        ],
    )
    async def test_report_with_bad_scores_is_invalid_schema(self, harness_ws, cast, match, frame):
        alice = await join(harness_ws, match, cast.alice)
        await alice.send_json(frame)
        assert await alice.receive_json() == error("invalid_schema")
        await alice.assert_nothing_received(1)  # no score_updated after the window either
        stored = await Match.objects.aget(pk=match.pk)
        assert (stored.score1, stored.score2) == (0, 0)
        await assert_still_open(alice)

    @pytest.mark.parametrize(
        ("raw", "code"),
        [
            ("not json", "invalid_json"),
            ("", "invalid_json"),
            ('{"type": "ping", "timestamp": NaN}', "invalid_json"),
            ('{"type": "ping", "timestamp": 1e999}', "invalid_json"),
            ("[" * 5000 + "]" * 5000, "invalid_json"),
            (b'{"type": "ping"}', "invalid_json"),  # binary frames are not supported
            ("[]", "invalid_schema"),
            ('"ping"', "invalid_schema"),
            ("{}", "invalid_schema"),
            ('{"type": 1}', "invalid_schema"),
            ('{"type": null}', "invalid_schema"),
            ('{"type": "dance"}', "unsupported_message_type"),
            ('{"type": "PING"}', "unsupported_message_type"),
            # announce exists on the tournament endpoint only
            ('{"type": "announce", "data": {"message": "hi"}}', "unsupported_message_type"),
        ],
    )
    async def test_malformed_frame_gets_its_error_code_and_the_connection_stays_open(
        self, harness_ws, cast, match, raw, code
    ):
        client = await join(harness_ws, match, cast.organizer)
        if isinstance(raw, bytes):
            await client.send_bytes(raw)
        else:
            await client.send_text(raw)
        assert await client.receive_json() == error(code)
        await assert_still_open(client)


class TestReportIsAuthorizedWhenItArrives:
    """docs/protocol.md "Roles": `report_score` is authorized from the database as it is then."""

    REPORT = {"type": "report_score", "data": {"score1": 2, "score2": 1}}

    async def assert_refused_now(self, reporter, bob, match, close_code: int, expected: dict) -> None:
        """The report gets `expected` and `close_code`; the score is unchanged and bob is sent nothing."""
        await reporter.send_json(self.REPORT)
        assert await reporter.expect_close(close_code) == [expected]
        await bob.assert_nothing_received(1)  # past the batch window: no score_updated
        assert await Match.objects.filter(pk=match.pk, score1=2).aexists() is False

    async def test_a_participant_deactivated_since_connecting_is_closed_with_4001(
        self, harness_ws, django_user_model, cast, match
    ):
        alice, bob = await join(harness_ws, match, cast.alice), await join(harness_ws, match, cast.bob)
        await django_user_model.objects.filter(pk=cast.alice.pk).aupdate(is_active=False)
        refused = error("inactive_user", "this account may no longer act")
        await self.assert_refused_now(alice, bob, match, 4001, refused)

    async def test_a_participant_deleted_since_connecting_is_closed_with_4001(
        self, harness_ws, django_user_model, cast, match
    ):
        alice, bob = await join(harness_ws, match, cast.alice), await join(harness_ws, match, cast.bob)
        await django_user_model.objects.filter(pk=cast.alice.pk).adelete()
        refused = error("unknown_user", "this account may no longer act")
        await self.assert_refused_now(alice, bob, match, 4001, refused)

    async def test_a_report_for_a_match_deleted_since_connecting_is_closed_with_4004(
        self, harness_ws, cast, match
    ):
        alice = await join(harness_ws, match, cast.alice)
        await Match.objects.filter(pk=match.pk).adelete()
        await alice.send_json(self.REPORT)
        assert await alice.expect_close(4004) == [error("not_found", f"match_id {match.pk} no longer exists")]
        assert await Match.objects.filter(pk=match.pk).aexists() is False


SERVER_EVENTS = [
    ("score_updated", {"score1": 4, "score2": 2, "sequence": 9}),
    ("match_started", {"state": "live"}),
    ("match_completed", {"winner_id": 12}),
    ("match_state_changed", {"old_state": "live", "new_state": "disputed"}),
    ("dispute_created", {"reason": "lag", "reported_by": 3}),
    ("bracket_updated", {"round": 2}),
    ("announcement", {"message": "finals at 6"}),
]


class TestServerEvents:
    """Events sent to the match group reach the client as `{"type", "data"}`, unchanged and in order."""

    @pytest.mark.parametrize(("event_type", "data"), SERVER_EVENTS)
    async def test_group_event_is_relayed_unchanged(
        self, harness_ws, harness_channel_layer, cast, match, event_type, data
    ):
        client = await join(harness_ws, match, cast.carol)
        await harness_channel_layer.group_send(
            utils.match_group(match.pk), {"type": event_type, "data": data}
        )
        assert await client.receive_json() == {"type": event_type, "data": data}
        await client.assert_nothing_received(1)

    async def test_event_without_data_is_relayed_with_empty_data(
        self, harness_ws, harness_channel_layer, cast, match
    ):
        client = await join(harness_ws, match, cast.carol)
        await harness_channel_layer.group_send(utils.match_group(match.pk), {"type": "match_started"})
        assert await client.receive_json() == {"type": "match_started", "data": {}}

    async def test_events_arrive_in_the_order_sent(self, harness_ws, harness_channel_layer, cast, match):
        client = await join(harness_ws, match, cast.alice)
        for event_type, data in SERVER_EVENTS:
            await harness_channel_layer.group_send(
                utils.match_group(match.pk), {"type": event_type, "data": data}
            )
        received = [await client.receive_json() for _ in SERVER_EVENTS]
        assert received == [{"type": event_type, "data": data} for event_type, data in SERVER_EVENTS]

    async def test_error_sent_to_one_connection_reaches_only_that_client(
        self, harness_ws, harness_channel_layer, cast, match
    ):
        alice = await join(harness_ws, match, cast.alice)
        (alice_channel,) = members(harness_channel_layer, match)
        bob = await join(harness_ws, match, cast.bob)
        await utils.send_error_to_channel(alice_channel, "score_locked", "scores are locked for review")
        assert await alice.receive_json() == {
            "type": "error",
            "code": "score_locked",
            "message": "scores are locked for review",
        }
        await bob.assert_nothing_received(1)
        await assert_still_open(alice)

    @pytest.mark.parametrize("event", [{"type": "error"}, {"type": "error", "data": {}}])
    async def test_error_event_without_code_or_message_still_reaches_the_client(
        self, harness_ws, harness_channel_layer, cast, match, event
    ):
        """docs/protocol.md "Frames": an `error` event lacking them arrives as code `error`, empty message."""
        alice = await join(harness_ws, match, cast.alice)
        (alice_channel,) = members(harness_channel_layer, match)
        await harness_channel_layer.send(alice_channel, event)
        assert await alice.receive_json() == {"type": "error", "code": "error", "message": ""}
        await assert_still_open(alice)


class TestHeartbeat:
    """The server pings every 25 s and closes with 4008 after 50 s without a client frame."""

    async def test_server_pings_every_25_seconds_while_the_client_answers(self, harness_ws, cast, match):
        client = await join(harness_ws, match, cast.alice)
        t0 = now()
        for n in (1, 2, 3):
            ping = await client.receive_json(timeout=HEARTBEAT_INTERVAL + 1)
            assert now() - t0 == pytest.approx(n * HEARTBEAT_INTERVAL, abs=SLACK)
            assert ping["type"] == "ping" and ping.keys() == {"type", "data"}
            assert ping["data"]["timestamp"] == pytest.approx(time.time(), abs=5)  # unix seconds
            await client.send_json({"type": "pong"})
        assert not client.closed

    async def test_silent_client_is_closed_with_4008_after_50_seconds(self, harness_ws, cast, match):
        client = await join(harness_ws, match, cast.alice)
        t0 = now()
        frames = await client.expect_close(4008, timeout=HEARTBEAT_TIMEOUT + 5)
        assert now() - t0 == pytest.approx(HEARTBEAT_TIMEOUT, abs=SLACK)
        assert [frame["type"] for frame in frames] == ["ping", "error"]  # one ping at 25 s, then the reason
        assert frames[1] == error("heartbeat_timeout", "no frame from the client in time")
        assert heartbeat_tasks() == []  # the heartbeat ended with its close

    @pytest.mark.parametrize(
        ("raw", "answer"),
        [
            ('{"type": "pong"}', []),
            ('{"type": "ping"}', [{"type": "pong", "data": {"timestamp": None}}]),
            ("garbage", [error("invalid_json")]),
            ('{"type": "dance"}', [error("unsupported_message_type")]),
        ],
    )
    async def test_any_client_frame_resets_the_deadline(self, harness_ws, cast, match, raw, answer):
        client = await join(harness_ws, match, cast.alice)
        t0 = now()
        await asyncio.sleep(40)
        await client.send_text(raw)
        frames = await client.expect_close(4008, timeout=60)
        # 50 s after the frame sent at 40 s; pings kept their 25 s rhythm meanwhile.
        assert now() - t0 == pytest.approx(40 + HEARTBEAT_TIMEOUT, abs=SLACK)
        pings = [frame for frame in frames if frame["type"] == "ping"]
        assert len(pings) == 3  # at 25, 50 and 75 s
        assert [frame for frame in frames if frame["type"] != "ping"] == [*answer, error("heartbeat_timeout")]

    async def test_a_frame_arriving_while_the_heartbeat_waits_for_the_deadline_moves_it(
        self, harness_ws, cast, match
    ):
        client = await join(harness_ws, match, cast.alice)
        t0 = now()
        await asyncio.sleep(10)
        await client.send_json({"type": "pong"})  # deadline 60 s, after the ping at 50 s
        await asyncio.sleep(45)
        await client.send_json({"type": "pong"})  # at 55 s, while the heartbeat sleeps until 60 s
        frames = await client.expect_close(4008, timeout=60)
        assert now() - t0 == pytest.approx(55 + HEARTBEAT_TIMEOUT, abs=SLACK)
        assert [frame["type"] for frame in frames] == ["ping"] * 4 + ["error"]  # at 25, 50, 75, 100 s
        assert frames[-1] == error("heartbeat_timeout")

    async def test_heartbeat_task_is_cancelled_on_disconnect(self, harness_ws, cast, match):
        client = await join(harness_ws, match, cast.alice)
        (task,) = heartbeat_tasks()
        await client.disconnect()
        assert task.cancelled()
        assert heartbeat_tasks() == []

    async def test_nothing_is_sent_after_the_heartbeat_close(
        self, harness_ws, harness_asgi_app, harness_channel_layer, cast, match
    ):
        recorder = Recorder(harness_asgi_app)
        client = await harness_ws.connect(match_path(match), user=cast.alice, application=recorder)
        await client.expect_close(4008, timeout=HEARTBEAT_TIMEOUT + 5)
        # The consumer stays in its group until the server reports the disconnect: a late event is dropped.
        await harness_channel_layer.group_send(
            utils.match_group(match.pk), {"type": "match_started", "data": {}}
        )
        await asyncio.sleep(1)
        assert recorder.after_close() == []
        await client.disconnect()
        assert members(harness_channel_layer, match) == set()

    async def test_nothing_is_sent_after_a_not_found_close_even_past_the_deadline(
        self, harness_ws, harness_asgi_app, cast, match
    ):
        recorder = Recorder(harness_asgi_app)
        client = await harness_ws.connect(match_path(match), user=cast.alice, application=recorder)
        await Match.objects.filter(pk=match.pk).adelete()
        await client.send_json({"type": "subscribe"})
        await client.expect_close(4004)
        await asyncio.sleep(2 * HEARTBEAT_TIMEOUT)  # the heartbeat's ping and timeout find the socket closed
        assert recorder.after_close() == []
        await client.disconnect()
        assert heartbeat_tasks() == []


class TestDisconnect:
    """A client that leaves is out of the group; the others carry on."""

    async def test_graceful_disconnect_leaves_the_group(self, harness_ws, harness_channel_layer, cast, match):
        alice = await join(harness_ws, match, cast.alice)
        bob = await join(harness_ws, match, cast.bob)
        assert len(members(harness_channel_layer, match)) == 2
        await alice.disconnect()
        assert len(members(harness_channel_layer, match)) == 1
        assert len(heartbeat_tasks()) == 1  # bob's
        await harness_channel_layer.group_send(
            utils.match_group(match.pk), {"type": "match_started", "data": {}}
        )
        assert await bob.receive_json() == {"type": "match_started", "data": {}}
        await bob.disconnect()
        assert members(harness_channel_layer, match) == set()

    async def test_disconnect_twice_is_harmless(self, harness_ws, harness_channel_layer, cast, match):
        client = await join(harness_ws, match, cast.alice)
        await client.disconnect(code=1001)
        await client.disconnect()
        assert members(harness_channel_layer, match) == set()

    async def test_a_join_the_channel_layer_refuses_gives_back_only_its_own_room_slot(
        self, harness_ws, harness_channel_layer, monkeypatch, cast, match
    ):
        """docs/protocol.md "When Redis goes away": refused with 1011, its room slot back, once."""
        alice = await join(harness_ws, match, cast.alice)
        assert await room_count(match) == 1

        async def unreachable(group, channel):
            raise RedisConnectionError("channel layer down")

        monkeypatch.setattr(harness_channel_layer, "group_add", unreachable)
        bob = await harness_ws.connect(match_path(match), user=cast.bob)
        unavailable = error("unavailable", "live updates are unavailable; retry shortly")
        assert await bob.expect_close(1011) == [unavailable]
        await bob.disconnect()
        assert await room_count(match) == 1  # alice's place, still hers
        assert len(heartbeat_tasks()) == 1  # alice's
        await alice.disconnect()
        assert await room_count(match) == 0


class TestTwoClientsAndIsolation:
    """Clients of one match share its events; other matches hear none of them."""

    async def test_every_client_of_a_match_gets_each_event_once(
        self, harness_ws, harness_channel_layer, cast, match
    ):
        clients = [await join(harness_ws, match, user) for user in (cast.alice, cast.bob, cast.carol)]
        await clients[1].send_json({"type": "report_score", "data": {"score1": 1, "score2": 2}})
        for client in clients:
            frame = await client.receive_json()
            assert frame["type"] == "score_updated"
            assert (frame["data"]["reported_by"], frame["data"]["sequence"]) == (cast.bob.pk, 1)
        await harness_channel_layer.group_send(
            utils.match_group(match.pk), {"type": "match_started", "data": {}}
        )
        for client in clients:
            assert await client.receive_json() == {"type": "match_started", "data": {}}
            await client.assert_nothing_received(0.5)

    async def test_events_of_one_match_do_not_reach_another(
        self, harness_ws, harness_channel_layer, cast, match, other_match
    ):
        here = await join(harness_ws, match, cast.alice)
        there = await join(harness_ws, other_match, cast.carol)
        await harness_channel_layer.group_send(
            utils.match_group(match.pk), {"type": "match_started", "data": {}}
        )
        await here.send_json({"type": "report_score", "data": {"score1": 5, "score2": 5}})
        assert await here.receive_json() == {"type": "match_started", "data": {}}
        assert (await here.receive_json())["data"]["match_id"] == match.pk
        await there.assert_nothing_received(1)

        organizer = await join(harness_ws, other_match, cast.organizer)
        await organizer.send_json({"type": "report_score", "data": {"score1": 1, "score2": 0}})
        frame = await there.receive_json()
        assert (frame["type"], frame["data"]["match_id"], frame["data"]["sequence"]) == (
            "score_updated",
            other_match.pk,
            1,  # sequences count per match
        )
        await here.assert_nothing_received(1)
        stored = await Match.objects.aget(pk=match.pk)
        assert (stored.score1, stored.score2) == (5, 5)

    async def test_clients_of_one_match_in_two_tournaments_stay_apart(
        self, harness_ws, harness_rows, harness_channel_layer, cast, match, other_tournament
    ):
        elsewhere = await harness_rows.acreate(
            Match, tournament=other_tournament, participant1_id=cast.alice.pk, participant1_name="alice"
        )
        home = await join(harness_ws, match, cast.alice)
        away = await join(harness_ws, elsewhere, cast.alice)
        await harness_channel_layer.group_send(
            utils.match_group(elsewhere.pk), {"type": "bracket_updated", "data": {}}
        )
        assert await away.receive_json() == {"type": "bracket_updated", "data": {}}
        await home.assert_nothing_received(1)
