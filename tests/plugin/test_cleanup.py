"""harness_ws cleanup guarantees: a test that times out or whose consumer raises leaves the next clean."""

from __future__ import annotations

TESTS = """
import asyncio
import pytest
import proj_asgi

PENDING_AFTER_TEARDOWN = []


@pytest.fixture
async def pending_after_harness_ws():
    # Requested before harness_ws, so torn down after it: sees what harness_ws left behind.
    yield
    me = asyncio.current_task()
    PENDING_AFTER_TEARDOWN.append([t for t in asyncio.all_tasks() if t is not me and not t.done()])


async def test_1_receive_times_out(pending_after_harness_ws, harness_ws):
    client = await harness_ws.connect("/ws/heartbeat/")
    await client.receive_json(timeout=0.05)


async def test_2_consumer_raises(pending_after_harness_ws, harness_ws):
    client = await harness_ws.connect("/ws/echo/")
    await client.send_text("boom")
    await client.receive_json()


async def test_3_consumer_raises_unseen(pending_after_harness_ws, harness_ws):
    client = await harness_ws.connect("/ws/echo/")
    await client.send_text("boom")


async def test_4_cancelled_from_outside(pending_after_harness_ws, harness_ws):
    client = await harness_ws.connect("/ws/heartbeat/")
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await client.receive_json(timeout=10)
    await client.send_json({"type": "pong"})  # the client is still usable afterwards


async def test_5_next_test_is_clean(harness_ws, harness_channel_layer):
    assert PENDING_AFTER_TEARDOWN == [[], [], [], []]
    assert harness_channel_layer.groups == {}
    assert proj_asgi.EVENTS.count(("heartbeat-disconnect", 1000)) == 2
    assert proj_asgi.EVENTS.count("heartbeat-cancelled") == 2
    client = await harness_ws.connect("/ws/echo/")
    await client.assert_nothing_received(0.05)
    await client.send_json({"type": "shout", "text": "only me"})
    assert await client.receive_json() == {"type": "room", "text": "only me"}
    assert list(harness_channel_layer.groups["room"]) == [client_channel(harness_channel_layer)]


def client_channel(layer):
    (channel,) = layer.groups["room"]
    return channel
"""


def test_failures_and_crashes_leave_the_next_test_clean(project, assert_no_leaks):
    result = project.run(TESTS, "--tb=line")
    result.assert_outcomes(passed=3, failed=2, errors=1)
    result.stdout.fnmatch_lines_random(
        [
            "*WebSocketTimeout: /ws/heartbeat/: "
            "nothing received within 0.05 s (loop time) waiting for a frame",
            "*RuntimeError: consumer exploded",
            "*harness_ws: the application raised and the test never saw it: "
            "/ws/echo/: RuntimeError('consumer exploded')",
            "PASSED test_generated.py::test_4_cancelled_from_outside",
            "PASSED test_generated.py::test_5_next_test_is_clean",
        ]
    )
    assert_no_leaks(result)
