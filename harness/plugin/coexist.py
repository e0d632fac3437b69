"""Keeps pytest-asyncio and looptime (harness[channels] installs them) from changing a project's outcomes."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Generator

import pytest

LOOPTIME_PLUGIN = "looptime_plugin"
_ASYNCIO_PLUGIN = "asyncio"
_FIXTURE_LOOP_SCOPE = "asyncio_default_fixture_loop_scope"
_FIXTURE_LOOP_SCOPE_DEFAULT = "fixture-scope"  # pytest-asyncio >= 1.5: what "unset" means today
_POLICY_FIXTURE = "event_loop_policy"  # pytest-asyncio's; looptime reads it from a test's funcargs
_HIDDEN = pytest.StashKey[object]()


def configure(config: pytest.Config) -> None:
    """Run from the plugin's pytest_configure, which must come before pytest-asyncio's."""
    default_fixture_loop_scope(config)
    if config.pluginmanager.hasplugin(LOOPTIME_PLUGIN):
        config.pluginmanager.register(_HidePolicy(), "harness-looptime-hide")
        config.pluginmanager.register(_RestorePolicy(), "harness-looptime-restore")


def default_fixture_loop_scope(config: pytest.Config) -> None:
    """Give pytest-asyncio's unset loop-scope option its own current meaning, explicitly.

    pytest-asyncio warns in its pytest_configure when `asyncio_default_fixture_loop_scope` is
    unset, and under `filterwarnings = error` that warning ends every run in INTERNALERROR.
    "fixture-scope" is exactly what unset means today, so no test behaves differently, and
    pytest's header shows it. A value the project sets (ini file or `-o`) is kept.
    """
    if not config.pluginmanager.hasplugin(_ASYNCIO_PLUGIN) or config.getini(_FIXTURE_LOOP_SCOPE):
        return
    if _version_of("pytest-asyncio") < (1, 5):
        return  # no "fixture-scope" before 1.5: the project sees pytest-asyncio's warning, as without harness
    # pytest has no public setter for an ini value; getini() caches parsed values in _inicache,
    # and pytest-asyncio's pytest_configure reads the option through getini() after this hook.
    cache = getattr(config, "_inicache", None)
    if isinstance(cache, dict):
        cache[_FIXTURE_LOOP_SCOPE] = _FIXTURE_LOOP_SCOPE_DEFAULT


def _version_of(distribution: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in importlib.metadata.version(distribution).split(".")[:2])
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return ()


# pytest-asyncio gives every test its policy fixture, and looptime asks that policy for the current
# loop before every test that has it. Before any loop is set (a sync test before the first async
# one, or a project with no async tests at all), Python creates a loop there that nobody closes: its
# ResourceWarning fails a later test (`asyncio.run()` in a sync test is enough), and on Python
# 3.12/3.13 the DeprecationWarning fails the test itself under `filterwarnings = error`. A test that
# pytest-asyncio does not run (no asyncio mark) has no loop for looptime, so looptime is not shown
# the fixture; the test function still gets it, and nothing about the event loop changes.


class _HidePolicy:
    @pytest.hookimpl(wrapper=True, tryfirst=True)  # outside looptime's wrapper: before it looks
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> Generator[None, object, object]:
        if pyfuncitem.get_closest_marker("asyncio") is None and _POLICY_FIXTURE in pyfuncitem.funcargs:
            pyfuncitem.stash[_HIDDEN] = pyfuncitem.funcargs.pop(_POLICY_FIXTURE)
        try:
            return (yield)
        finally:
            _restore_policy(pyfuncitem)


class _RestorePolicy:
    @pytest.hookimpl(wrapper=True, trylast=True)  # inside looptime's wrapper: right before the call
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> Generator[None, object, object]:
        _restore_policy(pyfuncitem)
        return (yield)


def _restore_policy(pyfuncitem: pytest.Function) -> None:
    if _HIDDEN in pyfuncitem.stash:
        pyfuncitem.funcargs[_POLICY_FIXTURE] = pyfuncitem.stash[_HIDDEN]
        del pyfuncitem.stash[_HIDDEN]
