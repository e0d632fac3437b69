"""pytest hooks and ini options of the harness plugin; fixtures live in `fixtures.py`.

Loaded for every project that has the harness installed, so nothing here may import
Django or Channels or need DJANGO_SETTINGS_MODULE: fixtures import those lazily.
"""

from __future__ import annotations

import inspect
from collections.abc import Generator

import pytest

from . import coexist
from .coexist import LOOPTIME_PLUGIN
from .config import CONFIG_KEY, add_ini_options, get_config, parse_config
from .errors import PluginConfigError
from .fixtures import *  # noqa: F403  (registers the public fixtures, as pytest-django does)
from .fixtures import _harness_asgi_target, _harness_redis_server, _harness_ws_order  # noqa: F401
from .metrics import CURRENT_TEST


def pytest_addoption(parser: pytest.Parser) -> None:
    add_ini_options(parser)


@pytest.hookimpl(tryfirst=True)  # before pytest-asyncio's pytest_configure reads its loop-scope option
def pytest_configure(config: pytest.Config) -> None:
    try:
        harness_config = parse_config(config)
    except PluginConfigError as err:
        raise pytest.UsageError(str(err)) from None
    if harness_config.looptime and not config.pluginmanager.hasplugin(LOOPTIME_PLUGIN):
        raise pytest.UsageError("harness_looptime: needs the looptime package (pip install looptime)")
    config.stash[CONFIG_KEY] = harness_config
    coexist.configure(config)


def pytest_report_header(config: pytest.Config) -> list[str]:
    harness_config = config.stash.get(CONFIG_KEY, None)
    if harness_config is None or not harness_config.asgi_factory:
        return []
    clock = "virtual (looptime) for async tests" if harness_config.looptime else "real unless marked looptime"
    return [f"harness: asgi factory {harness_config.asgi_factory}; loop clock {clock}"]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Marking here rather than passing --looptime keeps sync tests and explicit
    # looptime(False) marks untouched; looptime itself still honours --no-looptime.
    if not get_config(config).looptime:
        return
    for item in items:
        function = getattr(item, "obj", None)
        if inspect.iscoroutinefunction(function) and item.get_closest_marker("looptime") is None:
            item.add_marker(pytest.mark.looptime)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    # harness_metric records on the test running now, also from module- or class-scoped fixtures,
    # whose setup and teardown run inside some test's protocol.
    item.config.stash[CURRENT_TEST] = item
    try:
        return (yield)
    finally:
        item.config.stash[CURRENT_TEST] = None
