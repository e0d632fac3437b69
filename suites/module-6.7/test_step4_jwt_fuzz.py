"""Module 6.7 step 4: fuzzed JWTs never raise and authenticate only a valid HS256 token of an active user."""

import base64
import hashlib
import hmac
import json
import math
import time
from typing import Any

import pytest
import time_machine
from django.conf import settings as django_settings
from django.contrib.auth.models import AnonymousUser
from django.test import override_settings
from hypothesis import example, given, settings
from hypothesis import strategies as st

from target_app.realtime.middleware import authenticate, create_token, decode_user_id, signing_key
from target_app.realtime.tokens import bearer_token

AUTH_ERRORS = {"missing", "malformed", "expired", "bad_signature", "unknown_user", "inactive_user"}
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
HASHES = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
# Registered names PyJWT interprets: the "arbitrary extras" stay clear of them (they have their own test).
REGISTERED_CLAIMS = {"user_id", "iat", "exp", "nbf", "aud", "iss", "sub", "jti"}
REGISTERED_HEADERS = {"alg", "kid", "crit", "b64"}
NEAR_NOW = 5  # seconds around now where exp/iat checks would race the clock; kept out of the examples
EXAMPLES = settings.default.max_examples  # "fast": 40, "long": 1000 (these tests are cheap)
WS_EXAMPLES = max(10, EXAMPLES // 2)  # one connection each

# -- tokens built by hand (not PyJWT), so any header, claims and algorithm can be signed ------------------


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: Any) -> str:
    return b64(value if isinstance(value, bytes) else json.dumps(value).encode())


def sign(header: Any, claims: Any, *, alg: str = "HS256", key: str | None = None) -> str:
    """A JWT whose signature is HMAC-`alg` over header.payload with `key` (default: the app's key)."""
    signing_input = f"{segment(header)}.{segment(claims)}"
    if alg not in HASHES:
        return signing_input + "."  # unsigned, as `alg: none` tokens are
    digest = hmac.new((key or signing_key()).encode(), signing_input.encode(), HASHES[alg]).digest()
    return f"{signing_input}.{b64(digest)}"


def good_claims(user_id: Any, now: float) -> dict:
    return {"user_id": user_id, "iat": int(now), "exp": int(now) + 3600}


# -- strategies ------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=6), kids, max_size=3),
    max_leaves=8,
)


# Times are offsets from now; "odd" ones are anything but a number (booleans and numeric strings too).
offsets = st.integers(-(10**12), -NEAR_NOW) | st.integers(NEAR_NOW, 10**12) | st.floats(NEAR_NOW, 1e300)
odd_times = json_values.filter(lambda v: isinstance(v, bool) or not isinstance(v, int | float))
user_ids = st.sampled_from(["alice", "idle", "unknown"]) | json_values  # names stand for those users' ids
extras = st.dictionaries(
    st.text(max_size=8).filter(lambda k: k not in REGISTERED_CLAIMS), json_values, max_size=3
)
claims = st.fixed_dictionaries(
    {},
    optional={
        "user_id": user_ids,
        "iat": st.tuples(st.just("ago"), offsets) | odd_times | st.just(float("nan")),
        "exp": st.tuples(st.just("in"), offsets) | odd_times | st.sampled_from([float("nan"), float("inf")]),
    },
)

