"""Step 2, security: JWT manipulation against the served app, over WebSocket and HTTP alike.

Every forged, broken, expired or misused token is refused with the auth error the protocol names
(WebSocket: an `error` frame, then close 4001; HTTP: 401 with the same code), and no answer carries a
token, a traceback or another user's data. Rights come from the database, never from the token: a
token for another match, extra claims, or a token replayed after its user lost a role grant nothing.
"""

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from websockets.exceptions import InvalidStatus

from suites.realtime_checks import assert_error
from suites.served.app import Arena, ServedApp
from suites.served.leaks import leaks

ATTACKER_KEY = "attacker-" + "k" * 64
# What an RS256 server would publish; target_app has none, so HS/RS confusion has nothing to confuse.
PUBLIC_PEM = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n"


@pytest.fixture(scope="module")
def app(serving) -> ServedApp:
    return serving(arenas=12)


@pytest.fixture(scope="module")
def arena(app) -> Arena:
    """The arena whose match the token cases knock on."""
    return app.arena()


# -- forging --------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _part(value: dict | list | str | bytes) -> str:
    if isinstance(value, str):
        value = value.encode()
    elif not isinstance(value, bytes):
        value = json.dumps(value).encode()
    return _b64(value)


def forge(header, payload, key: str | None, digest=hashlib.sha256) -> str:
    """A token with exactly this header and payload, HMAC-signed with `key` (None: no signature)."""
    signed = f"{_part(header)}.{_part(payload)}"
    if key is None:
        return signed + "."
    return signed + "." + _b64(hmac.new(key.encode(), signed.encode(), digest).digest())


@dataclass(frozen=True)
class Knock:
    """Who the forged tokens claim to be, and the key the server would sign with."""

    key: str
    user: int  # the arena's spectator
    other: int  # the arena's organizer
    inactive: int
    now: int

    def claims(self, **changes) -> dict:
        claims = {"user_id": self.user, "iat": self.now, "exp": self.now + 3600, **changes}
        return {name: value for name, value in claims.items() if value is not ...}


HS256 = {"alg": "HS256", "typ": "JWT"}


def _swapped_payload(k: Knock) -> str:
    header, _, signature = forge(HS256, k.claims(), k.key).split(".")
    return f"{header}.{_part(k.claims(user_id=k.other))}.{signature}"


def _foreign_signature(k: Knock) -> str:
    mine = forge(HS256, k.claims(), k.key).rsplit(".", 1)[0]
    return mine + "." + forge(HS256, k.claims(user_id=k.other), k.key).rsplit(".", 1)[1]


def _altered(token: str) -> str:
    """The token with one character of its signature changed (still valid base64)."""
    head, signature = token.rsplit(".", 1)
    return f"{head}.{signature[:10]}{'A' if signature[10] != 'A' else 'B'}{signature[11:]}"


