"""Module 6.7 step 4: the match state machine over the HTTP API, checked against a model of the protocol."""

import json
from dataclasses import dataclass
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from target_app.tournaments.models import IllegalTransition, Match, Tournament

# The protocol's state machine (docs/protocol.md, "State machine"), written from the docs, not from
# Match.TRANSITIONS, so the two are compared rather than one copied into the other.
ALLOWED = {
    "scheduled": {"live", "cancelled"},
    "live": {"completed", "disputed", "cancelled"},
    "completed": {"disputed"},
    "disputed": {"completed", "cancelled"},
    "cancelled": set(),
}
STATES = sorted(ALLOWED)
TARGET = {"start": "live", "complete": "completed", "dispute": "disputed"}  # endpoint → new state
SUCCESS = {"start": 200, "score": 202, "complete": 200, "dispute": 200}
MAX_SCORE = 2_147_483_647  # docs/protocol.md: scores are "integers from 0 to 2147483647"
UNKNOWN_MATCH = 2_000_000_000

# Runs scale with the profile ("fast": 40 → 10 runs of 10 steps; "long": 1000 → 250 runs of 30).
RUNS = max(5, settings.default.max_examples // 4)
STEPS = 10 if settings.default.max_examples <= 100 else 30

# Who calls: allowed callers, refused users (403), and each way a token fails (401 + its auth_error).
ALLOWED_CALLERS = ("organizer", "admin", "superuser")
REFUSED_CALLERS = ("participant", "spectator", "other_organizer")
AUTH_FAILURES = {
    "no_header": "missing",
    "basic_scheme": "missing",
    "malformed": "malformed",
    "expired": "expired",
    "wrong_key": "bad_signature",
    "alg_none": "bad_signature",
    "unknown_user": "unknown_user",
    "inactive_user": "inactive_user",
}
callers = st.sampled_from(ALLOWED_CALLERS + REFUSED_CALLERS + tuple(AUTH_FAILURES))
places = st.sampled_from(["this", "unknown"])


@dataclass(frozen=True)
class Ref:
    """A user named symbolically in a body; the rule puts in that user's id."""

    who: str


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=6), kids, max_size=3),
    max_leaves=6,
)
not_json = st.one_of(st.just(b"{"), st.just(b"\xff\xfe"), st.text(min_size=1).map(lambda t: t.encode()))
counts = (
    st.integers(min_value=0)
    | st.integers(MAX_SCORE - 2, MAX_SCORE + 2)
    | st.integers(max_value=-1)
    | json_values
)
winners = st.sampled_from([Ref("p1"), Ref("p2"), Ref("spectator")]) | json_values
reasons = st.text(max_size=30) | st.just(" \n\t") | json_values


def bodies(**fields: st.SearchStrategy) -> st.SearchStrategy:
    """Raw request bodies: the endpoint's own fields (each maybe missing), any JSON, or not JSON."""
    own = (
        st.fixed_dictionaries({}, optional=fields)
        if fields
        else st.dictionaries(st.text(max_size=5), json_values)
    )
    return st.one_of(own, own, json_values, st.just(None), not_json)


actions = st.sampled_from(sorted(SUCCESS))
GOOD_BODIES = {
    "start": st.none() | st.dictionaries(st.text(max_size=5), json_values, max_size=2),
    "score": st.fixed_dictionaries({"score1": st.integers(0, 99), "score2": st.integers(0, 99)}),
    "complete": st.fixed_dictionaries({"winner": st.sampled_from([Ref("p1"), Ref("p2")])}),
    "dispute": st.fixed_dictionaries({"reason": st.text(min_size=1).filter(str.strip)}),
}
ANY_BODIES = {
    "start": bodies(),
    "score": bodies(score1=counts, score2=counts),
    "complete": bodies(winner=winners),
    "dispute": bodies(reason=reasons),
}


# -- the model -------------------------------------------------------------------------------------


def parse_body(raw: bytes) -> dict | None:
    """The body as the API reads it: empty is {}, anything but a JSON object is None (a 400)."""
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return body if isinstance(body, dict) else None


