"""Connecting to the served app: roles, ping/pong, the Origin check and close codes 4000, 4001 and 4004."""

import time

import jwt
import pytest
from websockets.exceptions import InvalidStatus

ROLES = {"organizer": "organizer", "admin": "admin", "participant1": "participant", "spectator": "spectator"}


@pytest.mark.parametrize(("user", "role"), ROLES.items())
async def test_match_welcome_names_the_role(served, user, role):
    demo = served.demo
    async with served.join(f"/ws/match/{demo['match']}/", served.demo_tokens[user]) as client:
        assert client.welcome == {
            "match_id": demo["match"],
            "tournament_id": demo["tournament"],
            "user_id": demo["users"][user]["id"],
            "role": role,
            "is_participant": user == "participant1",
            "heartbeat_interval": 25,
        }


@pytest.mark.parametrize(("user", "role"), [("organizer", "organizer"), ("participant2", "participant")])
async def test_tournament_welcome_names_the_role(served, user, role):
    demo = served.demo
    async with served.join(f"/ws/tournament/{demo['tournament']}/", served.demo_tokens[user]) as client:
        assert client.welcome == {
            "tournament_id": demo["tournament"],
            "user_id": demo["users"][user]["id"],
            "role": role,
            "is_participant": user == "participant2",
            "heartbeat_interval": 25,
        }


async def test_bearer_header_authenticates_like_the_query_string(served):
    headers = {"Authorization": f"Bearer {served.demo_tokens['admin']}"}
    async with served.connect(f"/ws/match/{served.demo['match']}/", headers=headers) as client:
        welcome = await client.expect("connection_established")
        assert (welcome["user_id"], welcome["role"]) == (served.demo["users"]["admin"]["id"], "admin")


@pytest.mark.parametrize("timestamp", [1700000000.25, "t-1", None])
async def test_ping_is_answered_with_pong_echoing_the_timestamp(served, timestamp):
    frame = {"type": "ping"} if timestamp is None else {"type": "ping", "timestamp": timestamp}
    async with served.join(f"/ws/match/{served.demo['match']}/", served.demo_tokens["spectator"]) as client:
        await client.send(frame)
        assert await client.recv() == {"type": "pong", "data": {"timestamp": timestamp}}


async def test_subscribe_answers_with_the_match(served):
    demo = served.demo
    alice, bob = demo["users"]["participant1"], demo["users"]["participant2"]
    async with served.join(f"/ws/match/{demo['match']}/", served.demo_tokens["spectator"]) as client:
        await client.send({"type": "subscribe"})
        assert await client.expect("subscribed") == {
            "match_id": demo["match"],
            "tournament_id": demo["tournament"],
            "state": "scheduled",  # no test changes the demo match; those that do take an arena
            "score1": 0,
            "score2": 0,
            "winner_id": None,
            "participant1": {"id": alice["id"], "name": alice["username"]},
            "participant2": {"id": bob["id"], "name": bob["username"]},
        }


@pytest.mark.parametrize("origin", [None, "http://evil.example", "http://localhost.evil.example"])
async def test_the_origin_validator_refuses_the_handshake_with_403(served, origin):
    path = f"/ws/match/{served.demo['match']}/"
    with pytest.raises(InvalidStatus) as refused:
        async with served.connect(path, served.demo_tokens["spectator"], origin=origin):
            pass
    assert refused.value.response.status_code == 403


@pytest.mark.parametrize(
    "path",
    [
        "/ws/match/abc/",
        "/ws/match/0/",
        "/ws/match/-1/",
        "/ws/match/1.5/",
        "/ws/match/1e3/",
        "/ws/match/%201/",
        "/ws/match/%EF%BC%91/",  # a fullwidth digit one: a digit to str.isdigit, not an ASCII id
        "/ws/match/",
        "/ws/match",
        "/ws/tournament/abc/",
        "/ws/tournament/",
    ],
)
@pytest.mark.parametrize("authenticated", [True, False], ids=["token", "no-token"])
async def test_an_id_that_is_not_a_positive_integer_closes_4000(served, path, authenticated):
    token = served.demo_tokens["organizer"] if authenticated else None
    async with served.connect(path, token) as client:
        await client.expect_error("invalid_id")
        assert await client.close_code() == 4000


@pytest.mark.parametrize("path", ["/ws/match/999999/", "/ws/tournament/999999/"])
async def test_an_unknown_id_closes_4004(served, path):
    async with served.connect(path, served.demo_tokens["organizer"]) as client:
        await client.expect_error("not_found")
        assert await client.close_code() == 4004


def _claims(user_id, lifetime=3600):
    now = int(time.time())
    return {"user_id": user_id, "iat": now, "exp": now + lifetime}


def _forged_tokens(served) -> dict[str, tuple[str, str]]:
    """Tokens the server must refuse, each with the auth_error it names."""
    spectator = served.demo["users"]["spectator"]["id"]
    key, other_key = served.signing_key, "not-the-server-key" * 4
    return {
        "other-key": (jwt.encode(_claims(spectator), other_key, algorithm="HS256"), "bad_signature"),
        "alg-none": (jwt.encode(_claims(spectator), None, algorithm="none"), "bad_signature"),
        "alg-HS512": (jwt.encode(_claims(spectator), key, algorithm="HS512"), "bad_signature"),
        "expired": (jwt.encode(_claims(spectator, lifetime=-60), key, algorithm="HS256"), "expired"),
        "garbage": ("not-a-jwt", "malformed"),
        "no-exp": (jwt.encode({"user_id": spectator, "iat": int(time.time())}, key), "malformed"),
        "string-user-id": (jwt.encode(_claims(str(spectator)), key, algorithm="HS256"), "malformed"),
        "unknown-user": (jwt.encode(_claims(10**9), key, algorithm="HS256"), "unknown_user"),
        "inactive-user": (served.inactive.token, "inactive_user"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "other-key",
        "alg-none",
        "alg-HS512",
        "expired",
        "garbage",
        "no-exp",
        "string-user-id",
        "unknown-user",
        "inactive-user",
    ],
)
async def test_a_refused_token_names_its_auth_error_and_closes_4001(served, case):
    token, auth_error = _forged_tokens(served)[case]
    async with served.connect(f"/ws/match/{served.demo['match']}/", token) as client:
        await client.expect_error(auth_error)
        assert await client.close_code() == 4001


async def test_no_token_closes_4001_naming_it_missing(served):
    async with served.connect(f"/ws/tournament/{served.demo['tournament']}/") as client:
        await client.expect_error("missing")
        assert await client.close_code() == 4001
