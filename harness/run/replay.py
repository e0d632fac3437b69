"""Replaying a test order in a fresh pytest: the `fails` that `harness.run.bisect` asks about each order."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from harness.errors import DataError
from harness.measure.outcomes import split_nodeid
from harness.measure.repetitions import read_tests
from harness.run.bisect import Fails
from harness.run.env import RECORDS_ENV, SHARD_ENV, SHUFFLE_ENV, STEPS_ENV, TEST_CONTEXTS_ENV
from harness.run.order import order_env, write_order
from harness.run.session import bytecode_env


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
        cmd = [sys.executable, "-m", "pytest", *files, "-p", "harness.run.plugin", "-p", "no:cacheprovider"]
        run_env = {**env, RECORDS_ENV: str(records), **order_env(order_file=order_file)}
        with log.open("w", encoding="utf-8") as out:
            subprocess.run([*cmd, *pytest_args], cwd=root, env=run_env, stdout=out, stderr=subprocess.STDOUT)
        tests, _, _ = read_tests([records])
        if order[-1] not in tests:
            raise DataError(f"replaying an order did not run {order[-1]} (see {log})")
        return tests[order[-1]].failed

    return fails