def is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_SCORE


def body_ok(action: str, body: dict | None, participants: set[int]) -> bool:
    if body is None:
        return False
    if action == "score":
        return is_count(body.get("score1")) and is_count(body.get("score2"))
    if action == "complete":
        return is_count(body.get("winner")) and body["winner"] in participants
    if action == "dispute":
        return isinstance(body.get("reason"), str) and bool(body["reason"].strip())
    return True  # start takes any object


@dataclass(frozen=True)
class World:
    """Users, tokens and ids the machine works with (built once per test)."""

    headers: dict  # caller → extra request headers
    user_ids: dict  # p1, p2, spectator → user id
    tournament_id: int


class MatchMachine(RuleBasedStateMachine):
    """Drives one fresh match through the API; the model says what every request must get."""

    def __init__(self, world: World) -> None:
        super().__init__()
        self.world = world
        self.client = Client()
        ids = world.user_ids
        self.match = Match.objects.create(
            tournament_id=world.tournament_id,
            participant1_id=ids["p1"],
            participant1_name="alice",
            participant2_id=ids["p2"],
            participant2_name="bob",
        )
        self.state, self.scores, self.winner = "scheduled", (0, 0), None

    def expected(self, action: str, caller: str, where: str, raw: bytes) -> tuple[int, str | None]:
        """(status, error code or None) in the API's order: 401, 404, 403, 400, 409."""
        if caller in AUTH_FAILURES:
            return 401, AUTH_FAILURES[caller]
        if where == "unknown":
            return 404, "not_found"
        if caller not in ALLOWED_CALLERS:
            return 403, "permission_denied"
        participants = {self.world.user_ids["p1"], self.world.user_ids["p2"]}
        if not body_ok(action, parse_body(raw), participants):
            return 400, "bad_request"
        if action in TARGET and TARGET[action] not in ALLOWED[self.state]:
            return 409, "illegal_transition"
        return SUCCESS[action], None

    def call(self, action: str, caller: str, where: str, body: Any) -> None:
        raw = self.encode(body)
        status, code = self.expected(action, caller, where, raw)
        match_id = self.match.pk if where == "this" else UNKNOWN_MATCH
        response = self.client.post(
            f"/api/matches/{match_id}/{action}",
            raw,
            content_type="application/json",
            **self.world.headers[caller],
        )
        answer = response.json()
        assert response.status_code == status, (response.status_code, answer, self.state)
        event(f"{action} in {self.state}: {status}")  # coverage, shown by --hypothesis-show-statistics
        if code is not None:
            assert answer.keys() == {"error", "message"} and answer["error"] == code, answer
            return
        self.apply(action, json.loads(raw) if raw else {}, answer)

    def apply(self, action: str, body: dict, answer: dict) -> None:
        """A successful call: update the model and check the answer's body."""
        if action == "score":
            self.scores = (body["score1"], body["score2"])
            assert answer == {"match_id": self.match.pk, "score1": self.scores[0], "score2": self.scores[1]}
            return
        self.state = TARGET[action]
        expected = {"match_id": self.match.pk, "state": self.state}
        if action == "complete":
            self.winner = body["winner"]
            expected["winner_id"] = self.winner
        assert answer == expected

    def encode(self, body: Any) -> bytes:
        if isinstance(body, bytes):
            return body
        if body is None:
            return b""
        return json.dumps(self.resolve(body)).encode()

    def resolve(self, value: Any) -> Any:
        if isinstance(value, Ref):
            return self.world.user_ids[value.who]
        if isinstance(value, dict):
            return {key: self.resolve(item) for key, item in value.items()}
        return value

    @rule(action=actions, caller=st.sampled_from(ALLOWED_CALLERS), data=st.data())
    def allowed_caller_acts(self, action, caller, data):
        # Most of these succeed or hit the state machine (409): the runs reach every state.
        self.call(action, caller, "this", data.draw(GOOD_BODIES[action], label="body"))

    @rule(action=actions, caller=callers, where=places, data=st.data())
    def anyone_calls(self, action, caller, where, data):
        self.call(action, caller, where, data.draw(ANY_BODIES[action], label="body"))

    @rule(action=st.sampled_from(sorted(SUCCESS)), caller=callers)
    def wrong_method(self, action, caller):
        response = self.client.get(f"/api/matches/{self.match.pk}/{action}", **self.world.headers[caller])
        assert response.status_code == 405  # the endpoints take POST only, whoever asks

    @rule()
    def cancel_outside_the_api(self):
        # Cancelling has no endpoint; the one state-changing function must still refuse what the model does.
        match = Match.objects.get(pk=self.match.pk)
        if "cancelled" in ALLOWED[self.state]:
            assert match.transition("cancelled") == self.state
            self.state = "cancelled"
        else:
            with pytest.raises(IllegalTransition):
                match.transition("cancelled")

    @invariant()
    def database_agrees_with_the_model(self):
        stored = Match.objects.get(pk=self.match.pk)
        assert (stored.state, stored.score1, stored.score2, stored.winner_id) == (
            self.state,
            *self.scores,
            self.winner,
        )


