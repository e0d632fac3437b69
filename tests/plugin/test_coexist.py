"""pytest-asyncio and looptime, which harness[channels] installs, keep a strict plain project's outcomes."""

from __future__ import annotations

import pytest

STRICT_INI = """
[pytest]
addopts = --strict-markers --strict-config -p no:randomly -p no:cacheprovider
filterwarnings = error
"""

READS_LOOP_SCOPE = """
def test_loop_scope(request):
    print("loop scope:", request.config.getini("asyncio_default_fixture_loop_scope"))
"""

# Records every loop any code sets as the main thread's current one, from before plugins are configured.
RECORDER = """
import asyncio

import pytest

CALLS = []
_set_event_loop = asyncio.DefaultEventLoopPolicy.set_event_loop


def _recording(policy, loop):
    CALLS.append(loop)
    _set_event_loop(policy, loop)


asyncio.DefaultEventLoopPolicy.set_event_loop = _recording


@pytest.fixture
def set_event_loop_calls():
    return CALLS
"""

SYNC_TESTS = """
import asyncio


def test_nobody_set_or_created_a_current_loop(set_event_loop_calls):
    assert set_event_loop_calls == []


def test_asyncio_run_in_a_sync_test():
    assert asyncio.run(asyncio.sleep(0, result=7)) == 7


def test_asyncio_run_left_no_loop_behind(set_event_loop_calls):
    assert set_event_loop_calls[1:] == [None]
"""


@pytest.fixture
def strict_project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A project with no Django, no async tests and `filterwarnings = error`."""
    for name in ("DJANGO_SETTINGS_MODULE", "PYTEST_ADDOPTS"):
        monkeypatch.delenv(name, raising=False)
    pytester.makeini(STRICT_INI)
    return pytester


def test_an_unset_loop_scope_gets_pytest_asyncios_own_meaning_without_its_warning(strict_project):
    strict_project.makepyfile(test_scope=READS_LOOP_SCOPE)
    if pytest.version_tuple >= (9,):  # pytest 9 applies filterwarnings while plugins configure; 8.x did not
        without_harness = strict_project.runpytest_subprocess("-p", "no:harness")
        assert without_harness.ret == pytest.ExitCode.INTERNAL_ERROR
        without_harness.stderr.fnmatch_lines(['*"asyncio_default_fixture_loop_scope" is unset*'])

    result = strict_project.runpytest_subprocess("-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*loop scope: fixture-scope"])
    result.stderr.no_fnmatch_line("*is unset*")


@pytest.mark.parametrize(
    ("ini_line", "args", "expected"),
    [
        ("asyncio_default_fixture_loop_scope = session", (), "session"),
        (
            "asyncio_default_fixture_loop_scope = function",
            ("-o", "asyncio_default_fixture_loop_scope=module"),
            "module",
        ),
    ],
    ids=["ini", "override"],
)
def test_a_loop_scope_the_project_sets_is_kept(strict_project, ini_line, args, expected):
    strict_project.makeini(STRICT_INI + ini_line + "\n")
    strict_project.makepyfile(test_scope=READS_LOOP_SCOPE)
    result = strict_project.runpytest_subprocess("-s", *args)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"*loop scope: {expected}"])


def test_sync_tests_keep_their_event_loop_state(strict_project):
    strict_project.makeconftest(RECORDER)
    strict_project.makepyfile(test_sync=SYNC_TESTS)
    result = strict_project.runpytest_subprocess("-p", "looptime_plugin")
    result.assert_outcomes(passed=3)
