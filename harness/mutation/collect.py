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
from harness.spec import ModuleSpec


def selections(spec: ModuleSpec) -> list[tuple[tuple[str, ...], str | None, str | None]]:
    """Suites grouped by their -k / -m selection, as `harness run` runs them: (paths, k, markers)."""
    groups: dict[tuple, list[str]] = {}
    for suite in spec.all_suites():
        groups.setdefault((suite.k, suite.markers), []).append(suite.path)
    return [(tuple(paths), k, m) for (k, m), paths in groups.items()]


def map_tests(
    spec: ModuleSpec, copy: Path, env: dict, files: list[str], work: Path, logs: Path, echo
) -> LineTests:
    """Run the module's suites in `copy` under coverage with test contexts; logs go to `logs`."""
    data_file, probe = work / "contexts.coverage", work / "probe.json"
    env = {**env, "COVERAGE_FILE": str(data_file), "HARNESS_MUTATION_PROBE": str(probe)}
    durations: dict[str, float] = {}
    failed: set[str] = set()
    overhead = 0.0
    logs.mkdir(parents=True, exist_ok=True)
    for number, (paths, k, markers) in enumerate(selections(spec)):
        log = logs / f"contexts-{number + 1}.log"
        started = time.monotonic()
        code = run_interruptibly(_command(spec, paths, k, markers, append=number > 0), copy, env, log)
        if code not in (0, 1) or not probe.is_file():
            raise DataError(
                f"the module's suites did not run in the isolated copy (pytest exit {code}); see {log}"
            )
        report = json.loads(probe.read_text(encoding="utf-8"))
        probe.unlink()
        durations.update(report["durations"])
        failed.update(report["failed"])
        overhead = max(overhead, time.monotonic() - started - sum(report["durations"].values()))
    if failed:
        listed = ", ".join(sorted(failed)[:3])
        echo(f"  {len(failed)} test(s) fail without any mutant and are not used: {listed}")
    usable = {test: seconds for test, seconds in durations.items() if test not in failed}
    return LineTests(read_contexts(data_file, copy, files, failed), usable, overhead)


def _command(spec: ModuleSpec, paths, k: str | None, markers: str | None, append: bool) -> list[str]:
    cmd = [sys.executable, "-m", "pytest", *paths, *(f"--cov={s}" for s in spec.source)]
    cmd += ["--cov-branch", "--cov-context=test", "--cov-report=", "-p", "harness.mutation.probe"]
    cmd += ["-p", "no:randomly", "-p", "no:cacheprovider", "-q"]
    cmd += ["--cov-append"] if append else []
    cmd += ["-k", k] if k else []
    return cmd + (["-m", markers] if markers else [])