# case → (token from a Knock, the auth error it must get)
TOKENS: dict[str, tuple[Callable[[Knock], str], str]] = {
    # alg none and every other algorithm: forged or foreign, not garbled
    "alg-none": (lambda k: forge({"alg": "none"}, k.claims(), None), "bad_signature"),
    "alg-None": (lambda k: forge({"alg": "None"}, k.claims(), None), "bad_signature"),
    "alg-NONE-signed": (lambda k: forge({"alg": "NONE"}, k.claims(), k.key), "bad_signature"),
    "alg-missing": (lambda k: forge({"typ": "JWT"}, k.claims(), k.key), "bad_signature"),
    "alg-HS512": (lambda k: forge({"alg": "HS512"}, k.claims(), k.key, hashlib.sha512), "bad_signature"),
    "alg-HS384": (lambda k: forge({"alg": "HS384"}, k.claims(), k.key, hashlib.sha384), "bad_signature"),
    "alg-RS256-hmac-of-public-key": (
        lambda k: forge({"alg": "RS256"}, k.claims(), PUBLIC_PEM),
        "bad_signature",
    ),
    "alg-ES256": (lambda k: forge({"alg": "ES256"}, k.claims(), ATTACKER_KEY), "bad_signature"),
    "hs256-keyed-with-public-key": (lambda k: forge(HS256, k.claims(), PUBLIC_PEM), "bad_signature"),
    "wrong-key": (lambda k: forge(HS256, k.claims(), ATTACKER_KEY), "bad_signature"),
    "empty-key": (lambda k: forge(HS256, k.claims(), ""), "bad_signature"),
    # header tricks: the server has one key and never looks further
    "kid-path-traversal": (
        lambda k: forge({**HS256, "kid": "../../../../dev/null"}, k.claims(), ""),
        "bad_signature",
    ),
    "kid-sql-injection": (
        lambda k: forge({**HS256, "kid": "x' UNION SELECT 'k'--"}, k.claims(), "k"),
        "bad_signature",
    ),
    "jwk-embedded": (
        lambda k: forge(
            {**HS256, "jwk": {"kty": "oct", "k": _b64(ATTACKER_KEY.encode())}}, k.claims(), ATTACKER_KEY
        ),
        "bad_signature",
    ),
    "jku-remote": (
        lambda k: forge({**HS256, "jku": "http://evil.example/jwks"}, k.claims(), ATTACKER_KEY),
        "bad_signature",
    ),
    "crit-extension": (lambda k: forge({**HS256, "crit": ["exp"]}, k.claims(), k.key), "malformed"),
    # a real token tampered with
    "payload-swapped": (_swapped_payload, "bad_signature"),
    "signature-of-another-token": (_foreign_signature, "bad_signature"),
    "signature-stripped": (lambda k: forge(HS256, k.claims(), None), "bad_signature"),
    "signature-altered": (lambda k: _altered(forge(HS256, k.claims(), k.key)), "bad_signature"),
    # 43 characters less 2: a length base64 cannot have (4n + 1), whatever the characters are.
    "signature-truncated": (lambda k: forge(HS256, k.claims(), k.key)[:-2], "malformed"),
    # time
    "expired": (lambda k: forge(HS256, k.claims(exp=k.now - 1), k.key), "expired"),
    "expired-a-year-ago": (
        lambda k: forge(HS256, k.claims(iat=k.now - 2 * 31536000, exp=k.now - 31536000), k.key),
        "expired",
    ),
    "exp-now": (lambda k: forge(HS256, k.claims(exp=k.now), k.key), "expired"),
    "nbf-in-the-future": (lambda k: forge(HS256, k.claims(nbf=k.now + 600), k.key), "malformed"),
    "iat-in-the-future": (
        lambda k: forge(HS256, k.claims(iat=k.now + 3600, exp=k.now + 7200), k.key),
        "malformed",
    ),
    "exp-as-string": (lambda k: forge(HS256, k.claims(exp=str(k.now + 3600)), k.key), "malformed"),
    "exp-as-bool": (lambda k: forge(HS256, k.claims(exp=True), k.key), "malformed"),
    "iat-missing": (lambda k: forge(HS256, k.claims(iat=...), k.key), "malformed"),
    "exp-missing": (lambda k: forge(HS256, k.claims(exp=...), k.key), "malformed"),
    # who
    "user-id-missing": (lambda k: forge(HS256, k.claims(user_id=...), k.key), "malformed"),
    "user-id-as-string": (lambda k: forge(HS256, k.claims(user_id=str(k.user)), k.key), "malformed"),
    "user-id-as-float": (lambda k: forge(HS256, k.claims(user_id=float(k.user)), k.key), "malformed"),
    "user-id-as-bool": (lambda k: forge(HS256, k.claims(user_id=True), k.key), "malformed"),
    "user-id-as-object": (lambda k: forge(HS256, k.claims(user_id={"$gt": 0}), k.key), "malformed"),
    "user-id-unknown": (lambda k: forge(HS256, k.claims(user_id=2_000_000_001), k.key), "unknown_user"),
    "user-id-beyond-any-key": (lambda k: forge(HS256, k.claims(user_id=2**70), k.key), "unknown_user"),
    "user-inactive": (lambda k: forge(HS256, k.claims(user_id=k.inactive), k.key), "inactive_user"),
    # not a JWT at all
    "garbage": (lambda k: "not-a-jwt", "malformed"),
    "two-segments": (lambda k: forge(HS256, k.claims(), k.key).rsplit(".", 1)[0], "malformed"),
    "four-segments": (lambda k: forge(HS256, k.claims(), k.key) + ".x", "malformed"),
    "header-not-json": (lambda k: forge(b"not json", k.claims(), k.key), "malformed"),
    "header-a-list": (lambda k: forge([1, 2], k.claims(), k.key), "malformed"),
    "payload-not-json": (lambda k: forge(HS256, b"\xff\xfe", k.key), "malformed"),
    "payload-a-list": (lambda k: forge(HS256, [k.user], k.key), "malformed"),
    "not-base64": (lambda k: "%%%.%%%.%%%", "malformed"),
    "non-ascii": (lambda k: "ü.ü.ü", "malformed"),
    "five-kilobytes": (lambda k: forge(HS256, k.claims(pad="x" * 4000), ATTACKER_KEY), "bad_signature"),
    "empty": (lambda k: "", "missing"),
}