# -- fixtures --------------------------------------------------------------------------------------


def _bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture
def world(db, django_user_model, harness_jwt) -> World:
    # `db`, not the committed rows of `cast`: every request then commits to a savepoint instead of the
    # file (fast), and the views' after-commit broadcasts stay out of this test (no loop runs them).
    make = django_user_model.objects.create
    organizer, alice, bob = make(username="organizer"), make(username="alice"), make(username="bob")
    tournament = Tournament.objects.create(name="Spring Cup", organizer=organizer)
    other = Tournament.objects.create(name="Autumn Cup", organizer=make(username="frank"))
    inactive = make(username="gone", is_active=False)
    users = {
        "organizer": organizer,
        "admin": make(username="admin", is_staff=True),
        "superuser": make(username="root", is_superuser=True),
        "participant": alice,
        "spectator": make(username="carol"),
        "other_organizer": other.organizer,
    }
    headers = {caller: _bearer(harness_jwt.valid(user)) for caller, user in users.items()}
    headers |= {
        "no_header": {},
        "basic_scheme": {"HTTP_AUTHORIZATION": f"Basic {harness_jwt.valid(organizer)}"},
        "malformed": _bearer(harness_jwt.malformed()),
        "expired": _bearer(harness_jwt.expired(organizer)),
        "wrong_key": _bearer(harness_jwt.wrong_key(organizer)),
        "alg_none": _bearer(harness_jwt.alg_none(organizer)),
        "unknown_user": _bearer(harness_jwt.unknown_user()),
        "inactive_user": _bearer(harness_jwt.valid(inactive)),
    }
    user_ids = {"p1": alice.pk, "p2": bob.pk, "spectator": users["spectator"].pk}
    return World(headers, user_ids, tournament.pk)


# -- tests -----------------------------------------------------------------------------------------


def test_match_api_follows_the_protocol_state_machine(world):
    run_state_machine_as_test(
        lambda: MatchMachine(world), settings=settings(max_examples=RUNS, stateful_step_count=STEPS)
    )


def test_transition_table_is_the_protocols():
    assert {state: set(targets) for state, targets in Match.TRANSITIONS.items()} == ALLOWED


def test_every_transition_is_allowed_or_refused_as_the_protocol_says(world):
    match = Match.objects.create(tournament_id=world.tournament_id, participant1_id=world.user_ids["p1"])
    for old in STATES:
        for new in STATES:
            Match.objects.filter(pk=match.pk).update(state=old)
            match.refresh_from_db()
            if new in ALLOWED[old]:
                assert match.transition(new, winner_id=world.user_ids["p1"]) == old
                assert Match.objects.get(pk=match.pk).state == new
            else:
                with pytest.raises(IllegalTransition):
                    match.transition(new, winner_id=world.user_ids["p1"])
                assert Match.objects.get(pk=match.pk).state == old


