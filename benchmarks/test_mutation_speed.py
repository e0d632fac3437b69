"""Benchmark: mutants per second of `harness mutate` and of mutmut, same file and tests.

    .venv/bin/python -m pytest benchmarks/test_mutation_speed.py -p no:randomly

Each tool gets a generated project (a module of small pure functions and a test file that kills
most of its mutants) in a private directory under /tmp, and two workers each. `harness mutate` runs
three ways: fast with a mapping run of its own (`--fresh`), fast after a `harness run` of the module
(whose per-test coverage it reuses; that run is timed apart and printed), and plain. The four runs
alternate, `HARNESS_BENCH_ROUNDS` rounds (default 3), and the median wall time of each is reported
(the machine is shared: one run alone says little). mutmut is installed into its own virtualenv
under /tmp on the first run (kept for later runs); when that cannot be done the benchmark prints why
and measures `harness mutate` alone. Rates and ratios are printed, never asserted.

    HARNESS_BENCH_REAL=module-6.7:target_app/realtime/middleware.py .venv/bin/python -m pytest benchmarks

adds the same comparison on a real file with its module's suites (a copy of this checkout; mutmut
gets a second virtualenv with the project and its test dependencies), one round unless
`HARNESS_BENCH_ROUNDS` says otherwise: a round there takes minutes.
"""

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

MUTMUT_VENV = Path("/tmp/harness-bench-mutmut-venv")
REAL_VENV = Path("/tmp/harness-bench-mutmut-real-venv")
REAL = os.environ.get("HARNESS_BENCH_REAL", "")
ROUNDS = int(os.environ.get("HARNESS_BENCH_ROUNDS", "0"))
MUTMUT = "mutmut==3.8.1"
WORKERS = 2

SOURCE = '''\
"""Small statistics helpers."""


def mean(values):
    if not values:
        raise ValueError("mean of nothing")
    return sum(values) / len(values)


def clamp(value, low, high):
    if value < low:
        return low
    if value > high:
        return high
    return value


def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def histogram(values, width=10):
    buckets = {}
    for value in values:
        key = value // width * width
        buckets[key] = buckets.get(key, 0) + 1
    return buckets


def first_above(values, limit):
    for value in values:
        if value is None:
            continue
        if value > limit:
            return value
    return None
'''

TESTS = """\
import pytest

from calc.stats import clamp, first_above, histogram, mean, median


def test_mean():
    assert mean([1, 2, 3, 6]) == 3
    with pytest.raises(ValueError):
        mean([])


@pytest.mark.parametrize("value, expected", [(-1, 0), (0, 0), (5, 5), (10, 10), (11, 10)])
def test_clamp(value, expected):
    assert clamp(value, 0, 10) == expected


def test_median():
    assert median([3, 1, 2]) == 2
    assert median([4, 1, 3, 2]) == 2.5


def test_histogram():
    assert histogram([1, 5, 12, 25, 29]) == {0: 2, 10: 1, 20: 2}
    assert histogram([7], width=5) == {5: 1}


def test_first_above():
    assert first_above([None, 1, 5, 9], 4) == 5
    assert first_above([1, 2], 4) is None
"""

PYPROJECT = """\
[project]
name = "bench"
version = "0"

[tool.pytest.ini_options]
addopts = ["-p", "no:randomly", "-p", "no:hypothesispytest"]

[tool.mutmut]
source_paths = ["calc/"]
pytest_add_cli_args_test_selection = ["tests/"]
"""

SPEC = """\
id: bench
title: Benchmark
source: [calc]
suites: [tests]
targets: {calc/stats.py: {mutation: 50}}  # a module gating on mutation: its runs keep per-test lines
"""


def _project(root: Path) -> Path:
    for rel, text in {
        "pyproject.toml": PYPROJECT,
        "calc/__init__.py": "",
        "calc/stats.py": SOURCE,
        "tests/test_stats.py": TESTS,
        "suites/bench/module.yml": SPEC,
    }.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def _clean_env() -> dict:
    drop = ("DJANGO_SETTINGS_MODULE", "PYTEST_ADDOPTS", "COVERAGE_PROCESS_START", "VIRTUAL_ENV")
    return {k: v for k, v in os.environ.items() if k not in drop}