@pytest.fixture(scope="module")
def knock(app, arena) -> Knock:
    return Knock(
        app.signing_key,
        arena.users["spectator"].id,
        arena.users["organizer"].id,
        app.inactive.id,
        int(time.time()),
    )


def _query(path: str, token: str) -> str:
    return f"{path}?token={quote(token, safe='')}"


@pytest.mark.parametrize("case", TOKENS)
async def test_a_bad_token_is_refused_over_websocket_with_its_auth_error(app, arena, knock, case):
    make, auth_error = TOKENS[case]
    token = make(knock)
    frames, code = await app.refusal(_query(arena.match_path, token))
    assert code == 4001
    assert len(frames) == 1, frames
    assert_error(frames[0], auth_error)
    assert leaks(json.dumps(frames), token) == []


@pytest.mark.parametrize("case", TOKENS)
async def test_the_same_token_is_refused_over_http_with_the_same_code(app, arena, knock, case):
    make, auth_error = TOKENS[case]
    token = make(knock)
    status, body = await app.http("POST", f"/api/matches/{arena.match}/start", token=token)
    assert (status, body["error"]) == (401, auth_error), body
    assert set(body) == {"error", "message"}
    assert leaks(json.dumps(body), token) == []


# -- tokens too big to read, and where a token is taken from ----------------------------------------


async def test_a_token_too_long_for_a_request_line_is_refused_before_the_app(app, arena, knock):
    token = forge(HS256, knock.claims(pad="x" * 9000), knock.key)  # a valid signature, and too long
    with pytest.raises(InvalidStatus) as refused:
        await app.refusal(_query(arena.match_path, token))
    assert refused.value.response.status_code == 414  # URI too long: the handshake never reaches the app
    assert leaks(refused.value.response.body.decode(errors="replace"), token) == []


async def test_a_bearer_header_too_large_is_refused_before_the_app(app, arena, knock):
    token = forge(HS256, knock.claims(pad="x" * 20000), knock.key)  # a valid signature, and too large
    with pytest.raises(InvalidStatus) as refused:
        await app.refusal(arena.match_path, headers={"Authorization": f"Bearer {token}"})
    assert refused.value.response.status_code == 431  # request header fields too large
    # The HTTP parser reads it: the token is the spectator's, who may not start a match.
    status, body = await app.http("POST", f"/api/matches/{arena.match}/start", token=token)
    assert (status, body["error"]) == (403, "permission_denied")


async def test_the_query_token_is_the_one_checked_with_no_fallback_to_the_header(app, arena, knock):
    good = arena.users["spectator"].token
    headers = {"Authorization": f"Bearer {good}"}
    frames, code = await app.refusal(_query(arena.match_path, "not-a-jwt"), headers=headers)
    assert (frames[0]["code"], code) == ("malformed", 4001)
    frames, code = await app.refusal(f"{_query(arena.match_path, 'not-a-jwt')}&token={good}")
    assert (frames[0]["code"], code) == ("malformed", 4001)  # the first of two is the one checked


