"""A sync test before async ones leaves no unclosed event loop behind (looptime + pytest-asyncio)."""

from __future__ import annotations

SYNC_THEN_ASYNC = """
import asyncio
import gc


def test_sync_test_that_uses_the_policy_fixture(event_loop_policy):
    assert event_loop_policy is asyncio.get_event_loop_policy()


async def test_async_test_runs_on_its_own_loop():
    await asyncio.sleep(0)


def test_collecting_garbage_finds_no_unclosed_loop():
    gc.collect()
"""


def test_no_stray_event_loop_after_a_sync_test(pytester, monkeypatch):
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)  # not a Django project
    pytester.makeini(
        "[pytest]\n"
        "asyncio_mode = auto\n"
        "asyncio_default_fixture_loop_scope = function\n"
        "filterwarnings = error\n"
    )
    pytester.makepyfile(test_loops=SYNC_THEN_ASYNC)
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-p", "no:hypothesispytest")
    result.assert_outcomes(passed=3)