def _mutmut(venv: Path, *requirements: str) -> tuple[Path | None, str]:
    """mutmut's executable in `venv` (made on first use), or None and the reason it cannot be had."""
    exe = venv / "bin" / "mutmut"
    try:
        if not exe.is_file():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
            pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "pip>=25.1", MUTMUT, "pytest"]
            subprocess.run(pip, check=True, capture_output=True, timeout=600)
        if requirements:
            pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *requirements]
            subprocess.run(pip, check=True, capture_output=True, timeout=1200)
    except (OSError, subprocess.SubprocessError) as err:
        shutil.rmtree(venv, ignore_errors=True)
        return None, f"could not install {MUTMUT} into {venv}: {err}"
    return exe, ""


def _real_project(dest: Path, module: str, file: str) -> Path:
    """This checkout in `dest` (as harness copies it), and mutmut set up for `file` and `module`'s suites."""
    from harness.mutation.isolate import make_copy
    from harness.spec.catalog import find_spec
    from harness.spec.project import load_project
    from harness.spec.tree import project_files

    repo = Path(__file__).resolve().parents[1]
    make_copy(repo, project_files(repo, "reports"), dest)
    # the stored results a module's run reads (a baseline module, items carried forward)
    shutil.copytree(repo / "reports", dest / "reports", ignore=shutil.ignore_patterns(".work", "htmlcov"))
    suites = [suite.path for suite in find_spec(load_project(dest), module).all_suites()]
    top = file.split("/")[0]
    also = sorted({p.relative_to(dest).parts[0] for p in dest.glob("*/**/*.py")} - {top})
    with (dest / "pyproject.toml").open("a", encoding="utf-8") as handle:
        handle.write(
            f"\n[tool.mutmut]\nsource_paths = [{json.dumps(top)}]\nonly_mutate = [{json.dumps(file)}]\n"
        )
        handle.write(
            f"also_copy = {json.dumps(also)}\npytest_add_cli_args_test_selection = {json.dumps(suites)}\n"
        )
        handle.write('pytest_add_cli_args = ["-p", "no:randomly"]\n')
    return dest


# The engine of `harness mutate` without the CLI's table: the fast mode and the plain one (`plain=True`).
RUN = """\
import sys
from pathlib import Path
from harness.mutate import finish
from harness.mutation.engine import MutateOptions, mutate
from harness.spec.catalog import find_spec
from harness.spec.project import load_project
root, module, mode, workers, *files = sys.argv[1:]
project = load_project(Path(root))
spec = find_spec(project, module)
# "reuse": the tests of each line come from the `harness run` just before (`fresh` would ignore it)
options = MutateOptions(tuple(files), int(workers), fresh=mode != "reuse", plain=mode == "plain")
finish(project, spec, mutate(project, spec, options, print, Path(root)), print)
"""


def _run_harness(root: Path, module: str, mode: str, *files: str) -> tuple[int, float, dict]:
    """(mutants, wall seconds, status of each mutant by id) of one run of `harness mutate`.

    "reuse" first runs `harness run MODULE` (timed apart, in RUN_SECONDS) and removes
    the verdict cache, so every mutant runs again but the tests of each line come from that run."""
    from harness.spec.project import load_project
    from harness.store import layout
    from harness.store import mutation as stored_mutation

    if mode == "reuse":
        started = time.perf_counter()
        cli = [sys.executable, "-c", "from harness.cli import main; main()", "--root", str(root)]
        run = subprocess.run([*cli, "run", module, "-q"], env=_clean_env(), capture_output=True, text=True)
        assert run.returncode in (0, 1), f"harness run {module}: {run.stdout}{run.stderr}"
        RUN_SECONDS.append(time.perf_counter() - started)
        for cache in ("mutation-cache.json", "mutation-verdicts.jsonl"):
            (root / f"reports/{module}/.work/{cache}").unlink(missing_ok=True)
    started = time.perf_counter()
    run = [sys.executable, "-c", RUN, str(root), module, mode, str(WORKERS), *files]
    subprocess.run(run, env=_clean_env(), check=False, capture_output=True)
    wall = time.perf_counter() - started
    doc = stored_mutation.load(layout.files(load_project(root), module))
    # mutation.json keeps the module's other files' mutants from earlier runs: only `files` count
    mine = [m for m in doc["mutants"] if not files or m["file"] in files]
    return len(mine), wall, {m["id"]: m["status"] for m in mine}