# -- the oracle ------------------------------------------------------------------------------------


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_time(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def claim_errors(claims: dict, users: dict, now: float) -> set:
    """Every auth_error the claims deserve; with one problem exactly one, with none {None} or a user error.

    A time that is not a number makes the token malformed whatever else is wrong with it: an expired
    token with a boolean `iat` is malformed, not expired (docs/protocol.md "Tokens").
    """
    exp, iat = claims.get("exp"), claims.get("iat")
    if not (is_time(exp) and is_time(iat)):
        return {"malformed"}
    problems = set()
    if not is_int(claims.get("user_id")):
        problems.add("malformed")
    if exp <= now:
        problems.add("expired")
    if iat > now:
        problems.add("malformed")  # an iat in the future is a token "not yet valid"
    if problems:
        return problems
    user = users.get(claims["user_id"])
    if user is None:
        return {"unknown_user"}
    return {None} if user.is_active else {"inactive_user"}


def resolve(claims: dict, users_by_name: dict, now: float) -> dict:
    """Put in real user ids and absolute times for the symbolic ones the strategies draw."""
    out = dict(claims)
    if isinstance(out.get("user_id"), str) and out["user_id"] in users_by_name:
        out["user_id"] = users_by_name[out["user_id"]]
    for name in ("iat", "exp"):
        value = out.get(name)
        if isinstance(value, tuple):
            out[name] = now - value[1] if value[0] == "ago" else now + value[1]
    return out


def assert_refused(token: str, errors: set) -> None:
    """authenticate refuses `token` with one of `errors`; decode_user_id agrees on the token's own part."""
    user, error = authenticate(token)
    assert isinstance(user, AnonymousUser) and error in errors, (error, errors)
    user_id, error = decode_user_id(token)
    token_errors = errors - {"unknown_user", "inactive_user"}
    if not token_errors:  # a sound token of a user who may not log in
        assert is_int(user_id) and error is None
    else:  # decode_user_id has no "missing": an empty string is just malformed to it
        assert user_id is None and error in (token_errors if token else {"malformed"}), (error, errors)


def assert_outcome(token: str, errors: set, user) -> None:
    """`token` authenticates as `user` when None is among `errors`, else is refused with one of them."""
    if None in errors:
        assert errors == {None}
        assert authenticate(token) == (user, None)
    else:
        assert_refused(token, errors)


# -- fixtures --------------------------------------------------------------------------------------


@pytest.fixture
def people(db, django_user_model) -> dict:
    """Committed-in-the-test-transaction users: alice (active) and idle (inactive), by name."""
    alice = django_user_model.objects.create(username="alice")
    idle = django_user_model.objects.create(username="idle", is_active=False)
    return {"alice": alice, "idle": idle}


def ids_of(people: dict) -> dict:
    return {"alice": people["alice"].pk, "idle": people["idle"].pk, "unknown": 2_000_000_001}


# -- tests -----------------------------------------------------------------------------------------


@settings(max_examples=EXAMPLES)
@given(
    token=st.text()
    | st.lists(st.text(alphabet=B64URL, max_size=40), min_size=1, max_size=5).map(".".join)
    | st.lists(st.binary(max_size=30).map(b64), min_size=3, max_size=3).map(".".join)
)
@example(token="")
@example(token="..")
@example(token="e30.e30.")  # {} header: no alg
@example(token=f"{segment({'alg': 'HS256'})}.e30")
def test_any_string_is_refused_with_an_auth_error(token):
    if not token:
        expected = {"missing"}
    elif token.count(".") != 2:
        expected = {"malformed"}
    else:
        expected = {"malformed", "bad_signature"}
    assert_refused(token, expected)


@settings(max_examples=EXAMPLES)
@given(
    alg=st.sampled_from(["HS384", "HS512", "none", "None", "RS256", "ES256", "hs256", "HS256 ", ""])
    | st.text(max_size=8),
    signed_as=st.sampled_from([*sorted(HASHES), "none"]),
    extra=st.dictionaries(
        st.text(max_size=6).filter(lambda k: k not in REGISTERED_HEADERS), json_values, max_size=3
    ),
)
def test_any_algorithm_but_hs256_is_a_bad_signature(people, alg, signed_as, extra):
    # Signed with the app's own key, by whichever HMAC: only the header's alg decides.
    token = sign({**extra, "alg": alg}, good_claims(people["alice"].pk, time.time()), alg=signed_as)
    if alg == "HS256" and signed_as == "HS256":
        assert authenticate(token) == (people["alice"], None)
    else:
        assert_refused(token, {"bad_signature"})


@settings(max_examples=EXAMPLES)
@given(
    header=(json_values | st.fixed_dictionaries({"alg": json_values})).filter(
        lambda h: not (isinstance(h, dict) and (REGISTERED_HEADERS - {"alg"}) & h.keys())
    ),
    signed_as=st.sampled_from(["HS256", "none"]),
)
@example(header={"alg": None}, signed_as="HS256")
@example(header=["HS256"], signed_as="HS256")
@example(header={"alg": "HS256", "kid": 5}, signed_as="HS256")
@example(header={"alg": "HS512", "kid": []}, signed_as="HS256")
@example(header={"alg": "HS256", "crit": ["exp"]}, signed_as="HS256")
def test_headers_of_any_shape_authenticate_only_as_hs256(people, header, signed_as):
    token = sign(header, good_claims(people["alice"].pk, time.time()), alg=signed_as)
    if not isinstance(header, dict) or not isinstance(header.get("kid", ""), str) or "crit" in header:
        expected = {"malformed"}
    elif header.get("alg") != "HS256":
        expected = {"bad_signature"}
    else:  # an HS256 header: the app's signature passes, a missing one does not
        expected = {None} if signed_as == "HS256" else {"bad_signature"}
    assert_outcome(token, expected, people["alice"])


def _segment_bytes(part: str) -> bytes | None:
    """A segment's bytes if it is canonical unpadded base64url (RFC 7515), else None."""
    if any(c not in B64URL for c in part) or len(part) % 4 == 1:
        return None
    decoded = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    return decoded if b64(decoded) == part else None


def _mangled_errors(mangled: str) -> set:
    """What a token that differs from a valid one by one character is refused with."""
    parts = mangled.split(".")
    if len(parts) != 3:
        return {"malformed"}
    if "=" in mangled:  # RFC 7515 omits padding; PyJWT tolerates a correctly padded segment
        return {"malformed", "bad_signature"}
    decoded = [_segment_bytes(part) for part in parts]
    try:
        header = json.loads(decoded[0]) if decoded[0] is not None else None
    except ValueError:
        header = None
    if not isinstance(header, dict):
        return {"malformed"}
    if header.get("alg") != "HS256":
        return {"bad_signature"}
    if None in decoded[1:]:
        return {"malformed"}
    return {"bad_signature"}


@settings(max_examples=EXAMPLES)
@given(
    part=st.integers(0, 2),
    where=st.floats(0, 1, exclude_max=True),
    char=st.sampled_from(B64URL + ".=!~é ") | st.characters(codec="utf-8"),
)
@example(part=2, where=0.999, char="A")  # the signature's last character has unused bits
@example(part=1, where=0.0, char="+")  # standard base64, not base64url
def test_a_valid_token_with_one_character_changed_is_refused(people, part, where, char):
    original = sign({"alg": "HS256", "typ": "JWT"}, good_claims(people["alice"].pk, time.time()))
    parts = original.split(".")
    index = int(where * len(parts[part]))
    parts[part] = parts[part][:index] + char + parts[part][index + 1 :]
    mangled = ".".join(parts)
    if mangled == original:
        assert authenticate(mangled) == (people["alice"], None)
    else:  # whatever the character, a changed token never authenticates
        assert_refused(mangled, _mangled_errors(mangled))


@settings(max_examples=EXAMPLES)
@given(claims=claims, extra=extras)
@example(claims={"user_id": "alice", "iat": ("ago", 10), "exp": ("in", 3600)}, extra={})
@example(claims={"user_id": "idle", "iat": ("ago", 10), "exp": ("in", 3600)}, extra={})
@example(claims={"user_id": "unknown", "iat": ("ago", 10), "exp": ("in", 3600)}, extra={})
@example(claims={"user_id": "alice", "iat": ("ago", 7200), "exp": ("in", -3600)}, extra={})
@example(claims={"user_id": "alice", "iat": ("ago", -60), "exp": ("in", 3600)}, extra={})
@example(claims={"user_id": True, "iat": ("ago", 10), "exp": ("in", 3600)}, extra={})
@example(claims={"user_id": 2**70, "iat": ("ago", 10), "exp": ("in", 3600)}, extra={})
# Found by this test (were accepted, because PyJWT reads times with int()): times that are not numbers.
@example(claims={"user_id": "alice", "iat": ("ago", 10), "exp": str(10**11)}, extra={})
@example(claims={"user_id": "alice", "iat": True, "exp": ("in", 3600)}, extra={})
# PyJWT reads `true` as 1 (1970) and `"0"` as 0: such an exp is malformed, never "expired", and an odd
# iat beside an expired exp is malformed too.
@example(claims={"user_id": "alice", "iat": ("ago", 10), "exp": True}, extra={})
@example(claims={"user_id": "alice", "iat": ("ago", 10), "exp": "0"}, extra={})
@example(claims={"user_id": "alice", "iat": True, "exp": ("in", -3600)}, extra={})
@example(claims={"user_id": "alice", "iat": "x", "exp": ("in", -3600)}, extra={})
def test_only_an_int_user_id_of_an_active_user_with_a_future_exp_authenticates(people, claims, extra):
    now = time.time()
    resolved = resolve(claims, ids_of(people), now)
    token = sign({"alg": "HS256", "typ": "JWT"}, {**extra, **resolved})
    users = {user.pk: user for user in people.values()}
    assert_outcome(token, claim_errors(resolved, users, now), people["alice"])


@settings(max_examples=EXAMPLES)
@given(
    registered=st.dictionaries(st.sampled_from(["nbf", "aud", "iss", "sub", "jti"]), json_values, min_size=1)
)
def test_registered_claims_of_any_value_authenticate_or_are_malformed(people, registered):
    token = sign({"alg": "HS256"}, {**registered, **good_claims(people["alice"].pk, time.time())})
    user, error = authenticate(token)
    assert (user, error) == (people["alice"], None) or (
        isinstance(user, AnonymousUser) and error == "malformed"
    )


# -- over the WebSocket ----------------------------------------------------------------------------


def ws_tokens(alice_id: int, now: float) -> st.SearchStrategy:
    """(token, expected auth_errors) pairs of tokens that must not authenticate."""
    claims_ok = good_claims(alice_id, now)
    return st.one_of(
        st.text(min_size=1).map(
            lambda t: (t, {"malformed"} if t.count(".") != 2 else {"malformed", "bad_signature"})
        ),
        st.just(("", {"missing"})),
        st.sampled_from(["HS384", "HS512", "none", "RS256"]).map(
            lambda a: (sign({"alg": a}, claims_ok, alg=a), {"bad_signature"})
        ),
        st.text(min_size=1).map(
            lambda k: (sign({"alg": "HS256"}, claims_ok, key="other" + k), {"bad_signature"})
        ),
        st.tuples(st.integers(-(10**9), -NEAR_NOW)).map(
            lambda o: (sign({"alg": "HS256"}, {**claims_ok, "exp": now + o[0]}), {"expired"})
        ),
        odd_times.map(lambda v: (sign({"alg": "HS256"}, {**claims_ok, "user_id": v}), {"malformed"})),
    )


@pytest.mark.looptime
@settings(max_examples=WS_EXAMPLES)
@given(data=st.data(), via_header=st.booleans())
async def test_a_refused_token_gets_an_auth_error_then_close_4001(harness_ws, cast, match, data, via_header):
    token, errors = data.draw(ws_tokens(cast.alice.pk, time.time()), label="token")
    if via_header and token.strip() and token.isascii():
        client = await harness_ws.connect(f"/ws/match/{match.pk}/", token=token.strip(), token_via="header")
    else:
        client = await harness_ws.connect(f"/ws/match/{match.pk}/", token=token)
    assert client.accepted  # accepted first, so the client sees why
    frames = await client.expect_close(4001)
    assert len(frames) == 1 and frames[0]["type"] == "error" and frames[0]["code"] in errors, (frames, errors)
    assert set(frames[0]) == {"type", "code", "message"}
    await client.disconnect()


@settings(max_examples=EXAMPLES)
@given(user_id=st.integers(1, 2**62), ttl=st.integers(1, 10**7), issued=st.integers(10**9, 4 * 10**9))
def test_minted_tokens_carry_the_user_until_they_expire(user_id, ttl, issued):
    """`create_token` (the `token` command's minting) is valid for exactly `ttl` seconds, then expired."""
    token = create_token(user_id, ttl, now=issued)
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims == {"user_id": user_id, "iat": issued, "exp": issued + ttl}
    with time_machine.travel(issued + ttl - 1, tick=False):
        assert decode_user_id(token) == (user_id, None)
    with time_machine.travel(issued + ttl + 1, tick=False):
        assert decode_user_id(token) == (None, "expired")


def test_minting_defaults_to_now_and_the_configured_lifetime():
    """Without `now` and `ttl`, a token is issued at the current second for `JWT_DEFAULT_TTL` seconds."""
    with time_machine.travel(1_800_000_000, tick=False):
        token = create_token(7)
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    issued = 1_800_000_000
    assert claims == {"user_id": 7, "iat": issued, "exp": issued + django_settings.JWT_DEFAULT_TTL}
    assert json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))["alg"] == "HS256"


