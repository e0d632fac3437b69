"""pytest plugin loaded by `harness run --shard K/N` (`-p harness.shard`): keeps every N-th collected test."""

import os

import pytest


def shard_of(nodeids: list[str], index: int, count: int) -> set[str]:
    """The node ids shard `index` (1-based) of `count` runs: sorted, then every count-th from index-1."""
    return {nodeid for i, nodeid in enumerate(sorted(nodeids)) if i % count == index - 1}


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    # trylast: -k / -m deselection runs first, so shards split what would really run.
    index, count = (int(part) for part in os.environ["HARNESS_SHARD"].split("/"))
    keep = shard_of([item.nodeid for item in items], index, count)
    deselected = [item for item in items if item.nodeid not in keep]
    if deselected:
        items[:] = [item for item in items if item.nodeid in keep]
        config.hook.pytest_deselected(items=deselected)
