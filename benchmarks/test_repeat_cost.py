"""Benchmark: what repeating a module's tests costs over single runs, and what the repetitions found.

    .venv/bin/python -m pytest benchmarks/test_repeat_cost.py -p no:randomly -s
    BENCH_MODULE=module-6.7 BENCH_REPEAT=5 BENCH_ROUNDS=2 ...

Issue 21 asks `--repeat N` to cost at most N single runs plus 10%: each repetition is one session (as a
single run is), and what repeating adds is reading each repetition's coverage (a JSON report each),
merging the data files and the analysis; no test runs again. On a copy of the bundled suites this runs,
per round, a single run as `harness run` measures one (a session, then coverage.py's JSON report) and N
repetitions in shuffled orders with everything a repeated run adds, and prints the ratio of the two and
the added work alone as a share of the repetitions' sessions (robust to load from other users of the
machine, which moves both). Then it replays every suspect to find order dependence, and prints the
stability section's lines: the first measurement of a module's stability. Nothing is asserted but that
the runs work; replays are timed apart (they run only when a test failed in some repetition).
"""

import os
import statistics
import time
from pathlib import Path

from benchmarks.projects import bundled
from harness.evaluate import stability_verdict as verdicts
from harness.evaluate.stability import analyse, suspects
from harness.measure import coverage
from harness.measure.repetitions import merge, read_repetition
from harness.report import stability as stability_report
from harness.run.bisect import reproduce
from harness.run.order import new_seed, order_env
from harness.run.replay import pytest_replay
from harness.run.session import RunOptions, run_session
from harness.spec.parse import load_spec

MODULE = os.environ.get("BENCH_MODULE", "module-6.6")
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "1"))


def _session(root: Path, spec, work: Path, env=None):
    start = time.perf_counter()
    session = run_session(
        root, spec.all_suites(), spec.source, work, RunOptions(), lambda _: None, extra_env=env
    )
    return session, time.perf_counter() - start


def _single(root: Path, spec, work: Path) -> float:
    session, seconds = _session(root, spec, work)
    start = time.perf_counter()
    coverage.json_report(root, session.data_file, work / "report")
    return seconds + time.perf_counter() - start


def _repeated(root: Path, spec, work: Path, seeds: list[int]):
    """N shuffled repetitions and what repeating adds; (total seconds, sessions' seconds, repetitions)."""
    total = sessions = 0.0
    reps = []
    for number, seed in enumerate(seeds, 1):
        rep_work = work / f"rep-{number}"
        session, seconds = _session(root, spec, rep_work, order_env(seed))
        sessions += seconds
        start = time.perf_counter()
        records = [p.records for p in session.processes]
        reps.append(read_repetition(number, root, records, session.data_file, rep_work / "report"))
        total += seconds + time.perf_counter() - start
    start = time.perf_counter()
    merged = merge(
        root, [work / f"rep-{n}" / ".coverage" for n in range(1, len(seeds) + 1)], work / ".coverage"
    )
    coverage.json_report(root, merged, work / "report")
    analyse(reps, {}, spec.stability)
    return total + time.perf_counter() - start, sessions, reps


def test_repeat_cost_and_findings(tmp_path, bench_print):
    root = bundled(tmp_path / "bundled")
    spec = load_spec(root / "suites" / MODULE / "module.yml")
    _session(root, spec, root / ".work" / "warm-up")  # compiling, Hypothesis' database: for neither side
    singles, repeats, added = [], [], []
    for number in range(ROUNDS):
        singles.append(_single(root, spec, root / ".work" / f"single-{number}"))
        seeds = [new_seed() for _ in range(REPEAT)]
        total, sessions, reps = _repeated(root, spec, root / ".work" / f"repeat-{number}", seeds)
        repeats.append(total)
        added.append((total - sessions) / sessions)
    single, repeat = statistics.median(singles), statistics.median(repeats)
    bench_print(f"{MODULE}: a single run {single:.1f}s; {REPEAT} repetitions {repeat:.1f}s")
    bench_print(f"  --repeat {REPEAT} / ({REPEAT} x a single run): {repeat / (REPEAT * single):.3f}")
    bench_print(f"  what repeating adds / the repetitions' sessions: {statistics.median(added):.1%}")
    start = time.perf_counter()
    found = reproduce(suspects(reps), pytest_replay(root, root / ".work" / "replay"))
    stability = analyse(reps, found, spec.stability)
    replays = sum(r.runs for r in found.values())
    bench_print(
        f"  replays of {len(found)} suspect(s): {replays} sessions, {time.perf_counter() - start:.1f}s"
    )
    outcome = verdicts.verdict(stability, spec.stability)
    doc = verdicts.section(stability, outcome, spec.stability, "bench")
    for line in stability_report.terminal_lines(doc):
        bench_print(f"  {line}")
    for rep in reps:
        bench_print(f"  repetition {rep.number}: seed {rep.seed}, {len(rep.tests)} tests")