def _run_mutmut(exe: Path, root: Path) -> tuple[int, float, dict]:
    """(mutants, wall seconds, status of each mutant by name) of one fresh `mutmut run`."""
    shutil.rmtree(root / "mutants", ignore_errors=True)  # mutmut keeps verdicts there: start afresh
    env = {**_clean_env(), "PATH": f"{exe.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    started = time.perf_counter()
    subprocess.run([str(exe), "run", "--max-children", str(WORKERS)], cwd=root, env=env, capture_output=True)
    wall = time.perf_counter() - started
    out = subprocess.run(
        [str(exe), "results", "--all", "true"], cwd=root, env=env, capture_output=True, text=True
    )
    statuses = dict(re.findall(r"^\s*(\S+):\s*(\w[\w ]*)$", out.stdout, flags=re.M))
    return len(statuses), wall, statuses


def _rounds(runs: dict, rounds: int) -> dict[str, list]:
    """Each run `rounds` times, alternating, the first of each round rotating: {name: [results]}."""
    names, results = list(runs), {name: [] for name in runs}
    for number in range(rounds):
        for name in names[number % len(names) :] + names[: number % len(names)]:
            results[name].append(runs[name]())
    return results


def _print(results: dict[str, list], reason: str) -> None:
    print()
    rates = {}
    for name, runs in results.items():
        mutants, statuses = runs[-1][0], runs[-1][2]
        wall = statistics.median(r[1] for r in runs)
        rates[name] = mutants / wall
        tally = dict(sorted(Counter(statuses.values()).items()))
        walls = ", ".join(f"{r[1]:.1f}" for r in runs)
        print(
            f"{name:24} {mutants:4d} mutants  median {wall:7.1f}s  {rates[name]:6.2f}/s  [{walls}]  {tally}"
        )
    fast, reuse, plain, mutmut = (rates.get(n) for n in (FAST, REUSE, PLAIN, MUTMUT_NAME))
    print(f"(the `harness run` before each '{REUSE}': median {statistics.median(RUN_SECONDS):.1f}s)")
    print(f"harness fast / plain: {fast / plain:.2f}x")
    if mutmut:
        print(
            f"harness mutate after run / mutmut: {reuse / mutmut:.2f}x (goal: 3x);"
            f" fast, mapping its own / mutmut: {fast / mutmut:.2f}x; plain / mutmut: {plain / mutmut:.2f}x"
        )
    else:
        print(f"mutmut skipped: {reason}")
    RUN_SECONDS.clear()


FAST, PLAIN, MUTMUT_NAME = "harness mutate (fast)", "harness mutate (plain)", "mutmut run"
REUSE = "harness mutate after run"  # fast, the tests of each line taken from the `harness run` before it
RUN_SECONDS: list[float] = []  # the wall time of each `harness run` that REUSE was given


def _compare(
    harness_root: Path, module: str, files: tuple[str, ...], mutmut: Path | None, theirs: Path, rounds
):
    runs = {
        FAST: lambda: _run_harness(harness_root, module, "fast", *files),
        REUSE: lambda: _run_harness(harness_root, module, "reuse", *files),
        PLAIN: lambda: _run_harness(harness_root, module, "plain", *files),
    }
    if mutmut is not None:
        runs[MUTMUT_NAME] = lambda: _run_mutmut(mutmut, theirs)
    return _rounds(runs, rounds)


def test_mutants_per_second_against_mutmut(tmp_path_factory, capsys):
    """The three rates and their ratios on the same generated file and tests; the two modes agree."""
    ours = _project(tmp_path_factory.mktemp("bench-harness"))
    exe, reason = _mutmut(MUTMUT_VENV)
    theirs = _project(tmp_path_factory.mktemp("mm"))
    results = _compare(ours, "bench", (), exe, theirs, ROUNDS or 3)
    with capsys.disabled():
        _print(results, reason)
    assert results[FAST][0][0] > 0  # the benchmark measured something; speed itself is never asserted
    assert all(run[2] == results[PLAIN][0][2] for run in results[FAST] + results[REUSE] + results[PLAIN])


def test_real_file_against_mutmut(tmp_path_factory, capsys):
    """The same comparison on a real file and its module's suites, when HARNESS_BENCH_REAL asks for it."""
    if not REAL:
        with capsys.disabled():
            print("\nreal-file comparison not run: set HARNESS_BENCH_REAL=MODULE:FILE to run it")
        return
    module, file = REAL.split(":", 1)
    ours = _real_project(tmp_path_factory.mktemp("real-harness"), module, file)
    theirs = _real_project(tmp_path_factory.mktemp("real-mutmut"), module, file)
    exe, reason = _mutmut(REAL_VENV, "-e", str(theirs), "--group", f"{theirs / 'pyproject.toml'}:tests")
    results = _compare(ours, module, (file,), exe, theirs, ROUNDS or 1)
    with capsys.disabled():
        _print(results, reason)
    assert all(run[2] == results[PLAIN][0][2] for run in results[FAST] + results[REUSE] + results[PLAIN])
