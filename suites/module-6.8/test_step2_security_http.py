"""Step 2, security: every refusal the HTTP API documents, with the input that earns it, and nothing leaked.

Checks run 401 → 404 → 403 → 400 → 409 (docs/protocol.md, "HTTP API"); each answer is JSON
`{"error", "message"}` and carries no token, traceback or user's name. A `Host` the server does not
serve is refused before any view.
"""

import json

import pytest

from suites.served.app import Arena, ServedApp
from suites.served.leaks import leaks

ACTIONS = ("start", "score", "complete", "dispute")
MAX_SCORE = 2_147_483_647


@pytest.fixture(scope="module")
def app(serving) -> ServedApp:
    return serving(arenas=100)


async def _answer(app: ServedApp, arena: Arena | None, action: str, token: str | None, **body):
    """POST an action (to a match that does not exist without an arena); returns (status, body),
    having checked that a refusal is the documented JSON and holds no token or traceback."""
    match = arena.match if arena is not None else 999_999
    status, answer = await app.http("POST", f"/api/matches/{match}/{action}", token=token, **body)
    if status >= 400:
        assert isinstance(answer, dict) and set(answer) == {"error", "message"}, answer
    assert leaks(json.dumps(answer), *([token] if token else [])) == [], answer
    return status, answer


@pytest.mark.parametrize("action", ACTIONS)
async def test_no_token_is_401_missing_before_anything_else(app, action):
    # Even for a match that does not exist: without a token nothing tells whether it does.
    assert (await _answer(app, None, action, None))[1]["error"] == "missing"
    status, answer = await _answer(app, app.arena(), action, None)
    assert (status, answer["error"]) == (401, "missing")


@pytest.mark.parametrize("action", ACTIONS)
async def test_an_unknown_match_is_404_for_any_authenticated_user(app, action):
    for token in (app.demo_tokens["admin"], app.demo_tokens["spectator"]):
        status, answer = await _answer(app, None, action, token, raw=b"{not json")
        assert (status, answer["error"]) == (404, "not_found")  # before permission, before the body
    status, answer = await app.http("POST", f"/api/matches/{2**70}/{action}", token=app.demo_tokens["admin"])
    assert (status, answer["error"]) == (404, "not_found")  # an id no database key can hold


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("who", ["spectator", "participant1", "other-organizer", "demoted-admin"])
async def test_anyone_but_the_organizer_or_an_admin_is_403(app, action, who):
    arena, other = app.arena(), app.arena()
    if who == "other-organizer":
        token = other.users["organizer"].token
    elif who == "demoted-admin":
        token = other.users["spectator"].token
        app.set_user(other.users["spectator"].id, is_staff=1)
        assert (await _answer(app, other, "start", token))[0] == 200  # staff may, on any match
        app.set_user(other.users["spectator"].id, is_staff=0)
    else:
        token = arena.users[who].token
    status, answer = await _answer(app, arena, action, token, raw=b"{not json")
    assert (status, answer["error"]) == (403, "permission_denied")  # before the body is looked at


BAD_BODIES = {
    "score": [
        b"{not json",
        b"[1, 2]",
        b'"3-1"',
        b"null",
        b'{"score1": "3", "score2": 1}',
        b'{"score1": -1, "score2": 1}',
        b'{"score1": true, "score2": 1}',
        b'{"score1": 1.5, "score2": 1}',
        b'{"score1": 2147483648, "score2": 1}',
        b'{"score1": 1}',
        b'{"score1": null, "score2": 0}',
        b'{"score1": NaN, "score2": 0}',
        b"[" * 100_000 + b"]" * 100_000,  # nested past the parser's recursion limit
        b"\xff\xfe",
    ],
    "complete": [b'{"winner": 999999}', b'{"winner": "1"}', b'{"winner": true}', b"{}"],
    "dispute": [b'{"reason": ""}', b'{"reason": "   "}', b'{"reason": 5}', b"{}"],
}


@pytest.mark.parametrize(
    ("action", "body"),
    [(action, body) for action, bodies in BAD_BODIES.items() for body in bodies],
    ids=lambda value: value if isinstance(value, str) else value[:24].decode(errors="replace"),
)
async def test_a_bad_body_is_400_before_the_state_is_looked_at(app, action, body):
    arena = app.arena()
    if action != "score":  # complete and dispute need a live match; the body is checked first anyway
        assert (await _answer(app, arena, "start", arena.users["organizer"].token))[0] == 200
    status, answer = await _answer(app, arena, action, arena.users["organizer"].token, raw=body)
    assert (status, answer["error"]) == (400, "bad_request")


async def test_a_body_too_large_to_read_is_400(app):
    arena = app.arena()
    body = json.dumps({"score1": 1, "score2": 2, "pad": "x" * 3_000_000}).encode()  # past Django's 2.5 MB
    status, answer = await _answer(app, arena, "score", arena.users["organizer"].token, raw=body)
    assert (status, answer["error"]) == (400, "bad_request")


ILLEGAL = [
    ((), "complete", "scheduled → completed"),
    ((), "dispute", "scheduled → disputed"),
    (("start",), "start", "live → live"),
    (("start", "dispute"), "dispute", "disputed → disputed"),
    (("start", "dispute"), "start", "disputed → live"),
    (("start", "complete"), "complete", "completed → completed"),
    (("start", "complete"), "start", "completed → live"),
]


@pytest.mark.parametrize(("before", "action", "transition"), ILLEGAL, ids=[t for _, _, t in ILLEGAL])
async def test_an_illegal_state_change_is_409(app, before, action, transition):
    arena = app.arena()
    organizer = arena.users["organizer"].token
    bodies = {"complete": {"winner": arena.users["participant1"].id}, "dispute": {"reason": "late"}}
    for step in before:
        assert (await _answer(app, arena, step, organizer, body=bodies.get(step)))[0] == 200
    status, answer = await _answer(app, arena, action, organizer, body=bodies.get(action))
    assert (status, answer["error"]) == (409, "illegal_transition"), transition


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_another_method_is_405(app, method):
    arena = app.arena()
    path, token = f"/api/matches/{arena.match}/start", arena.users["organizer"].token
    assert (await app.http(method, path, token=token))[0] == 405


@pytest.mark.parametrize("host", ["evil.example", "localhost.evil.example", "127.0.0.1.nip.io"])
async def test_a_host_the_server_does_not_serve_is_400_before_any_view(app, host):
    for method, path in [("GET", "/api/health"), ("POST", f"/api/matches/{app.demo['match']}/start")]:
        status, body = await app.http(method, path, token=app.demo_tokens["admin"], headers={"Host": host})
        assert status == 400 and "Bad Request" in body  # Django's own page, not JSON (DEBUG is off)
        assert leaks(body, app.demo_tokens["admin"], host) == []
    # With the Host it serves, the same request reaches the view (the demo match is not live: 409).
    path = f"/api/matches/{app.demo['match']}/dispute"
    status, body = await app.http(
        "POST", path, token=app.demo_tokens["admin"], body={"reason": "late"}, headers={"Host": "localhost"}
    )
    assert (status, body["error"]) == (409, "illegal_transition")