@pytest.mark.parametrize(
    ("score", "status"), [(MAX_SCORE, 202), (MAX_SCORE + 1, 400), (2**63, 400), (2**64, 400)]
)
def test_scores_beyond_the_documented_range_are_a_bad_request(world, score, status):
    # Found by the step 4 fuzzing: 2**63 was an OverflowError (HTTP 500) until bb0bb1e.
    match = Match.objects.create(tournament_id=world.tournament_id)
    body = json.dumps({"score1": 0, "score2": score})
    response = Client().post(
        f"/api/matches/{match.pk}/score", body, content_type="application/json", **world.headers["organizer"]
    )
    assert response.status_code == status
    match.refresh_from_db()
    if status == 202:
        assert response.json() == {"match_id": match.pk, "score1": 0, "score2": score}
        assert (match.score1, match.score2) == (0, score)
    else:
        assert response.json() == {"error": "bad_request", "message": response.json()["message"]}
        assert (match.score1, match.score2) == (0, 0)


# -- broadcasts of the API's changes (not stateful: one scripted path, exact frames) --------------------


async def _post(harness_jwt, user, match_id: int, action: str, body: dict) -> tuple[int, dict]:
    """POST through Django's test client in a worker thread, as a sync view runs under ASGI."""

    def call():
        response = Client().post(
            f"/api/matches/{match_id}/{action}",
            json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {harness_jwt.valid(user)}",
        )
        return response.status_code, response.json()

    return await sync_to_async(call)()


async def _both_receive(clients, expected: list[dict]) -> None:
    for client in clients:
        assert [await client.receive_json() for _ in expected] == expected


@pytest.mark.looptime
async def test_api_changes_reach_match_and_tournament_clients_in_order(harness_ws, harness_jwt, cast, match):
    player = await harness_ws.connect(f"/ws/match/{match.pk}/", user=cast.alice)
    watcher = await harness_ws.connect(f"/ws/tournament/{match.tournament_id}/", user=cast.carol)
    for client in (player, watcher):
        assert (await client.receive_json())["type"] == "connection_established"
    clients, ids = (player, watcher), {"match_id": match.pk, "tournament_id": match.tournament_id}

    def changed(old: str, new: str) -> dict:
        return {"type": "match_state_changed", "data": {**ids, "old_state": old, "new_state": new}}

    started = await _post(harness_jwt, cast.organizer, match.pk, "start", {})
    assert started == (200, {"match_id": match.pk, "state": "live"})
    live = {"type": "match_started", "data": {**ids, "state": "live"}}
    await _both_receive(clients, [live, changed("scheduled", "live")])

    # A pending score goes out before the completion that follows it (flushed early if still batched).
    assert (await _post(harness_jwt, cast.admin, match.pk, "score", {"score1": 4, "score2": 1}))[0] == 202
    body = {"winner": cast.alice.pk}
    assert (await _post(harness_jwt, cast.organizer, match.pk, "complete", body))[0] == 200
    score = {"score1": 4, "score2": 1, "reported_by": cast.admin.pk, **ids, "sequence": 1}
    completed = {**ids, "winner_id": cast.alice.pk, "score1": 4, "score2": 1}
    await _both_receive(
        clients,
        [
            {"type": "score_updated", "data": score},
            {"type": "match_completed", "data": completed},
            changed("live", "completed"),
        ],
    )

    assert (await _post(harness_jwt, cast.organizer, match.pk, "dispute", {"reason": "offside"}))[0] == 200
    dispute = {"type": "dispute_created", "data": {**ids, "reason": "offside"}}
    await _both_receive(clients, [dispute, changed("completed", "disputed")])

    # Refused calls broadcast nothing.
    assert (await _post(harness_jwt, cast.alice, match.pk, "start", {}))[0] == 403
    assert (await _post(harness_jwt, cast.organizer, match.pk, "start", {}))[0] == 409
    for client in clients:
        await client.assert_nothing_received(0.5)
