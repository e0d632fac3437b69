"""The session plugin's test order: a seeded shuffle (`$HARNESS_SHUFFLE_SEED`), an explicit order to replay
(`$HARNESS_ORDER`), and the record of how a session was ordered. What they mean is `harness.run.order`."""

from __future__ import annotations

import os

import pytest

from harness.errors import HarnessError
from harness.run import order
from harness.run.env import ORDER_ENV


class Shuffle:
    """Puts the collected tests in a seed's order before other plugins reorder them.

    Before, as pytest-randomly does: a plugin that groups tests with a stable sort (pytest-django puts
    database test cases first) keeps its grouping, and the order still follows from the seed alone.
    """

    def __init__(self, seed: int):
        self.seed = seed

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]):
        items[:] = order.shuffled(items, self.seed)
        return (yield)


def configure(config: pytest.Config) -> None:
    """Register the shuffle when a seed is asked for; hold pytest-randomly's reorder back when the harness
    orders (it still reseeds `random` per test, as `--randomly-dont-reorganize` leaves it)."""
    seed = _pytest_usage(order.seed_from, os.environ)
    if (seed is not None or os.environ.get(ORDER_ENV)) and hasattr(config.option, "randomly_reorganize"):
        config.option.randomly_reorganize = False
    if seed is not None:
        config.pluginmanager.register(Shuffle(seed), "harness-shuffle")


def keep_explicit(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With `$HARNESS_ORDER`, keep only the tests its file names, in that order (the rest deselected)."""
    wanted = _pytest_usage(order.order_from, os.environ)
    if wanted is None:
        return
    kept, deselected = _pytest_usage(order.explicit, items, wanted)
    items[:] = kept
    if deselected:
        config.hook.pytest_deselected(items=deselected)


def record(config: pytest.Config) -> dict:
    """How the session ordered its tests: a harness seed, an explicit order, pytest-randomly's seed, or as
    collected. Replaying a repetition takes the order its records show; the seed is for a person."""
    found: dict = {"event": "order"}
    seed = order.seed_from(os.environ)
    if seed is not None:
        found["shuffle_seed"] = seed
    elif os.environ.get(ORDER_ENV):
        found["replay"] = True
    elif getattr(config.option, "randomly_reorganize", False) and config.pluginmanager.hasplugin("randomly"):
        found["randomly_seed"] = config.option.randomly_seed
    return found


def _pytest_usage(function, *args):
    """Call `function`; a HarnessError becomes pytest's usage error (one line, exit status 4)."""
    try:
        return function(*args)
    except HarnessError as err:
        raise pytest.UsageError(str(err)) from None
