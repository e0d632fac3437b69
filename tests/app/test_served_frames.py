"""Bad frames on the served app: each gets the protocol's error (or 4009), and the server keeps serving."""

import json

import jwt
import pytest

MAX_PAYLOAD = 16384  # WS_MAX_PAYLOAD_BYTES's default
MAX_FRAME = 1024 * 1024  # WS_MAX_FRAME_BYTES's default: the largest frame the server reads

P1, ORGANIZER, SPECTATOR = "participant1", "announcer", "spectator"


def _score(**data) -> dict:
    return {"type": "report_score", "data": data}


# case → (sender, frame, error code). The sender is an arena role on its match; "announcer" is the
# organizer on the tournament.
BAD_FRAMES = {
    "not-json": (P1, "hello there", "invalid_json"),
    "truncated-json": (P1, '{"type": "ping"', "invalid_json"),
    "empty-text": (P1, "", "invalid_json"),
    "binary": (P1, b"\x00\x01\xfe\xff", "invalid_json"),
    "binary-json": (P1, b'{"type": "ping"}', "invalid_json"),
    "nan-constant": (P1, '{"type": "ping", "timestamp": NaN}', "invalid_json"),
    "number-out-of-range": (P1, '{"type": "ping", "timestamp": 1e999}', "invalid_json"),
    "deeply-nested": (P1, "[" * 6000 + "]" * 6000, "invalid_json"),
    "array": (P1, "[]", "invalid_schema"),
    "string": (P1, '"ping"', "invalid_schema"),
    "null": (P1, "null", "invalid_schema"),
    "no-type": (P1, {"data": {}}, "invalid_schema"),
    "type-not-string": (P1, {"type": 5}, "invalid_schema"),
    "type-null": (P1, {"type": None}, "invalid_schema"),
    "ping-timestamp-object": (P1, {"type": "ping", "timestamp": {}}, "invalid_schema"),
    "ping-timestamp-bool": (P1, {"type": "ping", "timestamp": True}, "invalid_schema"),
    "score-no-data": (P1, {"type": "report_score"}, "invalid_schema"),
    "score-data-list": (P1, {"type": "report_score", "data": [1, 2]}, "invalid_schema"),
    "score-string": (P1, _score(score1="3", score2=1), "invalid_schema"),
    "score-negative": (P1, _score(score1=-1, score2=1), "invalid_schema"),
    "score-bool": (P1, _score(score1=True, score2=1), "invalid_schema"),
    "score-float": (P1, _score(score1=1.5, score2=1), "invalid_schema"),
    "score-missing": (P1, _score(score1=1), "invalid_schema"),
    "announce-number": (ORGANIZER, {"type": "announce", "data": {"message": 5}}, "invalid_schema"),
    "announce-blank": (ORGANIZER, {"type": "announce", "data": {"message": "  "}}, "invalid_schema"),
    "announce-no-data": (ORGANIZER, {"type": "announce"}, "invalid_schema"),
    "unknown-type": (P1, {"type": "hello"}, "unsupported_message_type"),
    "empty-type": (P1, {"type": ""}, "unsupported_message_type"),
    "announce-on-match": (P1, {"type": "announce", "data": {"message": "hi"}}, "unsupported_message_type"),
    "score-on-tournament": (ORGANIZER, _score(score1=1, score2=0), "unsupported_message_type"),
    "spectator-reports-score": (SPECTATOR, _score(score1=1, score2=0), "permission_denied"),
    "spectator-bad-score": (SPECTATOR, _score(score1="x"), "permission_denied"),
}


# One of each kind on one connection; fewer than the message burst (20), so none is rate limited.
BARRAGE = (
    "not-json",
    "binary",
    "deeply-nested",
    "nan-constant",
    "array",
    "type-not-string",
    "score-string",
    "unknown-type",
)


def _endpoint(arena, sender: str) -> tuple[str, str]:
    """(path, token) for a BAD_FRAMES sender: the organizer on the tournament, or a role on the match."""
    if sender == ORGANIZER:
        return arena.tournament_path, arena.users["organizer"].token
    return arena.match_path, arena.users[sender].token


