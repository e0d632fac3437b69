"""Replaying a test order in a fresh pytest: the `fails` that `harness.run.bisect` asks about each order."""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from pathlib import Path

from harness.errors import DataError
from harness.run import processes
from harness.run.bisect import Fails
from harness.run.command import PLUGIN
from harness.run.command import pytest as pytest_command
from harness.run.env import RECORDS_ENV, SHARD_ENV, SHUFFLE_ENV, STEPS_ENV, TEST_CONTEXTS_ENV
from harness.run.order import order_env, write_order
from harness.run.records import iter_records
from harness.run.session import bytecode_env
from harness.spec.nodeids import split_nodeid

FAILING = ("failed", "errors")


def pytest_replay(root: Path, workdir: Path, pytest_args: Sequence[str] = ()) -> Fails:
    """A `fails` that runs each order in a fresh `python -m pytest` in `root`, collecting only the files the
    order names; its order files, records and log go into `workdir`."""
    workdir.mkdir(parents=True, exist_ok=True)
    numbers = itertools.count(1)
    env = bytecode_env(os.environ)
    for name in (SHARD_ENV, SHUFFLE_ENV, STEPS_ENV, TEST_CONTEXTS_ENV):
        env.pop(name, None)

    def fails(order: tuple[str, ...]) -> bool:
        number = next(numbers)
        order_file = write_order(workdir / f"order-{number}.txt", order)
        records, log = workdir / f"replay-{number}.jsonl", workdir / f"replay-{number}.log"
        files = list(dict.fromkeys(split_nodeid(nodeid)[0] for nodeid in order))
        cmd = pytest_command(files, plugins=[PLUGIN, "no:cacheprovider"], extra=pytest_args)
        run_env = {**env, RECORDS_ENV: str(records), **order_env(order_file=order_file)}
        processes.run_interruptibly([(cmd, root, run_env, log)])
        outcome = _outcome(records, order[-1])
        if outcome is None:
            raise DataError(f"replaying an order did not run {order[-1]} (see {log})")
        return outcome in FAILING

    return fails


def _outcome(records: Path, nodeid: str) -> str | None:
    """The outcome the records give the test, or None when it did not run."""
    found = None
    for _, record in iter_records(records):
        if record.get("event") == "test" and record.get("nodeid") == nodeid and not record.get("collection"):
            found = record.get("outcome")
    return found
