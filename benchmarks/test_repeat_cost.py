"""Benchmark: what `harness run MODULE --repeat N --shuffle` costs beside N single `harness run MODULE`s,
and what the repetitions found.

    .venv/bin/python -m pytest benchmarks/test_repeat_cost.py -p no:randomly -s
    BENCH_MODULE=module-6.7 BENCH_REPEAT=5 BENCH_ROUNDS=2 ...

Issue 21 asks `--repeat N` to cost at most N single runs plus 10%: each repetition is one session, as a
single run is, and what repeating adds is reading each repetition's coverage (a JSON report each),
merging the data files, the analysis, and replays only of tests that failed in one repetition and passed
in another. On a copy of the bundled suites, each round runs the command both ways as a user runs it (a
fresh process each, the order turning round by round, so load from other users of the machine falls on
both alike) and the table prints the medians and the ratio `--repeat N / N single runs`, of the medians
and of each round's own pair. Then the stability section of the last repeated run. Nothing is asserted
but that the runs work; speed is printed, never asserted.
"""

import compileall
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import harness
from benchmarks.projects import REPO, bundled
from harness.report import stability as stability_report

MODULE = os.environ.get("BENCH_MODULE", "module-6.6")
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "1"))
HARNESS = str(Path(sys.executable).parent / "harness")


def _timed(argv: list[str], root: Path, env: dict) -> tuple[float, float]:
    """Wall and CPU seconds of one command (CPU of the process and every child it waited for)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # 1: a target missed or stability findings block; still a complete run. 2 and up: a broken one.
    assert done.returncode in (0, 1), f"{argv}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _singles(root: Path, env: dict) -> tuple[float, float]:
    """N single runs, one after the other: their wall and CPU seconds added up."""
    runs = [_timed([HARNESS, "run", MODULE, "-q"], root, env) for _ in range(REPEAT)]
    return sum(w for w, _ in runs), sum(c for _, c in runs)


def _repeated(root: Path, env: dict) -> tuple[tuple[float, float], dict]:
    """One run of N shuffled repetitions, and the stability section it stored."""
    times = _timed([HARNESS, "run", MODULE, "--repeat", str(REPEAT), "--shuffle", "-q"], root, env)
    result = json.loads((root / "reports" / MODULE / "results.json").read_text(encoding="utf-8"))
    return times, result["stability"]


def test_repeat_cost_and_findings(tmp_path, bench_print):
    root = bundled(tmp_path / "bundled")
    # Module 6.6's baseline is target_app's own tests (its cached figures are reused, but must be there).
    shutil.copytree(
        REPO / "tests" / "app", root / "tests" / "app", ignore=shutil.ignore_patterns("__pycache__")
    )
    compileall.compile_dir(Path(harness.__file__).parent, quiet=1)  # as pip compiles an installed wheel
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "PYTEST_ADDOPTS")}
    _timed([HARNESS, "run", MODULE, "-q"], root, env)  # compiling, Hypothesis' database: for neither side
    singles, repeats, sections = [], [], []
    for number in range(ROUNDS):
        if number % 2 == 0:
            singles.append(_singles(root, env))
            timed, section = _repeated(root, env)
        else:
            timed, section = _repeated(root, env)
            singles.append(_singles(root, env))
        repeats.append(timed)
        sections.append(section)
    wall = statistics.median(w for w, _ in singles), statistics.median(w for w, _ in repeats)
    cpu = statistics.median(c for _, c in singles), statistics.median(c for _, c in repeats)
    paired = statistics.median(r[0] / s[0] for r, s in zip(repeats, singles, strict=True))
    bench_print("")
    bench_print(f"{MODULE}: median of {ROUNDS} round(s), load average {os.getloadavg()[0]:.1f} at the end")
    bench_print(f"  {REPEAT} x harness run             {wall[0]:7.1f}s wall {cpu[0]:7.1f}s cpu")
    bench_print(f"  harness run --repeat {REPEAT} --shuffle {wall[1]:7.1f}s wall {cpu[1]:7.1f}s cpu")
    ratios = f"wall {wall[1] / wall[0]:.3f}, cpu {cpu[1] / cpu[0]:.3f}, paired wall {paired:.3f}"
    bench_print(f"  --repeat {REPEAT} / {REPEAT} single runs: {ratios}")
    for line in stability_report.terminal_lines(sections[-1]):
        bench_print(f"  {line}")
