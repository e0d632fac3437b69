"""Module 6.7 step 4: fuzzed connection attempts are admitted or refused exactly as the protocol orders it."""

from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from suites.realtime_checks import assert_refused, heartbeat_tasks, members
from target_app.realtime import utils
from target_app.tournaments.models import Match, Tournament

pytestmark = pytest.mark.looptime

# One connection per example ("fast": 40 → 20, "long": 1000 → 500), so each test stays under a second.
EXAMPLES = max(10, settings.default.max_examples // 2)
HEARTBEAT_INTERVAL = 25  # the protocol's default, reported in connection_established
ASCII_DIGITS = frozenset("0123456789")

# -- the world, as data: the fixture builds it, the model reads it ----------------------------------

ORGANIZERS = {"spring": "olga", "autumn": "frank"}  # tournament → its organizer
MATCHES = {  # match → (its tournament, participant1, participant2)
    "final": ("spring", "alice", "bob"),
    "semi": ("spring", "dave", "erin"),
    "friendly": ("autumn", "olga", "alice"),  # spring's organizer plays in autumn
}
USERS = {  # username → flags; frank organizes autumn and is staff: organizer there, admin in spring
    "olga": {},
    "frank": {"is_staff": True},
    "alice": {},
    "bob": {},
    "dave": {},
    "erin": {},
    "carol": {},  # plays nowhere
    "stella": {"is_staff": True},
    "root": {"is_superuser": True},
    "idle": {"is_active": False},
}
ACTIVE = sorted(name for name, flags in USERS.items() if flags.get("is_active", True))
NAMES = {"tournament": sorted(ORGANIZERS), "match": sorted(MATCHES)}
ALLOWED_LISTS = ((), ("http://localhost",), ("http://localhost", "https://cup.example"))
ORIGINS = (
    "http://localhost",
    "https://cup.example",
    "http://localhost:8000",
    "http://localhost/",
    "HTTP://LOCALHOST",
    "https://localhost",
    "http://evil.example",
    "null",
    "",
)


@dataclass(frozen=True)
class World:
    """The committed rows: primary keys by name."""

    users: dict
    pks: dict  # endpoint → {name: pk}


@dataclass(frozen=True)
class Existing:
    """The id of a named row of `endpoint`, written with `zeros` leading zeros."""

    endpoint: str
    name: str
    zeros: int


@dataclass(frozen=True)
class Beyond:
    """An id `offset` past the largest primary key of the endpoint's table."""

    offset: int


MISSING = None  # no id segment at all: /ws/match


@dataclass(frozen=True)
class Credential:
    """The client's token: `kind` is valid, expired, wrong_key, alg_none, unknown_user, garbage or none."""

    kind: str
    user: str = "alice"
    text: str = ""
    via: str = "query"


@dataclass(frozen=True)
class Attempt:
    """One connection attempt: what the client controls, and the server's allowed-origins setting."""

    raw_id: Any  # a str, Existing, Beyond or MISSING
    slash: bool  # a trailing slash after the id
    allowed: tuple  # WS_ALLOWED_ORIGINS
    origin: str | None  # the Origin header, None for none
    credential: Credential


def admitted(endpoint: str, name: str, user: str, via: str = "query", **changes: Any) -> Attempt:
    """An attempt the protocol admits (user to the named row), with `changes` applied."""
    attempt = Attempt(Existing(endpoint, name, 0), True, (), None, Credential("valid", user, via=via))
    return replace(attempt, **changes)


# -- the model: docs/protocol.md "Connecting" ------------------------------------------------------


def raw_text(raw: Any, world: World, endpoint: str) -> str | None:
    """The id as it appears in the path, with symbolic ids resolved against the world."""
    if isinstance(raw, Existing):
        return "0" * raw.zeros + str(world.pks[raw.endpoint][raw.name])
    if isinstance(raw, Beyond):
        return str(max(world.pks[endpoint].values()) + raw.offset)
    return raw


def path_of(endpoint: str, raw: str | None, slash: bool) -> str:
    if raw is None:
        return f"/ws/{endpoint}" + ("/" if slash else "")
    return f"/ws/{endpoint}/{quote(raw, safe='')}" + ("/" if slash else "")


def positive_id(raw: str | None) -> str | None:
    """docs/protocol.md: ASCII digits, > 0. The id in canonical decimal (no leading zeros), kept as text:
    ids of any length are positive integers, beyond what int() converts by default (4300 digits)."""
    if not raw or not set(raw) <= ASCII_DIGITS or not raw.strip("0"):
        return None
    return raw.lstrip("0")


AUTH_ERRORS = {
    "expired": "expired",
    "wrong_key": "bad_signature",
    "alg_none": "bad_signature",  # alg: none counts as a bad signature (the spec)
    "unknown_user": "unknown_user",
    "none": "missing",
}


def auth_error(credential: Credential) -> str | None:
    kind = credential.kind
    if kind == "valid":
        return "inactive_user" if USERS[credential.user].get("is_active") is False else None
    if kind == "garbage":  # no dots: not a JWT; an empty value (after Bearer's trimming) is no token
        empty = not (credential.text.strip() if credential.via == "header" else credential.text)
        return "missing" if empty else "malformed"
    return AUTH_ERRORS[kind]


def role_of(user: str, endpoint: str, name: str) -> tuple[str, bool]:
    """The role and is_participant of `user` on the named tournament or match."""
    tournament = name if endpoint == "tournament" else MATCHES[name][0]
    if endpoint == "tournament":
        players = {p for t, *pair in MATCHES.values() if t == tournament for p in pair}
    else:
        players = set(MATCHES[name][1:])
    flags = USERS[user]
    if ORGANIZERS[tournament] == user:
        role = "organizer"
    elif flags.get("is_staff") or flags.get("is_superuser"):
        role = "admin"
    else:
        role = "participant" if user in players else "spectator"
    return role, user in players


def expected(endpoint: str, attempt: Attempt, world: World) -> tuple:
    """("refused", close code, error code) or ("welcome", connection_established data)."""
    if attempt.allowed and attempt.origin not in attempt.allowed:
        return ("refused", 4003, "origin_not_allowed")
    object_id = positive_id(raw_text(attempt.raw_id, world, endpoint))
    if object_id is None:
        return ("refused", 4000, "invalid_id")
    error = auth_error(attempt.credential)
    if error:
        return ("refused", 4001, error)
    names = {str(pk): name for name, pk in world.pks[endpoint].items()}
    if object_id not in names:
        return ("refused", 4004, "not_found")
    user, name = attempt.credential.user, names[object_id]
    role, playing = role_of(user, endpoint, name)
    ids = {f"{endpoint}_id": world.pks[endpoint][name]}
    if endpoint == "match":
        ids["tournament_id"] = world.pks["tournament"][MATCHES[name][0]]
    data = {"user_id": world.users[user].pk, "role": role, "is_participant": playing}
    return ("welcome", {**ids, **data, "heartbeat_interval": HEARTBEAT_INTERVAL})


# -- strategies ------------------------------------------------------------------------------------

odd_ids = st.sampled_from(
    ["0", "00", "-1", "+1", " 1", "1 ", "1.0", "1e3", "0x1", "1_0", "\u0661", "\u00b2", "\uff11", "", "null"]
)
huge_ids = st.sampled_from([str(2**31), str(2**63 - 1), str(2**63), "9" * 30, "9" * 5000])
# Any text but "/" (another path segment) and "\n" (which no route matches).
path_text = st.text(st.characters(exclude_characters="/\n", exclude_categories=("Cs",)), max_size=12)


def mostly(good: st.SearchStrategy, bad: st.SearchStrategy) -> st.SearchStrategy:
    """`good` three times in four: each part of an attempt is usually fine, so refusals come one by one.

    (`st.one_of(good, good, good, bad)` would flatten `bad`'s own branches in and weigh them each.)
    """
    return st.sampled_from((good, good, good, bad)).flatmap(lambda part: part)


def raw_ids(endpoint: str) -> st.SearchStrategy:
    other = "match" if endpoint == "tournament" else "tournament"
    good = st.builds(Existing, st.just(endpoint), st.sampled_from(NAMES[endpoint]), st.integers(0, 3))
    bad = st.one_of(
        st.builds(Existing, st.just(other), st.sampled_from(NAMES[other]), st.integers(0, 1)),
        st.builds(Beyond, st.integers(1, 10**6)),
        odd_ids,
        huge_ids,
        st.integers().map(str),
        path_text,
        st.just(MISSING),
    )
    return mostly(good, bad)


# Garbage tokens have no dots (so they cannot be JWTs) and stay latin-1 (they may go in a header).
garbage = st.text(st.characters(codec="latin-1", exclude_characters=".", exclude_categories=("Cs",)))
vias = st.sampled_from(["query", "header"])
users = st.sampled_from(ACTIVE)
credentials = mostly(
    st.builds(Credential, st.just("valid"), st.sampled_from(sorted(USERS)), via=vias),
    st.one_of(
        st.builds(Credential, st.sampled_from(["expired", "wrong_key", "alg_none"]), users, via=vias),
        st.builds(Credential, st.sampled_from(["unknown_user", "none"]), via=vias),
        st.builds(Credential, st.just("garbage"), text=garbage, via=vias),
    ),
)
origins = st.none() | st.sampled_from(ORIGINS) | st.text(st.characters(codec="latin-1"), max_size=20)
# The allowed list, then an Origin header that is usually on it (any header passes an empty list).
origin_settings = st.sampled_from(ALLOWED_LISTS).flatmap(
    lambda allowed: st.tuples(
        st.just(allowed), mostly(st.sampled_from(allowed) if allowed else origins, origins)
    )
)


def attempts(endpoint: str) -> st.SearchStrategy:
    return st.builds(
        lambda origin, **parts: Attempt(allowed=origin[0], origin=origin[1], **parts),
        origin=origin_settings,
        raw_id=raw_ids(endpoint),
        slash=st.booleans(),
        credential=credentials,
    )


# -- fixtures and the check ------------------------------------------------------------------------


@pytest.fixture
def world(harness_users, harness_rows) -> World:
    users = {name: harness_users.create(name, **flags) for name, flags in USERS.items()}
    tournaments = {
        name: harness_rows.create(Tournament, name=name, organizer=users[organizer])
        for name, organizer in ORGANIZERS.items()
    }
    matches = {}
    for name, (tournament, p1, p2) in MATCHES.items():
        matches[name] = harness_rows.create(
            Match,
            tournament=tournaments[tournament],
            participant1_id=users[p1].pk,
            participant1_name=p1,
            participant2_id=users[p2].pk,
            participant2_name=p2,
        )
    pks = {
        "tournament": {name: row.pk for name, row in tournaments.items()},
        "match": {name: row.pk for name, row in matches.items()},
    }
    return World(users, pks)


def token_for(credential: Credential, jwt, world: World) -> str | None:
    user = world.users.get(credential.user)
    return {
        "valid": lambda: jwt.valid(user),
        "expired": lambda: jwt.expired(user),
        "wrong_key": lambda: jwt.wrong_key(user),
        "alg_none": lambda: jwt.alg_none(user),
        "unknown_user": lambda: jwt.unknown_user(),
        "garbage": lambda: credential.text,
        "none": lambda: None,
    }[credential.kind]()


async def attempt_connection(stage: "Stage", endpoint: str, attempt: Attempt) -> None:
    """One example: connect as `attempt` says and get exactly the model's outcome; nothing is left behind."""
    stage.settings.WS_ALLOWED_ORIGINS = list(attempt.allowed)
    path = path_of(endpoint, raw_text(attempt.raw_id, stage.world, endpoint), attempt.slash)
    token = token_for(attempt.credential, stage.jwt, stage.world)
    outcome = expected(endpoint, attempt, stage.world)
    event(f"{outcome[0]} {outcome[2] if outcome[0] == 'refused' else outcome[1]['role']}")
    via = attempt.credential.via
    client = await stage.ws.connect(path, token=token, token_via=via, origin=attempt.origin)
    try:
        if outcome[0] == "refused":
            await assert_refused(client, outcome[1], outcome[2], stage.layer)
        else:
            await assert_welcomed(client, stage.layer, endpoint, outcome[1])
    finally:
        await client.disconnect()
    assert stage.layer.groups == {} and heartbeat_tasks() == []  # left its group, stopped its heartbeat


async def assert_welcomed(client, layer, endpoint: str, data: dict) -> None:
    """Welcomed with exactly `data`, in the object's group with a heartbeat; nothing else before a ping."""
    assert await client.receive_json() == {"type": "connection_established", "data": data}
    group = utils.tournament_group if endpoint == "tournament" else utils.match_group
    assert len(members(layer, group(data[f"{endpoint}_id"]))) == 1
    assert len(heartbeat_tasks()) == 1
    await client.assert_nothing_received(1.0)


@dataclass(frozen=True)
class Stage:
    """What every example needs: clients, tokens, the channel layer, settings and the committed world."""

    ws: Any
    jwt: Any
    layer: Any
    settings: Any
    world: World


@pytest.fixture
def stage(harness_ws, harness_jwt, harness_channel_layer, settings, world) -> Stage:
    return Stage(harness_ws, harness_jwt, harness_channel_layer, settings, world)


LOCAL = ("http://localhost",)


@settings(max_examples=EXAMPLES)
@given(attempt=attempts("tournament"))
@example(attempt=admitted("tournament", "spring", "olga"))
@example(
    attempt=admitted("tournament", "spring", "frank", "header")
)  # staff: admin where he does not organize
@example(attempt=admitted("tournament", "autumn", "frank", allowed=LOCAL, origin="http://localhost"))
@example(attempt=admitted("tournament", "autumn", "olga", raw_id=Existing("tournament", "autumn", 2)))
@example(attempt=admitted("tournament", "spring", "dave", slash=False))  # plays only in "semi"
@example(attempt=admitted("tournament", "spring", "root", raw_id=Beyond(1)))
@example(attempt=admitted("tournament", "spring", "carol", raw_id="9" * 30))
@example(attempt=admitted("tournament", "spring", "carol", raw_id="0" * 3 + "1" * 4301))  # over int()'s limit
@example(attempt=admitted("tournament", "spring", "alice", allowed=LOCAL, origin="HTTP://LOCALHOST"))
@example(attempt=admitted("tournament", "spring", "alice", raw_id="abc", allowed=LOCAL))  # origin first
@example(attempt=admitted("tournament", "spring", "alice", raw_id="\u00b2", credential=Credential("none")))
@example(  # authentication before existence; an empty bearer token is no token
    attempt=admitted(
        "tournament",
        "spring",
        "alice",
        raw_id=Beyond(5),
        credential=Credential("garbage", text=" ", via="header"),
    )
)
async def test_tournament_connections_follow_the_protocol(stage, attempt):
    await attempt_connection(stage, "tournament", attempt)


@settings(max_examples=EXAMPLES)
@given(attempt=attempts("match"))
@example(attempt=admitted("match", "final", "alice"))
@example(attempt=admitted("match", "friendly", "olga", raw_id=Existing("match", "friendly", 1)))
@example(attempt=admitted("match", "semi", "alice", slash=False))  # plays in the tournament, not this match
@example(attempt=admitted("match", "final", "stella", "header"))
@example(attempt=admitted("match", "final", "bob", allowed=LOCAL, origin="http://localhost/"))
@example(attempt=admitted("match", "final", "idle"))
@example(attempt=admitted("match", "final", "alice", raw_id=str(2**63)))
# Found by this test: an id of over 4300 digits crashed the consumer (int()'s limit) instead of 4004.
@example(attempt=admitted("match", "final", "alice", raw_id="9" * 5000))
@example(attempt=admitted("match", "final", "alice", raw_id=MISSING, slash=False))
@example(attempt=admitted("match", "final", "bob", credential=Credential("alg_none", "bob")))
async def test_match_connections_follow_the_protocol(stage, attempt):
    await attempt_connection(stage, "match", attempt)
