"""The served app's HTTP API: health, and 401/403/404/400/409/405 answered as JSON, never a crash."""

import jwt
import pytest


async def test_health_answers_ok(served):
    assert await served.http("GET", "/api/health") == (200, {"status": "ok"})


@pytest.mark.parametrize(
    ("token", "error"),
    [(None, "missing"), ("not-a-jwt", "malformed"), ("forged", "bad_signature")],
)
async def test_no_valid_token_is_401(served, token, error):
    if token == "forged":
        token = jwt.encode({"user_id": served.demo["users"]["organizer"]["id"]}, None, algorithm="none")
    status, body = await served.http("POST", f"/api/matches/{served.demo['match']}/start", token=token)
    assert (status, body["error"]) == (401, error)


@pytest.mark.parametrize("user", ["spectator", "participant1"])
async def test_a_user_who_is_not_organizer_or_admin_is_403(served, user):
    arena = served.arena()
    status, body = await served.http(
        "POST", f"/api/matches/{arena.match}/start", token=arena.users[user].token
    )
    assert (status, body["error"]) == (403, "permission_denied")


async def test_an_admin_may_change_any_match(served):
    arena = served.arena()
    answer = await served.http("POST", f"/api/matches/{arena.match}/start", token=served.demo_tokens["admin"])
    assert answer == (200, {"match_id": arena.match, "state": "live"})


async def test_an_unknown_match_is_404(served):
    status, body = await served.http("POST", "/api/matches/999999/start", token=served.demo_tokens["admin"])
    assert (status, body["error"]) == (404, "not_found")


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("score", b"{not json"),
        ("score", b"[1, 2]"),
        ("score", b'{"score1": "3", "score2": 1}'),
        ("score", b'{"score1": -1, "score2": 1}'),
        ("score", b'{"score1": true, "score2": 1}'),
        ("complete", b'{"winner": 999999}'),
        ("dispute", b'{"reason": ""}'),
    ],
)
async def test_a_bad_body_is_400(served, action, body):
    arena = served.arena()
    path = f"/api/matches/{arena.match}/{action}"
    status, answer = await served.http("POST", path, token=arena.users["organizer"].token, raw=body)
    assert (status, answer["error"]) == (400, "bad_request")


@pytest.mark.parametrize("action", ["complete", "dispute"])
async def test_an_illegal_state_change_is_409(served, action):
    arena = served.arena()
    body = {"winner": arena.users["participant1"].id} if action == "complete" else {"reason": "late"}
    path = f"/api/matches/{arena.match}/{action}"
    status, answer = await served.http("POST", path, token=arena.users["organizer"].token, body=body)
    assert (status, answer["error"]) == (409, "illegal_transition")  # a scheduled match is not live yet


async def test_a_second_start_is_409(served):
    arena = served.arena()
    token = arena.users["organizer"].token
    assert (await served.http("POST", f"/api/matches/{arena.match}/start", token=token))[0] == 200
    status, answer = await served.http("POST", f"/api/matches/{arena.match}/start", token=token)
    assert (status, answer["error"]) == (409, "illegal_transition")


async def test_get_on_an_action_is_405(served):
    status, _ = await served.http("GET", f"/api/matches/{served.demo['match']}/start")
    assert status == 405
