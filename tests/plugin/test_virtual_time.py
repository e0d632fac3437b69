"""Virtual time: a 25 s ping / 50 s timeout heartbeat runs in milliseconds, by marker or by ini."""

from __future__ import annotations

HEARTBEAT_TESTS = """
import time
import pytest


@pytest.mark.timeout(10)  # on real time this test would need 50 s
@pytest.mark.looptime
async def test_silent_client_is_closed_after_50_virtual_seconds(harness_ws, looptime):
    client = await harness_ws.connect("/ws/heartbeat/")
    t0 = float(looptime)
    assert await client.receive_json(timeout=30) == {"type": "ping"}
    assert looptime - t0 == pytest.approx(25, abs=0.05)
    assert await client.expect_close(4008, timeout=30) == [{"type": "error", "code": "heartbeat_timeout"}]
    assert looptime - t0 == pytest.approx(50, abs=0.05)


@pytest.mark.timeout(10)  # on real time this test would need 75 s
@pytest.mark.looptime
async def test_answering_client_stays_until_50_s_after_its_last_frame(harness_ws, looptime):
    client = await harness_ws.connect("/ws/heartbeat/")
    t0 = float(looptime)
    assert await client.receive_json(timeout=30) == {"type": "ping"}
    await client.send_json({"type": "pong"})
    assert await client.receive_json(timeout=30) == {"type": "ping"}
    await client.assert_nothing_received(24)
    assert looptime - t0 == pytest.approx(74, abs=0.05)
    await client.expect_close(4008, timeout=2)
    assert looptime - t0 == pytest.approx(75, abs=0.05)


async def test_without_the_marker_time_is_real(harness_ws):
    client = await harness_ws.connect("/ws/heartbeat/")
    started = time.perf_counter()
    with pytest.raises(AssertionError, match="nothing received within 0.1 s"):
        await client.receive_json(timeout=0.1)
    assert time.perf_counter() - started >= 0.1
"""

INI_TESTS = """
import asyncio
import time
import pytest


@pytest.mark.timeout(10)  # on real time this test would need 100 s
async def test_unmarked_async_test_runs_on_virtual_time(looptime):
    t0 = float(looptime)
    await asyncio.sleep(100)
    assert looptime - t0 == pytest.approx(100)


@pytest.mark.looptime(False)
async def test_marked_false_keeps_real_time():
    started = time.perf_counter()
    await asyncio.sleep(0.05)
    assert time.perf_counter() - started >= 0.05


def test_sync_tests_are_left_alone(request):
    assert request.node.get_closest_marker("looptime") is None
"""


def test_heartbeat_runs_in_virtual_time_with_the_marker(project, assert_no_leaks):
    result = project.run(HEARTBEAT_TESTS)
    result.assert_outcomes(passed=3)
    assert_no_leaks(result)


def test_harness_looptime_ini_puts_every_async_test_on_virtual_time(project):
    project.configure("harness_looptime = true")
    result = project.run(INI_TESTS)
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        ["harness: asgi factory proj_asgi:build_application; loop clock virtual (looptime)*"]
    )