def test_tokens_are_signed_with_jwt_signing_key_when_it_is_set():
    """`JWT_SIGNING_KEY` signs and verifies; without it (or empty) `SECRET_KEY` does (the protocol's key)."""
    own_key = "a-signing-key-of-its-own-" + "k" * 32
    with override_settings(JWT_SIGNING_KEY=own_key):
        assert signing_key() == own_key
        token = create_token(7, now=time.time())
        assert decode_user_id(token) == (7, None)
    assert decode_user_id(token) == (None, "bad_signature")  # signed with the other key
    assert decode_user_id(sign({"alg": "HS256"}, good_claims(7, time.time()), key=own_key)) == (
        None,
        "bad_signature",
    )
    for unset in ("", None):
        with override_settings(JWT_SIGNING_KEY=unset):
            assert signing_key() == django_settings.SECRET_KEY
    with override_settings():
        del django_settings.JWT_SIGNING_KEY
        assert signing_key() == django_settings.SECRET_KEY


@pytest.mark.parametrize("nbf", [True, "0", "1e3", None, [0]])
def test_a_not_before_that_is_not_a_number_is_malformed(nbf):
    """RFC 7519 times are numbers: `nbf` as a boolean, a numeric string or null is refused like `iat`,
    on an expired token too (malformed, not expired)."""
    now = time.time()
    assert decode_user_id(sign({"alg": "HS256"}, {**good_claims(7, now), "nbf": nbf})) == (None, "malformed")
    expired = {**good_claims(7, now - 7200), "nbf": nbf}
    assert decode_user_id(sign({"alg": "HS256"}, expired)) == (None, "malformed")
    assert decode_user_id(sign({"alg": "HS256"}, {**good_claims(7, now), "nbf": int(now) - 60})) == (7, None)


def test_the_bearer_scheme_is_read_before_the_first_space():
    """`Bearer <token>` in any case, spaces around the token ignored; another scheme is no token."""
    assert [bearer_token(value) for value in ("Bearer abc", "bearer  abc", " BEARER abc ")] == ["abc"] * 3
    assert bearer_token("Bearer a b") == "a b"  # not a JWT: refused later as malformed, not as missing
    assert [bearer_token(value) for value in ("Basic abc", "Bearer", "Bearer   ", "", None)] == [None] * 5
