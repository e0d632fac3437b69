"""The run that maps tests to lines: the module's suites once, under coverage with per-test contexts.

This is the one place to replace when `harness run` records contexts and durations itself: everything
after it needs only a coverage data file with pytest-cov's test contexts and per-test durations.
"""

import json
import sys
import time
from pathlib import Path

from harness.errors import DataError
from harness.mutation.execute import run_interruptibly
from harness.mutation.selection import LineTests, read_contexts
from harness.run.env import SHARD_ENV
from harness.spec.model import ModuleSpec


def selections(spec: ModuleSpec) -> list[tuple[tuple[str, ...], str | None, str | None]]:
    """Suites grouped by their -k / -m selection, as `harness run` runs them: (paths, k, markers)."""
    groups: dict[tuple, list[str]] = {}
    for suite in spec.all_suites():
        groups.setdefault((suite.k, suite.markers), []).append(suite.path)
    return [(tuple(paths), k, m) for (k, m), paths in groups.items()]


def map_tests(
    spec: ModuleSpec, copies: list[tuple[Path, dict, Path]], files: list[str], logs: Path, echo
) -> LineTests:
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
    for group, (paths, k, markers) in enumerate(selections(spec)):
        started = time.monotonic()
        cmd = _command(spec, paths, k, markers, append=group > 0)
        runs = [
            (cmd, shard.copy, shard.env, logs / f"contexts-{group + 1}{shard.suffix}.log") for shard in shards
        ]
        codes = run_interruptibly(runs)
        for shard, code, (_, _, _, log) in zip(shards, codes, runs, strict=True):
            # 5: no tests ran, as in a slice of fewer tests than there are workers
            if code not in (0, 1, 5) or not shard.probe.is_file():
                raise DataError(
                    f"the module's suites did not run in the isolated copy (pytest exit {code}); see {log}"
                )
            report = json.loads(shard.probe.read_text(encoding="utf-8"))
            shard.probe.unlink()
            durations.update(report["durations"])
            failed.update(report["failed"])
            overhead = max(overhead, time.monotonic() - started - sum(report["durations"].values()))
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
    return LineTests(lines, usable, overhead)


class _Shard:
    """One copy's part of the mapping run: its slice of the tests, its coverage data and probe files."""

    def __init__(self, copy: Path, env: dict, work: Path, number: int, count: int):
        self.copy, self.data_file, self.probe = copy, work / "contexts.coverage", work / "probe.json"
        self.env = {**env, "COVERAGE_FILE": str(self.data_file), "HARNESS_MUTATION_PROBE": str(self.probe)}
        self.suffix = f"-{number}of{count}" if count > 1 else ""
        if count > 1:
            self.env[SHARD_ENV] = f"{number}/{count}"


def _command(spec: ModuleSpec, paths, k: str | None, markers: str | None, append: bool) -> list[str]:
    cmd = [sys.executable, "-m", "pytest", *paths, *(f"--cov={s}" for s in spec.source)]
    cmd += [
        "--cov-context=test",
        "--cov-report=",
        "-p",
        "harness.mutation.probe",
        "-p",
        "harness.run.plugin",
    ]
    cmd += ["-p", "no:randomly", "-p", "no:rerunfailures", "-p", "no:cacheprovider", "-q"]
    cmd += ["--cov-append"] if append else []
    cmd += ["-k", k] if k else []
    return cmd + (["-m", markers] if markers else [])
