"""The run that maps tests to lines when `harness run` kept no per-test record: the module's suites
once, under coverage with pytest-cov's per-test contexts, split over the workers' copies."""

import time
from pathlib import Path

from harness.errors import DataError
from harness.measure.outcomes import read_records
from harness.measure.per_test import Kept, read_contexts
from harness.run.command import PLUGIN
from harness.run.command import pytest as pytest_command
from harness.run.env import RECORDS_ENV, SHARD_ENV
from harness.run.processes import run_interruptibly
from harness.run.session import plan
from harness.spec.model import ModuleSpec


def map_tests(
    spec: ModuleSpec, copies: list[tuple[Path, dict, Path]], files: list[str], logs: Path, echo
) -> Kept:
    """Run the module's suites under coverage with test contexts, split over the workers' copies
    (`(copy, environment, work directory)` each): with N of them the K-th runs the K-th of N slices
    of the tests, as `harness run --shard K/N` splits them, all at once. Logs go to `logs`."""
    durations: dict[str, float] = {}
    failed: set[str] = set()
    overhead = 0.0
    logs.mkdir(parents=True, exist_ok=True)
    shards = [
        _Shard(copy, env, work, number, len(copies)) for number, (copy, env, work) in enumerate(copies, 1)
    ]
    for group, inv in enumerate(plan(spec.all_suites())):
        started = time.monotonic()
        cmd = _command(spec, inv, append=group > 0)
        runs = [
            (cmd, shard.copy, shard.env, logs / f"contexts-{group + 1}{shard.suffix}.log") for shard in shards
        ]
        codes = run_interruptibly(runs)
        for shard, code, (_, _, _, log) in zip(shards, codes, runs, strict=True):
            # 5: no tests ran, as in a slice of fewer tests than there are workers
            if code not in (0, 1, 5) or not shard.records.is_file():
                raise DataError(
                    f"the module's suites did not run in the isolated copy (pytest exit {code}); see {log}"
                )
            outcomes = read_records((shard.records,))
            shard.records.unlink()
            durations.update(outcomes.durations)
            failed |= outcomes.failed()
            overhead = max(overhead, time.monotonic() - started - sum(outcomes.durations.values()))
    if not durations:
        raise DataError(f"the module's suites ran no test in the isolated copy; see {runs[0][3]}")
    if failed:
        listed = ", ".join(sorted(failed)[:3])
        echo(f"  {len(failed)} test(s) fail without any mutant and are not used: {listed}")
    usable = {test: seconds for test, seconds in durations.items() if test not in failed}
    lines: dict[str, dict[int, frozenset[str]]] = {}
    for shard in shards:
        for file, by_line in read_contexts(shard.data_file, shard.copy, files, failed).items():
            merged = lines.setdefault(file, {})
            for line, tests in by_line.items():
                merged[line] = merged.get(line, frozenset()) | tests
    return Kept(lines, usable, overhead)


class _Shard:
    """One copy's part of the mapping run: its slice of the tests, its coverage data and test records."""

    def __init__(self, copy: Path, env: dict, work: Path, number: int, count: int):
        self.copy, self.data_file, self.records = copy, work / "contexts.coverage", work / "tests.jsonl"
        self.env = {**env, "COVERAGE_FILE": str(self.data_file), RECORDS_ENV: str(self.records)}
        self.suffix = f"-{number}of{count}" if count > 1 else ""
        if count > 1:
            self.env[SHARD_ENV] = f"{number}/{count}"


def _command(spec: ModuleSpec, inv, append: bool) -> list[str]:
    return pytest_command(
        inv.paths,
        plugins=[PLUGIN, "no:randomly", "no:rerunfailures", "no:cacheprovider"],
        cov=spec.source,
        contexts="test",
        append=append,
        k=inv.k,
        markers=inv.markers,
        extra=["-q"],
    )
