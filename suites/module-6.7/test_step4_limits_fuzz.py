"""Module 6.7 step 4: fuzzed sequences of connects, leaves and layer outages keep every limit and slot."""

import logging
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st
from redis.exceptions import ConnectionError as RedisConnectionError

from suites.realtime_checks import group_count, heartbeat_tasks
from target_app.realtime import utils

pytestmark = pytest.mark.looptime

# A handful of connections per example ("fast": 40 → 10 programs, "long": 1000 → 250).
EXAMPLES = max(5, settings.default.max_examples // 4)
ANONYMOUS = "anonymous"  # every anonymous client comes from 127.0.0.1: they share one address count
USERS = ("alice", "bob", "carol")
ROOMS = ("spring", "final")  # the tournament's room and the match's room
CONSUMERS_LOG = "target_app.realtime.consumers"
TARGETS = (*ROOMS, "bad_id", "gone")  # plus a path id that is not positive and a match that does not exist


@dataclass(frozen=True)
class Limits:
    conn_per_user: int
    conn_per_ip: int
    room_max: int
    enabled: bool


@dataclass(frozen=True)
class Connect:
    who: str
    target: str


@dataclass(frozen=True)
class Leave:
    pick: int  # which open client, modulo how many are open


@dataclass(frozen=True)
class Outage:
    down: bool  # the channel layer's group_add/group_discard fail (Redis unreachable) or work again


@dataclass
class Seat:
    """An open client as the model sees it: who, the room it sits in (if admitted), its connection slot."""

    who: str
    room: str | None
    counted: bool
    client: Any = None


# -- the model: the rate-limit middleware, then docs/protocol.md "Connecting", then joining the group ----


def predict(step: Connect, seats: list[Seat], limits: Limits, down: bool) -> tuple[tuple, Seat]:
    """The outcome of `step` (("refused", close, error) or ("welcome", room)) and the seat it leaves open."""
    if limits.enabled:
        limit = limits.conn_per_ip if step.who == ANONYMOUS else limits.conn_per_user
        if sum(seat.counted for seat in seats if seat.who == step.who) >= limit:
            return ("refused", 4029, "too_many_connections"), Seat(step.who, None, counted=False)
    seat = Seat(step.who, None, counted=limits.enabled)  # holds its slot until the client completes the close
    if step.target == "bad_id":
        return ("refused", 4000, "invalid_id"), seat
    if step.who == ANONYMOUS:
        return ("refused", 4001, "missing"), seat
    if step.target == "gone":
        return ("refused", 4004, "not_found"), seat
    if limits.enabled and sum(s.room == step.target for s in seats) >= limits.room_max:
        return ("refused", 4029, "room_full"), seat
    if down:
        return ("refused", 1011, "unavailable"), seat
    seat.room = step.target
    return ("welcome", step.target), seat


# -- strategies ------------------------------------------------------------------------------------

limits = st.builds(
    Limits,
    conn_per_user=st.integers(1, 3),
    conn_per_ip=st.integers(1, 2),
    room_max=st.integers(1, 3),
    enabled=st.sampled_from([True, True, True, False]),
)
# Rooms twice as often as the two refusing targets, so rooms fill up; users more often than anonymous.
connects = st.builds(
    Connect, st.sampled_from((*USERS, *USERS, ANONYMOUS)), st.sampled_from((*ROOMS, *TARGETS))
)
steps = st.lists(
    st.one_of(
        connects, connects, connects, st.builds(Leave, st.integers(0, 7)), st.builds(Outage, st.booleans())
    ),
    min_size=2,
    max_size=8,
)

# -- the test bench --------------------------------------------------------------------------------


async def _unreachable(*args: Any, **kwargs: Any) -> None:
    """What channels_redis raises while Redis is down."""
    raise RedisConnectionError("Error 111 connecting to redis:6379. Connection refused.")


@dataclass
class Bench:
    """One program's world: the clients it opened, the outage switch, and the paths of its targets."""

    ws: Any
    layer: Any
    users: dict
    paths: dict
    groups: dict
    seats: list = field(default_factory=list)
    down: bool = False
    warnings: int = 0  # the consumer warnings the model expects: a failed join or leave during an outage

    def set_outage(self, down: bool) -> None:
        self.down = down
        for name in ("group_add", "group_discard"):
            if down:
                setattr(self.layer, name, _unreachable)
            else:
                vars(self.layer).pop(name, None)

    async def connect(self, step: Connect, limits: Limits) -> None:
        outcome, seat = predict(step, self.seats, limits, self.down)
        event(f"{outcome[0]} {outcome[2] if outcome[0] == 'refused' else outcome[1]}")
        user = None if step.who == ANONYMOUS else self.users[step.who]
        seat.client = await self.ws.connect(self.paths[step.target], user=user)
        self.seats.append(seat)
        self.warnings += outcome[1] == 1011
        if outcome[0] == "welcome":
            frame = await seat.client.receive_json()
            assert frame["type"] == "connection_established", frame
        else:
            assert seat.client.accepted
            frames = await seat.client.expect_close(outcome[1])
            assert [frame.get("code") for frame in frames] == [outcome[2]], frames

    async def leave(self, step: Leave) -> None:
        if self.seats:
            seat = self.seats.pop(step.pick % len(self.seats))
            self.warnings += bool(seat.room and self.down)  # leaving its group fails, is logged, not raised
            await seat.client.disconnect()

    async def assert_rooms(self, limits: Limits) -> None:
        """Each room counts exactly its admitted clients: refused and departed ones gave their place back."""
        for room in ROOMS:
            admitted = sum(seat.room == room for seat in self.seats) if limits.enabled else 0
            assert await group_count(self.groups[room]) == admitted, room

    async def run(self, step: Any, limits: Limits) -> None:
        if isinstance(step, Outage):
            self.set_outage(step.down)
        elif isinstance(step, Leave):
            await self.leave(step)
        else:
            await self.connect(step, limits)

    async def close_all(self) -> None:
        self.set_outage(False)
        while self.seats:
            await self.seats.pop().client.disconnect()
        await self.layer.flush()  # memberships a failed group_discard left behind


@pytest.fixture
def new_bench(harness_ws, harness_channel_layer, cast, tournament, match):
    """A fresh bench for each example (fixtures are set up once for all of a test's examples)."""
    paths = {
        "spring": f"/ws/tournament/{tournament.pk}/",
        "final": f"/ws/match/{match.pk}/",
        "bad_id": "/ws/match/0/",
        "gone": f"/ws/match/{match.pk + 10**6}/",
    }
    groups = {"spring": utils.tournament_group(tournament.pk), "final": utils.match_group(match.pk)}
    users = {"alice": cast.alice, "bob": cast.bob, "carol": cast.carol}
    return lambda: Bench(harness_ws, harness_channel_layer, users, paths, groups)


@settings(max_examples=EXAMPLES)
@given(limits=limits, program=steps)
@example(  # the room fills, a leaver gives a place back, and a refused client held none
    limits=Limits(3, 2, 1, True),
    program=[Connect("alice", "final"), Connect("bob", "final"), Leave(0), Leave(0), Connect("bob", "final")],
)
@example(  # a refused connection holds the user's slot until the client leaves; too_many holds none
    limits=Limits(1, 1, 3, True),
    program=[Connect("alice", "gone"), Connect("alice", "spring"), Leave(0), Connect("alice", "spring")],
)
@example(  # anonymous clients share their address's own limit, checked before the id and authentication
    limits=Limits(3, 1, 3, True),
    program=[
        Connect(ANONYMOUS, "spring"),
        Connect(ANONYMOUS, "bad_id"),
        Leave(0),
        Connect(ANONYMOUS, "bad_id"),
    ],
)
@example(  # an outage: joining fails with 1011 and gives the place back; leaving is logged and gives it back
    limits=Limits(3, 2, 1, True),
    program=[
        Connect("alice", "final"),
        Outage(True),
        Connect("bob", "spring"),
        Leave(0),
        Outage(False),
        Connect("bob", "final"),
    ],
)
@example(  # switched off: nothing is counted
    limits=Limits(1, 1, 1, False),
    program=[Connect("alice", "final"), Connect("alice", "final"), Connect(ANONYMOUS, "gone")],
)
async def test_connection_and_room_limits_hold_over_any_sequence(
    new_bench, harness_rate_limits, caplog, limits, program
):
    harness_rate_limits(
        rate_enabled=limits.enabled,
        conn_per_user=limits.conn_per_user,
        conn_per_ip=limits.conn_per_ip,
        room_max=limits.room_max,
    )
    caplog.clear()
    bench = new_bench()
    try:
        for step in program:
            await bench.run(step, limits)
            await bench.assert_rooms(limits)
    finally:
        await bench.close_all()
    assert heartbeat_tasks() == [] and bench.layer.groups == {}
    warned = [r for r in caplog.records if r.name == CONSUMERS_LOG and r.levelno == logging.WARNING]
    assert len(warned) == bench.warnings, [record.getMessage() for record in warned]
