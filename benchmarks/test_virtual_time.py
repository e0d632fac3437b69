"""Benchmark: target_app's timers on virtual time, as a ratio of loop seconds to wall seconds.

    .venv/bin/python -m pytest benchmarks -p no:randomly

Each scenario runs the real code with its real settings (25 s ping, 50 s timeout, 100 ms batch
window, 10 msg/s rate) and prints how many seconds of loop time it covered per wall second. The
assertions check behaviour only; the speed is reported, never asserted.
"""

import asyncio
import time

import pytest

from target_app.realtime import utils
from target_app.tournaments.models import Match, Tournament

pytestmark = pytest.mark.looptime


@pytest.fixture
def match(harness_users, harness_rows):
    organizer, alice, bob = (harness_users.create(name) for name in ("organizer", "alice", "bob"))
    tournament = harness_rows.create(Tournament, name="Bench Cup", organizer=organizer)
    return harness_rows.create(
        Match,
        tournament=tournament,
        participant1_id=alice.pk,
        participant1_name="alice",
        participant2_id=bob.pk,
        participant2_name="bob",
    )


async def test_heartbeat_timeout(harness_ws, match, looptime, record_ratio):
    client = await harness_ws.connect(f"/ws/match/{match.pk}/", user=match.participant1_id)
    assert (await client.receive_json())["type"] == "connection_established"
    t0, started = float(looptime), time.perf_counter()
    assert (await client.receive_json(timeout=30))["type"] == "ping"
    await client.expect_close(4008, timeout=30)
    record_ratio("heartbeat: ping at 25 s, close 4008 at 50 s", looptime - t0, time.perf_counter() - started)


async def test_score_batches(harness_channel_layer, looptime, record_ratio):
    channel = await harness_channel_layer.new_channel()
    await harness_channel_layer.group_add(utils.match_group(1), channel)
    t0, started = float(looptime), time.perf_counter()
    for score in range(200):
        utils.broadcast_score_updated_batched(1, 1, {"score1": score, "score2": 0})
        frame = await harness_channel_layer.receive(channel)  # one per 100 ms window
        assert frame["data"]["score1"] == score
    record_ratio("score batching: 200 windows of 100 ms", looptime - t0, time.perf_counter() - started)


async def test_rate_limit_refill(harness_ws, match, harness_rate_limits, looptime, record_ratio):
    harness_rate_limits(msg_rate=1, msg_burst=1, rate_close_after=1000)
    client = await harness_ws.connect(f"/ws/match/{match.pk}/", user=match.participant1_id)
    await client.receive_json()
    t0, started = float(looptime), time.perf_counter()
    pongs = 0
    while pongs < 40:  # one token a second: an early ping is refused with retry_after, then retried
        await client.send_json({"type": "ping"})
        frame = await client.receive_json()
        while frame["type"] == "ping":  # the server's own heartbeat
            frame = await client.receive_json()
        if frame["type"] == "error":
            assert frame["code"] == "rate_limited"
            await asyncio.sleep(frame["data"]["retry_after"])
        else:
            assert frame["type"] == "pong"
            pongs += 1
    record_ratio("rate limit: 40 pings at 1 msg/s", looptime - t0, time.perf_counter() - started)
