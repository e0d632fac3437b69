"""Benchmark: what `harness run` costs over pytest itself, and what `--workers` buys, as wall-time ratios.

    .venv/bin/python -m pytest benchmarks/test_run_speed.py -p no:randomly -s
    BENCH_ROUNDS=5 BENCH_PROJECTS=many ...       # more rounds; one project only (bundled, many)
    BENCH_ONLY="harness;pytest --cov, cached"   # only these configurations (names as printed)

Two projects: a copy of this repository's bundled suites (`harness run module-6.7`: Django, a SQLite
file, private redis-servers, Hypothesis) and a generated library of many small tests. Each round runs
every configuration once as users run it (a fresh process, the same Python), in an order that turns
round by round, so load from other users of the machine falls on all of them alike; the table prints
the median wall and CPU seconds (CPU: the process and its children), the ratios of the medians, and
the median of each round's own ratio ("paired": the two runs of a round are minutes apart at most,
so a machine that drifts slower or faster during the benchmark moves both).
Nothing is asserted but that every command succeeds; speed is printed, never asserted.
"""

import compileall
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

import harness
from benchmarks.projects import bundled, many_small_tests
from harness.run.session import bytecode_env

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
PROJECTS = os.environ.get("BENCH_PROJECTS", "bundled,many").split(",")
ONLY = [name.strip() for name in os.environ.get("BENCH_ONLY", "").split(";") if name.strip()]
BIN = Path(sys.executable).parent

# (project, module id, suites, source)
SETUPS = {
    "bundled": (bundled, "module-6.7", ["suites/module-6.6", "suites/module-6.7"], "target_app/realtime"),
    "many": (many_small_tests, "many", ["tests"], "many"),
}
# The ratios printed for each project: (label, numerator, denominator).
RATIOS = (
    ("harness run / pytest --cov --cov-branch", "harness", "pytest --cov"),
    ("  the same, pytest given the harness's bytecode cache", "harness", "pytest --cov, cached"),
    ("--workers 2 / serial (harness run)", "harness -w 2", "harness"),
    ("--workers auto / serial (harness run)", "harness -w auto", "harness"),
    ("-n 2 / serial (pytest --cov)", "pytest --cov -n 2", "pytest --cov"),
    ("coverage on / off (pytest)", "pytest --cov", "pytest"),
)


def _commands(module: str, suites: list[str], source: str, env: dict) -> dict[str, tuple[list[str], dict]]:
    """Each configuration: its command line and its environment."""
    harness = [str(BIN / "harness"), "run", module, "-q"]
    pytest_cmd = [sys.executable, "-m", "pytest", *suites, "-q"]
    covered = [*pytest_cmd, f"--cov={source}", "--cov-branch"]
    commands = {
        "harness": harness,
        "harness -w 2": [*harness, "--workers", "2"],
        "harness -w auto": [*harness, "--workers", "auto"],
        "pytest --cov": covered,
        "pytest --cov, cached": covered,
        "pytest --cov -n 2": [*covered, "-n", "2"],
        "pytest": pytest_cmd,
    }
    # With PYTHONDONTWRITEBYTECODE the harness gives pytest a bytecode cache (docs/harness.md,
    # "Speed"); the same for bare pytest shows what the harness itself costs apart from that gain.
    cached = bytecode_env(env)
    if cached == env:  # nothing to set apart
        del commands["pytest --cov, cached"]
    if ONLY:
        unknown = set(ONLY) - set(commands)
        assert not unknown, f"BENCH_ONLY: no configuration {sorted(unknown)} (one of {list(commands)})"
        commands = {name: argv for name, argv in commands.items() if name in ONLY}
    return {name: (argv, cached if name.endswith("cached") else env) for name, argv in commands.items()}


def _timed(command: tuple[list[str], dict], root: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one run (CPU of every child it waited for: pytest, its workers)."""
    argv, env = command
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # harness exits 1 when a target is missed: still a complete run. 2 and up is a broken one.
    assert done.returncode in (0, 1), f"{argv}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _measure(root: Path, commands: dict) -> dict[str, list[tuple[float, float]]]:
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for command in commands.values():  # a warm-up round, not counted: caches, first imports, baselines
        _timed(command, root)
    names = list(commands)
    for round_number in range(ROUNDS):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            times[name].append(_timed(commands[name], root))
    return times


@pytest.mark.parametrize("project", PROJECTS)
def test_run_speed(project, tmp_path, bench_print):
    make, module, suites, source = SETUPS[project]
    root = make(tmp_path / project)
    # The harness's own bytecode, as pip compiles it when it installs the wheel: an editable checkout
    # run with PYTHONDONTWRITEBYTECODE would compile every harness module again in every run.
    compileall.compile_dir(Path(harness.__file__).parent, quiet=1)
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "PYTEST_ADDOPTS")}
    times = _measure(root, _commands(module, suites, source, env))
    wall = {name: statistics.median(w for w, _ in runs) for name, runs in times.items()}
    cpu = {name: statistics.median(c for _, c in runs) for name, runs in times.items()}
    bench_print("")
    bench_print(f"{project}: median of {ROUNDS} rounds, load average {os.getloadavg()[0]:.1f} at the end")
    bench_print(f"  {'configuration':22} {'wall':>8} {'cpu':>8}")
    for name in times:
        bench_print(f"  {name:22} {wall[name]:7.2f}s {cpu[name]:7.2f}s")
    bench_print(f"  {'ratio':56} {'wall':>6} {'cpu':>6} {'paired':>7}")
    for label, top, bottom in (r for r in RATIOS if r[1] in times and r[2] in times):
        paired = statistics.median(t[0] / b[0] for t, b in zip(times[top], times[bottom], strict=True))
        medians = f"{wall[top] / wall[bottom]:6.2f} {cpu[top] / cpu[bottom]:6.2f}"
        bench_print(f"  {label:56} {medians} {paired:7.2f}")
