"""Module 6.7 step 4: fuzzed timelines of client frames, silences and server events on one connection."""

import asyncio
import importlib.util
import logging
import math
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from suites.realtime_checks import Recorder, error, heartbeat_tasks, members
from target_app.realtime import consumers, utils
from target_app.realtime.consumers import RealtimeConsumer, TournamentConsumer

pytestmark = pytest.mark.looptime

# One connection per example, minutes of virtual time each ("fast": 40 → 20, "long": 1000 → 500).
EXAMPLES = max(10, settings.default.max_examples // 2)
# Client acts happen 0.3 s and server acts 0.6 s past a whole second, and pings on whole seconds, so no
# two of them are ever due at the same instant. Executor threads move virtual time along with real
# time (a few milliseconds per hop, more on a loaded machine), so arrival times get TOLERANCE.
CLIENT_AT, SERVER_AT, TOLERANCE = 0.3, 0.6, 0.2
CLIENT_ACTS = ("ping", "pong", "garbage", "unknown")
EVENTS = (
    "announcement",
    "score_updated",
    "match_started",
    "match_completed",
    "match_state_changed",
    "dispute_created",
    "bracket_updated",
)
PING = "<a server ping>"


@dataclass(frozen=True)
class Act:
    """`gap` whole seconds after the previous act, the client sends a frame or the server sends an event.

    `kind`: ping, pong, garbage or unknown (client frames); event (a group broadcast) or error (an error
    sent to this connection's channel). `value`: the ping's timestamp, (type, data), or (code, message).
    """

    gap: int
    kind: str
    value: Any = None

    @property
    def by_client(self) -> bool:
        return self.kind in CLIENT_ACTS


# -- the model: realtime-protocol.md "Heartbeat" and "Frames", docs/protocol.md "Frames" --------------


def timeline(acts: list[Act], timeout: int) -> list[tuple[float, Act]]:
    """Seconds after the welcome at which each act happens, in the order given.

    A client act after a server act in the same second goes to the next second (its fraction is smaller),
    and so does a client frame due exactly when the silence deadline falls (it would race the deadline).
    """
    plan: list[tuple[float, Act]] = []
    second, last_client = 0, None
    for act in acts:
        second += act.gap
        fraction = CLIENT_AT if act.by_client else SERVER_AT
        if plan and second + fraction < plan[-1][0]:
            second += 1
        if act.by_client:
            if last_client is not None and second == last_client + timeout:
                second += 1
            last_client = second
        plan.append((second + fraction, act))
    return plan


def answer(act: Act) -> Any:
    """What the server sends at once for `act`, or None."""
    if act.kind == "ping":
        return {"type": "pong", "data": {"timestamp": act.value}}
    if act.kind == "garbage":
        return error("invalid_json")
    if act.kind == "unknown":
        return error("unsupported_message_type")
    if act.kind == "event":
        return {"type": act.value[0], "data": act.value[1]}
    if act.kind == "error":
        return {"type": "error", "code": act.value[0], "message": act.value[1]}
    return None  # a pong


def expected(plan: list[tuple[float, Act]], interval: int, timeout: int) -> tuple[list, float]:
    """Every frame the client gets with its time, and when the server closes with 4008.

    Pings every `interval` s from the welcome; the close `timeout` s after the client's last frame (before
    a ping due at the same instant); server events relayed while open; nothing after the close.
    """
    frames: list[tuple[float, Any]] = []
    last_seen, next_ping = 0.0, float(interval)
    for at, act in [*plan, (math.inf, None)]:
        while min(next_ping, last_seen + timeout) < at:
            if last_seen + timeout <= next_ping:
                close = last_seen + timeout
                return [*frames, (close, error("heartbeat_timeout")), (close, ("close", 4008))], close
            frames.append((next_ping, PING))
            next_ping += interval
        if act.by_client:
            last_seen = at
        if answer(act) is not None:
            frames.append((at, answer(act)))
    raise AssertionError("unreachable: the silence after the last act always ends in a close")


# -- strategies ------------------------------------------------------------------------------------

texts = st.text(max_size=12)
stamps = st.none() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | texts  # timestamps
json_scalars = stamps | st.booleans()
event_data = st.dictionaries(texts, json_scalars | st.lists(json_scalars, max_size=3), max_size=4)
gaps = st.integers(0, 70)
acts = st.one_of(
    st.builds(Act, gaps, st.just("ping"), stamps),
    st.builds(Act, gaps, st.sampled_from(["pong", "garbage", "unknown"])),
    st.builds(Act, gaps, st.just("event"), st.tuples(st.sampled_from(EVENTS), event_data)),
    st.builds(Act, gaps, st.just("error"), st.tuples(texts, texts)),
)
intervals = st.integers(5, 30)
timeouts = st.integers(1, 60)

# -- running a timeline ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One connection to watch: its client, the recorder around the app, the layer, the room, the channel."""

    client: Any
    recorder: Recorder
    layer: Any
    endpoint: str
    object_id: int
    channel: str


async def perform(line: Line, act: Act) -> None:
    if act.kind == "ping":
        await line.client.send_json({"type": "ping", "timestamp": act.value})
    elif act.kind in ("pong", "unknown"):
        await line.client.send_json({"type": "pong" if act.kind == "pong" else "hop"})
    elif act.kind == "garbage":
        await line.client.send_text("{not json")
    elif act.kind == "event":
        broadcast = (
            utils.broadcast_tournament_event if line.endpoint == "tournament" else utils.broadcast_match_event
        )
        await broadcast(line.object_id, *act.value)
    else:
        await utils.send_error_to_channel(line.channel, *act.value)


async def record(client, t0: float, until: float, limit: int) -> list[tuple[float, Any]]:
    """Frames with their arrival time (seconds after `t0`) until the server closes, `until` passes, or
    `limit` frames came (a flood of pings at one virtual instant must not keep the test busy forever)."""
    loop = asyncio.get_running_loop()
    got: list[tuple[float, Any]] = []
    while len(got) < limit:
        try:
            frame = await client.receive_json(timeout=max(0.0, t0 + until - loop.time()))
        except AssertionError:  # the close (or a timeout, which the comparison then reports)
            if client.closed:
                got.append((loop.time() - t0, ("close", client.close_code)))
            break
        got.append((loop.time() - t0, PING if frame.get("type") == "ping" and _ping_ok(frame) else frame))
    return got


def _ping_ok(frame: dict) -> bool:
    stamp = frame.get("data", {}).get("timestamp")
    return frame.keys() == {"type", "data"} and isinstance(stamp, int | float) and not isinstance(stamp, bool)


def assert_same(got: list, want: list) -> None:
    assert [frame for _, frame in got] == [frame for _, frame in want], (got, want)
    late = [(g, w) for (g, _), (w, _) in zip(got, want, strict=True) if abs(g - w) > TOLERANCE]
    assert not late, f"frames off their time (got, expected): {late}"


async def live(line: Line, plan: list, want: list, close: float) -> None:
    """Play `plan` against the connection while recording what it receives; compare with `want`."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    reader = asyncio.create_task(record(line.client, t0, close + 5, limit=len(want) + 3))
    try:
        for at, act in plan:
            await asyncio.sleep(max(0.0, t0 + at - loop.time()))
            if act.by_client and at > close:
                continue  # the server has closed: a real client sends nothing more
            await perform(line, act)  # server acts after the close still reach the consumer's group
        got = await reader
    finally:
        reader.cancel()
    assert_same(got, want)
    assert line.recorder.after_close() == []  # the events after the close went nowhere


@pytest.fixture
def open_line(harness_ws, harness_asgi_app, harness_channel_layer, cast, tournament, match):
    async def opener(endpoint: str) -> Line:
        recorder = Recorder(harness_asgi_app)
        object_id = tournament.pk if endpoint == "tournament" else match.pk
        client = await harness_ws.connect(
            f"/ws/{endpoint}/{object_id}/", user=cast.carol, application=recorder
        )
        welcome = await client.receive_json()
        assert welcome["type"] == "connection_established", welcome
        group = (
            utils.tournament_group(object_id) if endpoint == "tournament" else utils.match_group(object_id)
        )
        (channel,) = members(harness_channel_layer, group)
        return Line(client, recorder, harness_channel_layer, endpoint, object_id, channel)

    return opener


@settings(max_examples=EXAMPLES)
@given(
    endpoint=st.sampled_from(["tournament", "match"]),
    interval=intervals,
    timeout=timeouts,
    acts=st.lists(acts, max_size=8),
)
@example(endpoint="match", interval=25, timeout=50, acts=[])  # a silent client: ping at 25, closed at 50
@example(endpoint="tournament", interval=25, timeout=50, acts=[Act(40, "pong"), Act(15, "pong")])
@example(endpoint="match", interval=25, timeout=50, acts=[Act(40, "garbage")])  # invalid frames count too
@example(
    endpoint="match",
    interval=25,
    timeout=50,
    acts=[Act(30, "ping", 7), Act(60, "event", ("match_started", {}))],
)
@example(
    endpoint="tournament",
    interval=10,
    timeout=5,
    acts=[Act(3, "error", ("stale", " reload now ")), Act(9, "garbage")],
)
@example(  # the pong would land on the deadline: the timeline sends it a second later
    endpoint="match", interval=30, timeout=30, acts=[Act(0, "unknown"), Act(30, "pong")]
)
@example(  # a ping in the second of an event: the timeline sends it a second later, after the event
    endpoint="tournament", interval=5, timeout=1, acts=[Act(0, "event", ("announcement", {})), Act(0, "ping")]
)
async def test_heartbeat_and_relays_follow_any_timeline(
    open_line, monkeypatch, endpoint, interval, timeout, acts
):
    monkeypatch.setattr(RealtimeConsumer, "HEARTBEAT_INTERVAL", interval)
    monkeypatch.setattr(RealtimeConsumer, "HEARTBEAT_TIMEOUT", timeout)
    plan = timeline(acts, timeout)
    want, close = expected(plan, interval, timeout)
    event(f"{sum(frame == PING for _, frame in want)} pings")
    line = await open_line(endpoint)
    try:
        await live(line, plan, want, close)
    finally:
        await line.client.disconnect()
        # Hypothesis reseeds `random` for each example and the in-memory layer names channels with it:
        # the next example's consumer gets this channel's name, and what was sent to it after the close.
        await line.layer.flush()
    assert heartbeat_tasks() == []


# -- the channel layer's receive through outages (docs/protocol.md "When Redis goes away") -------------

CONSUMERS_LOG = "target_app.realtime.consumers"
OUTAGE_ERRORS = (RedisConnectionError, RedisTimeoutError, ConnectionRefusedError, OSError)
RETRY_SECONDS = 1.0  # "retrying every second"


@settings(max_examples=settings.default.max_examples)
@given(
    failures=st.lists(st.lists(st.sampled_from(OUTAGE_ERRORS), max_size=4), min_size=1, max_size=5),
    then=st.sampled_from([None, ValueError, RuntimeError]),
)
@example(failures=[[], [RedisConnectionError] * 3, [], [OSError]], then=None)
@example(failures=[[RedisTimeoutError]], then=KeyError)
async def test_layer_receive_waits_out_any_outage(caplog, failures, then):
    """Each message arrives after its outage, retried once a second, logged once per outage; bugs raise."""
    script: list[Any] = []
    for n, errors in enumerate(failures):
        script += [kind(f"outage before message {n}") for kind in errors] + [{"type": "relay", "n": n}]
    if then is not None:
        script.append(then("a bug, not an outage"))

    async def layer_receive():
        if not script:  # a BaseException: no except clause in the code under test may swallow it
            pytest.fail("the channel layer was asked for more than the script holds")
        item = script.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item

    consumer = TournamentConsumer()
    consumer.channel_receive = layer_receive  # as Channels sets it: the consumer wraps the layer's receive
    caplog.clear()
    caplog.set_level(logging.INFO, logger=CONSUMERS_LOG)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    received = [await consumer.channel_receive() for _ in failures]
    assert received == [{"type": "relay", "n": n} for n in range(len(failures))]
    assert loop.time() - t0 == pytest.approx(RETRY_SECONDS * sum(map(len, failures)), abs=0.05)
    logged = [(r.levelno, r.getMessage().split(" (")[0]) for r in caplog.records if r.name == CONSUMERS_LOG]
    outage = [(logging.WARNING, "channel layer unreachable"), (logging.INFO, "channel layer reachable again")]
    assert logged == outage * sum(1 for errors in failures if errors)
    if then is not None:
        with pytest.raises(then):
            await consumer.channel_receive()


async def test_a_process_logs_no_recovery_before_its_first_outage(caplog):
    """The outage flag starts clear: a new process's first channel message logs nothing.

    The flag is process-wide and every test that receives clears it, so the state a process starts in
    is read from a fresh copy of the module, as a new server process imports it.
    """
    spec = importlib.util.spec_from_file_location("fresh_consumers", consumers.__file__)
    fresh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fresh)

    async def layer_receive():
        return {"type": "relay"}

    caplog.set_level(logging.DEBUG, logger="fresh_consumers")
    assert await fresh._receive_through_outages(layer_receive) == {"type": "relay"}
    assert [record.getMessage() for record in caplog.records] == []


# -- what the consumer's overrides keep of Channels' own contract ---------------------------------------


async def test_release_ends_the_heartbeat_before_it_returns():
    """Nothing of the heartbeat outlives the connection: `_release` waits for the cancelled task to end."""
    consumer = TournamentConsumer()
    consumer._last_seen = asyncio.get_running_loop().time()
    consumer._heartbeat_task = heartbeat = asyncio.create_task(consumer._heartbeat())
    await asyncio.sleep(0)  # the heartbeat now waits for its first ping
    await consumer._release()
    assert heartbeat.cancelled()
    assert heartbeat_tasks() == []


async def test_send_and_close_pass_through_to_channels_until_the_close():
    """The overrides only silence a consumer after its close; bytes, `close=` and `reason` still work."""
    sent: list[dict] = []

    async def base_send(message: dict) -> None:
        sent.append(message)

    first, second = TournamentConsumer(), TournamentConsumer()
    first.base_send = second.base_send = base_send
    await first.send(bytes_data=b"\x01")
    await first.send(text_data="last", close=4000)
    await first.send(text_data="too late")
    await first.close(code=4001)
    await second.close(code=4003, reason="bye")
    assert sent == [
        {"type": "websocket.send", "bytes": b"\x01"},
        {"type": "websocket.send", "text": "last"},
        {"type": "websocket.close", "code": 4000},
        {"type": "websocket.close", "code": 4003, "reason": "bye"},
    ]