@pytest.mark.parametrize("case", BAD_FRAMES)
async def test_a_bad_frame_gets_its_error_and_the_connection_stays_open(served, case):
    sender, frame, code = BAD_FRAMES[case]
    async with served.join(*_endpoint(served.arena(), sender)) as client:
        await client.send(frame)
        await client.expect_error(code)
        await client.ping_pong()


async def test_a_participant_may_not_announce(served):
    arena = served.arena()
    async with served.join(arena.tournament_path, arena.users["participant1"].token) as client:
        assert client.welcome["role"] == "participant"
        await client.send({"type": "announce", "data": {"message": "I won"}})
        await client.expect_error("permission_denied")
        await client.ping_pong()


def _ping_of_size(size: int) -> str:
    frame = json.dumps({"type": "ping", "timestamp": ""})
    text = json.dumps({"type": "ping", "timestamp": "x" * (size - len(frame))})
    assert len(text.encode()) == size
    return text


async def test_a_frame_of_exactly_the_cap_is_served(served):
    arena = served.arena()
    async with served.join(arena.match_path, arena.users["spectator"].token) as client:
        frame = _ping_of_size(MAX_PAYLOAD)
        await client.send(frame)
        assert (await client.expect("pong"))["timestamp"] == json.loads(frame)["timestamp"]


@pytest.mark.parametrize(
    "frame",
    [
        _ping_of_size(MAX_PAYLOAD + 1),
        "é" * (MAX_PAYLOAD // 2 + 1),  # fewer characters than the cap, more UTF-8 bytes
        b"\x00" * (MAX_PAYLOAD + 1),
        "x" * MAX_FRAME,
    ],
    ids=["one-byte-over", "utf8-bytes-over", "binary-over", "the-frame-limit"],
)
async def test_a_frame_over_the_cap_closes_4009(served, frame):
    arena = served.arena()
    async with served.join(arena.match_path, arena.users["spectator"].token) as client:
        await client.send(frame)
        await client.expect_error("payload_too_large")
        assert await client.close_code() == 4009


async def test_a_frame_over_the_frame_limit_is_refused_unread_with_1009(served):
    arena = served.arena()
    async with served.join(arena.match_path, arena.users["spectator"].token) as client:
        await client.send("x" * (MAX_FRAME + 1))
        assert await client.close_code() == 1009  # message too big: the transport's own close, no frame
    async with served.join(arena.match_path, arena.users["spectator"].token) as client:
        await client.ping_pong()


async def test_bad_input_never_takes_the_server_down(served):
    """A bystander stays served while another client throws everything at the server; no crash is logged."""
    bystander_arena, attacker = served.arena(), served.arena()
    log_before = len(served.log())
    forged = jwt.encode({"user_id": attacker.users["spectator"].id}, None, algorithm="none")
    async with served.join(bystander_arena.match_path, bystander_arena.users["spectator"].token) as bystander:
        for path, token, close in [
            ("/ws/match/not-a-number/", None, 4000),
            ("/ws/match/99999999999999999999999999/", attacker.users["spectator"].token, 4004),
            (attacker.match_path, forged, 4001),
        ]:
            async with served.connect(path, token) as client:
                assert (await client.recv())["type"] == "error"
                assert await client.close_code() == close
        async with served.join(attacker.match_path, attacker.users[P1].token) as client:
            for case in BARRAGE:
                _, frame, code = BAD_FRAMES[case]
                await client.send(frame)
                await client.expect_error(code)
            await client.send("x" * (MAX_PAYLOAD * 4))
            await client.expect_error("payload_too_large")
            assert await client.close_code() == 4009
        await bystander.ping_pong()
        async with served.join(attacker.tournament_path, attacker.users["organizer"].token) as newcomer:
            await newcomer.ping_pong()
    assert served.alive()
    log = served.log()[log_before:]
    assert "Traceback" not in log and "ERROR" not in log, log
