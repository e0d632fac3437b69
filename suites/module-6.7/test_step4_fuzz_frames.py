"""Module 6.7 step 4: fuzzed client frames get exactly the protocol's answer and never crash a consumer."""

import json
import math
from dataclasses import dataclass
from typing import Any

import pytest
from django.conf import settings as django_settings
from hypothesis import example, given, settings
from hypothesis import strategies as st

from suites.realtime_checks import assert_error
from target_app.tournaments.models import Match

pytestmark = pytest.mark.looptime

CAP = django_settings.WS_MAX_PAYLOAD_BYTES
# docs/protocol.md: scores are "integers from 0 to 2147483647"; anything else is `invalid_schema`.
MAX_SCORE = 2_147_483_647
# Examples per test scale with the active profile ("fast": 40 → 20, "long": 1000 → 500): each example
# opens its own connection, and the fast run must keep every test under a second.
EXAMPLES = max(10, settings.default.max_examples // 2)

ROLES = ("organizer", "admin", "participant", "spectator")
CLIENT_TYPES = {
    "tournament": frozenset({"ping", "pong", "announce"}),
    "match": frozenset({"ping", "pong", "subscribe", "report_score"}),
}
ALL_TYPES = CLIENT_TYPES["tournament"] | CLIENT_TYPES["match"]
ALIVE = {"type": "ping", "timestamp": "still-alive"}
PONG_ALIVE = {"type": "pong", "data": {"timestamp": "still-alive"}}

# -- the oracle: what the protocol says a frame gets --------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """The protocol's answer to one frame: `kind` is error, close, pong, nothing, subscribed,
    score_updated or announcement; `value` is the error code, echoed timestamp, scores or message."""

    kind: str
    value: Any = None


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("out of range")
    return value


def strict_json(text: str) -> tuple[bool, Any]:
    """The protocol's JSON: no NaN/Infinity, no out-of-range numbers, not pathologically nested."""
    try:
        return True, json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except (ValueError, RecursionError):
        return False, None


def payload_bytes(payload: str | bytes) -> int:
    return len(payload.encode("utf-8") if isinstance(payload, str) else payload)


def is_score(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_SCORE


def expected_answer(endpoint: str, role: str, payload: str | bytes) -> Answer:
    if payload_bytes(payload) > CAP:
        return Answer("close", 4009)
    if isinstance(payload, bytes):
        return Answer("error", "invalid_json")
    parsed, frame = strict_json(payload)
    if not parsed:
        return Answer("error", "invalid_json")
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        return Answer("error", "invalid_schema")
    if frame["type"] not in CLIENT_TYPES[endpoint]:
        return Answer("error", "unsupported_message_type")
    return ANSWERS[frame["type"]](role, frame)


def _ping(role: str, frame: dict) -> Answer:
    stamp = frame.get("timestamp")
    if stamp is None or (isinstance(stamp, int | float | str) and not isinstance(stamp, bool)):
        return Answer("pong", stamp)
    return Answer("error", "invalid_schema")


def _pong(role: str, frame: dict) -> Answer:
    return Answer("nothing")


def _subscribe(role: str, frame: dict) -> Answer:
    return Answer("subscribed")


def _report(role: str, frame: dict) -> Answer:
    if role not in ("participant", "organizer", "admin"):
        return Answer("error", "permission_denied")  # permission before fields
    data = frame.get("data")
    if not isinstance(data, dict) or not (is_score(data.get("score1")) and is_score(data.get("score2"))):
        return Answer("error", "invalid_schema")
    return Answer("score_updated", (data["score1"], data["score2"]))


def _announce(role: str, frame: dict) -> Answer:
    if role not in ("organizer", "admin"):
        return Answer("error", "permission_denied")
    data = frame.get("data")
    message = data.get("message") if isinstance(data, dict) else None
    # target_app refuses blank messages too (protocol.md: "a non-empty string").
    if not isinstance(message, str) or not message.strip():
        return Answer("error", "invalid_schema")
    return Answer("announcement", message)


ANSWERS = {
    "ping": _ping,
    "pong": _pong,
    "subscribe": _subscribe,
    "report_score": _report,
    "announce": _announce,
}


# -- strategies ------------------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
    max_leaves=12,
)
scores = (
    st.integers(min_value=0)
    | st.integers(MAX_SCORE - 2, MAX_SCORE + 2)
    | st.integers(max_value=-1)
    | json_values
)
messages = st.text(max_size=200) | st.text(alphabet=" \t\n\u00a0\u2003", max_size=5) | json_values


def _frame(kind: st.SearchStrategy, **optional: st.SearchStrategy) -> st.SearchStrategy:
    return st.fixed_dictionaries({"type": kind}, optional=optional)


typed_frames = st.one_of(
    _frame(st.just("ping"), timestamp=json_values | st.integers(), data=json_values),
    _frame(st.just("pong"), timestamp=json_values, data=json_values),
    _frame(st.just("subscribe"), data=json_values),
    _frame(
        st.just("report_score"),
        data=json_values
        | st.fixed_dictionaries({"score1": scores, "score2": scores}, optional={"x": json_values}),
    ),
    _frame(st.just("announce"), data=json_values | st.fixed_dictionaries({}, optional={"message": messages})),
    _frame(st.text(max_size=30).filter(lambda t: t not in ALL_TYPES), data=json_values),
    st.fixed_dictionaries({}, optional={"type": json_values.filter(lambda v: not isinstance(v, str))}),
    json_values,  # mostly not objects at all
)
json_frames = st.builds(
    lambda frame, ascii_only: json.dumps(frame, ensure_ascii=ascii_only), typed_frames, st.booleans()
)
# Nesting far below the parser's recursion limit is plain JSON; far above it is "pathological".
nested = st.one_of(st.integers(1, 40), st.integers(3000, 8000)).flatmap(
    lambda depth: st.sampled_from(
        ["[" * depth + "]" * depth, '{"type":"ping","timestamp":' + "[" * depth + "]" * depth + "}"]
    )
)
frames = st.one_of(
    json_frames,
    st.text(),  # arbitrary unicode text (no lone surrogates: a text frame is UTF-8)
    st.binary(max_size=64),
    nested,
    st.builds(
        lambda s, f: json.dumps({"type": "ping", "timestamp": f}) if s else json.dumps([f]),
        st.booleans(),
        st.floats(),
    ),
)

# -- fixtures and helpers --------------------------------------------------------------------------


@dataclass(frozen=True)
class Room:
    """Who sits where: a user per role, and the ids of the tournament and match they connect to."""

    users: dict
    tournament_id: int
    match_id: int

    def path(self, endpoint: str) -> str:
        return f"/ws/{endpoint}/{self.tournament_id if endpoint == 'tournament' else self.match_id}/"


async def open_seat(harness_ws, room: Room, endpoint: str, role: str):
    client = await harness_ws.connect(room.path(endpoint), user=room.users[role])
    welcome = await client.receive_json()
    assert welcome["type"] == "connection_established"
    assert welcome["data"]["role"] == role
    return client


async def still_served(harness_ws, room: Room) -> None:
    """A fresh client on each endpoint is welcomed, pinged back, and reached by a broadcast."""
    watcher = await open_seat(harness_ws, room, "tournament", "spectator")
    organizer = await open_seat(harness_ws, room, "tournament", "organizer")
    player = await open_seat(harness_ws, room, "match", "participant")
    for client in (watcher, organizer, player):
        await client.send_json(ALIVE)
        assert await client.receive_json() == PONG_ALIVE
    await organizer.send_json({"type": "announce", "data": {"message": "after the fuzz"}})
    organizer_id = room.users["organizer"].pk
    data = {"tournament_id": room.tournament_id, "message": "after the fuzz", "user_id": organizer_id}
    for client in (watcher, organizer):
        assert await client.receive_json() == {"type": "announcement", "data": {**data, "role": "organizer"}}
    for client in (watcher, organizer, player):
        await client.disconnect()


@pytest.fixture
async def room(harness_ws, harness_rate_limits, cast, tournament, match):
    # Many examples share one user's message bucket; the payload cap stays at its real value.
    harness_rate_limits(msg_rate=1_000_000, msg_burst=1_000_000)
    users = {
        "organizer": cast.organizer,
        "admin": cast.admin,
        "participant": cast.alice,
        "spectator": cast.carol,
    }
    room = Room(users, tournament.pk, match.pk)
    yield room
    await still_served(harness_ws, room)  # never crash the server: it serves after all the examples


async def assert_answer(client, room: Room, role: str, answer: Answer) -> None:
    """The client gets exactly `answer`, then (unless closed) still answers a ping."""
    if answer.kind == "close":
        frames = await client.expect_close(answer.value)
        assert len(frames) == 1
        assert_error(frames[0], "payload_too_large")
        return
    if answer.kind != "nothing":
        await _assert_frame(await client.receive_json(), room, role, answer)
    await client.send_json(ALIVE)
    assert await client.receive_json() == PONG_ALIVE  # nothing else arrived before it


async def _assert_frame(frame: dict, room: Room, role: str, answer: Answer) -> None:
    user = room.users[role]
    if answer.kind == "error":
        assert_error(frame, answer.value)
    elif answer.kind == "pong":
        assert frame == {"type": "pong", "data": {"timestamp": answer.value}}
    elif answer.kind == "subscribed":
        assert frame == {"type": "subscribed", "data": await _summary(room.match_id)}
    elif answer.kind == "announcement":
        data = {
            "tournament_id": room.tournament_id,
            "message": answer.value,
            "user_id": user.pk,
            "role": role,
        }
        assert frame == {"type": "announcement", "data": data}
    else:
        assert answer.kind == "score_updated"
        score1, score2 = answer.value
        sequence = frame.get("data", {}).get("sequence")
        assert isinstance(sequence, int) and sequence >= 1, frame
        ids = {"match_id": room.match_id, "tournament_id": room.tournament_id, "sequence": sequence}
        assert frame == {
            "type": "score_updated",
            "data": {"score1": score1, "score2": score2, "reported_by": user.pk, **ids},
        }
        stored = await Match.objects.aget(pk=room.match_id)
        assert (stored.score1, stored.score2) == (score1, score2)


async def _summary(match_id: int) -> dict:
    match = await Match.objects.aget(pk=match_id)
    return {
        "match_id": match.pk,
        "tournament_id": match.tournament_id,
        "state": match.state,
        "score1": match.score1,
        "score2": match.score2,
        "winner_id": match.winner_id,
        "participant1": {"id": match.participant1_id, "name": match.participant1_name},
        "participant2": {"id": match.participant2_id, "name": match.participant2_name},
    }


async def exchange(harness_ws, room: Room, endpoint: str, role: str, payload: str | bytes) -> None:
    """One example: a fresh client sends `payload` and gets exactly the protocol's answer."""
    client = await open_seat(harness_ws, room, endpoint, role)
    try:
        await (client.send_bytes if isinstance(payload, bytes) else client.send_text)(payload)
        await assert_answer(client, room, role, expected_answer(endpoint, role, payload))
    finally:
        await client.disconnect()


# -- tests -----------------------------------------------------------------------------------------


@settings(max_examples=EXAMPLES)
@given(role=st.sampled_from(ROLES), payload=frames)
@example(role="organizer", payload='{"type": "announce", "data": {"message": "hello"}}')
@example(role="participant", payload='{"type": "announce", "data": {"message": "hello"}}')
@example(role="admin", payload='{"type": "announce", "data": {"message": " \\t "}}')
@example(role="spectator", payload=b'{"type": "ping"}')
@example(role="spectator", payload='{"type": "ping", "timestamp": NaN}')
@example(role="spectator", payload='{"type": "ping", "timestamp": 1e400}')
@example(role="spectator", payload='{"type": "ping", "timestamp": ' + "9" * 5000 + "}")
@example(role="spectator", payload="[" * 5000 + "]" * 5000)
@example(role="spectator", payload='{"type": "subscribe"}')
async def test_tournament_consumer_answers_every_frame_by_the_protocol(harness_ws, room, role, payload):
    await exchange(harness_ws, room, "tournament", role, payload)


@settings(max_examples=EXAMPLES)
@given(role=st.sampled_from(ROLES), payload=frames)
@example(role="participant", payload='{"type": "report_score", "data": {"score1": 3, "score2": 1}}')
@example(role="organizer", payload='{"type": "report_score", "data": {"score1": true, "score2": 1}}')
@example(role="spectator", payload='{"type": "report_score", "data": {"score1": 3, "score2": 1}}')
@example(role="spectator", payload='{"type": "report_score", "data": "nonsense"}')
@example(role="admin", payload=f'{{"type": "report_score", "data": {{"score1": {MAX_SCORE}, "score2": 0}}}}')
@example(role="participant", payload='{"type": "subscribe", "data": [1, {"x": null}]}')
@example(role="spectator", payload='{"type": "announce", "data": {"message": "hello"}}')
@example(
    role="participant",
    payload=f'{{"type": "report_score", "data": {{"score1": 0, "score2": {MAX_SCORE + 1}}}}}',
)
# Found by this test: 2**63 crashed MatchConsumer with SQLite's OverflowError (fixed in bb0bb1e).
@example(
    role="participant", payload=f'{{"type": "report_score", "data": {{"score1": {2**63}, "score2": 0}}}}'
)
async def test_match_consumer_answers_every_frame_by_the_protocol(harness_ws, room, role, payload):
    await exchange(harness_ws, room, "match", role, payload)


def _ping_of_size(size: int, pad: str) -> str:
    """A ping whose timestamp is `pad` repeated: as close to `size` UTF-8 bytes as `pad` allows."""
    shell = json.dumps({"type": "ping", "timestamp": ""})
    count = max(0, size - len(shell)) // len(pad.encode("utf-8"))
    return json.dumps({"type": "ping", "timestamp": pad * count}, ensure_ascii=False)


@settings(max_examples=max(5, EXAMPLES // 2))
@given(
    endpoint=st.sampled_from(sorted(CLIENT_TYPES)),
    size=st.integers(CAP - 8, CAP + 8) | st.integers(1, 4 * CAP),
    pad=st.sampled_from(["x", "é", "€", "😀"]),
    binary=st.booleans(),
)
@example(endpoint="match", size=CAP, pad="x", binary=False)
@example(endpoint="match", size=CAP + 1, pad="x", binary=False)
@example(endpoint="tournament", size=CAP, pad="x", binary=True)
@example(endpoint="tournament", size=CAP + 1, pad="x", binary=True)
@example(endpoint="match", size=CAP + 3, pad="€", binary=False)  # fewer characters than the cap, more bytes
async def test_frames_around_the_payload_cap(harness_ws, room, endpoint, size, pad, binary):
    payload = b"\x00" * size if binary else _ping_of_size(size, pad)
    answer = expected_answer(endpoint, "spectator", payload)
    assert answer.kind == ("close" if payload_bytes(payload) > CAP else "error" if binary else "pong")
    await exchange(harness_ws, room, endpoint, "spectator", payload)