@pytest.mark.parametrize(
    ("authorization", "auth_error"),
    [
        ("Basic {token}", "missing"),
        ("Token {token}", "missing"),
        ("Bearer", "missing"),
        ("Bearer {token}x", "bad_signature"),
    ],
)
async def test_only_a_bearer_authorization_carries_a_token(app, arena, authorization, auth_error):
    value = authorization.format(token=arena.users["spectator"].token)
    frames, code = await app.refusal(arena.match_path, headers={"Authorization": value})
    assert (frames[0]["code"], code) == (auth_error, 4001)


async def test_the_bearer_scheme_is_case_insensitive(app, arena):
    headers = {"Authorization": f"bearer {arena.users['spectator'].token}"}
    async with app.connect(arena.match_path, headers=headers) as client:
        assert (await client.expect("connection_established"))["user_id"] == arena.users["spectator"].id


# -- rights come from the database, not from the token ---------------------------------------------


async def test_a_participants_token_grants_nothing_on_another_match(app, arena):
    elsewhere = app.arena()
    player = arena.users["participant1"]
    async with app.join(elsewhere.match_path, player.token) as client:
        assert (client.welcome["role"], client.welcome["is_participant"]) == ("spectator", False)
        await client.send({"type": "report_score", "data": {"score1": 9, "score2": 0}})
        await client.expect_error("permission_denied")
        await client.ping_pong()
    organizer = arena.users["organizer"]
    status, body = await app.http("POST", f"/api/matches/{elsewhere.match}/start", token=organizer.token)
    assert (status, body["error"]) == (403, "permission_denied")


async def test_claims_beyond_the_user_grant_nothing(app, knock):
    elsewhere = app.arena()
    spectator = elsewhere.users["spectator"]
    claims = {
        **knock.claims(user_id=spectator.id),
        "role": "admin",
        "is_staff": True,
        "match_id": elsewhere.match,
    }
    token = forge(HS256, claims, knock.key)  # signed with the server's key: as if it had minted it
    async with app.join(elsewhere.tournament_path, token) as client:
        assert client.welcome["role"] == "spectator"
        await client.send({"type": "announce", "data": {"message": "I am admin now"}})
        await client.expect_error("permission_denied")
    status, body = await app.http("POST", f"/api/matches/{elsewhere.match}/start", token=token)
    assert (status, body["error"]) == (403, "permission_denied")


async def test_a_token_replayed_after_demotion_carries_no_admin_rights(app):
    elsewhere = app.arena()
    staff = elsewhere.users["spectator"]
    app.set_user(staff.id, is_staff=1)
    async with app.join(elsewhere.tournament_path, staff.token) as opened_as_admin:
        assert opened_as_admin.welcome["role"] == "admin"
        app.set_user(staff.id, is_staff=0)
        await opened_as_admin.send({"type": "announce", "data": {"message": "still admin?"}})
        await opened_as_admin.expect_error("permission_denied")  # checked as it arrives
        async with app.join(elsewhere.tournament_path, staff.token) as replayed:
            assert replayed.welcome["role"] == "spectator"
    status, body = await app.http("POST", f"/api/matches/{elsewhere.match}/start", token=staff.token)
    assert (status, body["error"]) == (403, "permission_denied")


async def test_a_token_replayed_after_deactivation_is_refused_and_open_rights_end(app):
    elsewhere = app.arena()
    organizer = elsewhere.users["organizer"]
    async with app.join(elsewhere.tournament_path, organizer.token) as opened:
        app.set_user(organizer.id, is_active=0)
        frames, code = await app.refusal(elsewhere.match_path, token=organizer.token)
        assert (frames[0]["code"], code) == ("inactive_user", 4001)
        await opened.send({"type": "announce", "data": {"message": "one more"}})
        frames, code = await opened.until_closed()
        assert ([frame["code"] for frame in frames], code) == (["inactive_user"], 4001)
    status, body = await app.http("POST", f"/api/matches/{elsewhere.match}/start", token=organizer.token)
    assert (status, body["error"]) == (401, "inactive_user")
