"""Benchmark: mutants per second of `harness mutate` and of mutmut on the same file and tests.

    .venv/bin/python -m pytest benchmarks -p no:randomly

Both tools get a generated project (a module of small pure functions and a test file that kills
most of its mutants) in a private directory under /tmp, and two workers each. mutmut is installed
into its own virtualenv under /tmp on the first run (kept for later runs); when that cannot be done
the benchmark prints why and measures `harness mutate` alone. Rates are printed, never asserted.

    HARNESS_BENCH_REAL=module-6.7:target_app/realtime/middleware.py .venv/bin/python -m pytest benchmarks

adds the same comparison on a real file with its module's suites (a copy of this repository's HEAD;
mutmut gets a second virtualenv with the project and its test dependencies). It takes tens of minutes.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

MUTMUT_VENV = Path("/tmp/harness-bench-mutmut-venv")
REAL_VENV = Path("/tmp/harness-bench-mutmut-real-venv")
REAL = os.environ.get("HARNESS_BENCH_REAL", "")
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

SPEC = "id: bench\ntitle: Benchmark\nsource: [calc]\nsuites: [tests]\n"


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
    """HEAD of this repository in `dest`, with a mutmut configuration for `file` and `module`'s suites."""
    from harness.catalog import find_spec
    from harness.project import load_project

    repo = Path(__file__).resolve().parents[1]
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=repo, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
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


def _run_harness(root: Path, module: str = "bench", *args: str) -> tuple[int, float, dict]:
    cmd = [sys.executable, "-c", "from harness.cli import main; main()", "--root", str(root)]
    started = time.perf_counter()
    run = [*cmd, "mutate", module, *args, "--workers", str(WORKERS), "--fresh"]
    subprocess.run(run, env=_clean_env(), check=False, capture_output=True)
    wall = time.perf_counter() - started
    doc = json.loads((root / f"reports/{module}/mutation.json").read_text(encoding="utf-8"))
    statuses: dict[str, int] = {}
    for m in doc["mutants"]:
        statuses[m["status"]] = statuses.get(m["status"], 0) + 1
    return len(doc["mutants"]), wall, statuses


def _run_mutmut(exe: Path, root: Path) -> tuple[int, float, dict]:
    env = {**_clean_env(), "PATH": f"{exe.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    started = time.perf_counter()
    subprocess.run([str(exe), "run", "--max-children", str(WORKERS)], cwd=root, env=env, capture_output=True)
    wall = time.perf_counter() - started
    out = subprocess.run(
        [str(exe), "results", "--all", "true"], cwd=root, env=env, capture_output=True, text=True
    )
    statuses: dict[str, int] = {}
    for status in re.findall(r":\s*(\w[\w ]*)$", out.stdout, flags=re.M):
        statuses[status] = statuses.get(status, 0) + 1
    return sum(statuses.values()), wall, statuses


def _print(rows: list, reason: str) -> None:
    print()
    for name, mutants, seconds, found in rows:
        print(f"{name:42} {mutants:4d} mutants {seconds:7.1f}s {mutants / seconds:6.2f}/s  {found}")
    if len(rows) < 2:
        print(f"mutmut skipped: {reason}")
    elif rows[1][1]:
        ratio = (rows[0][1] / rows[0][2]) / (rows[1][1] / rows[1][2])
        print(f"harness mutate / mutmut, mutants per second: {ratio:.2f}x (goal: 3x)")


def test_mutants_per_second_against_mutmut(tmp_path_factory, capsys):
    """Both rates and their ratio on the same generated file and tests."""
    count, wall, statuses = _run_harness(_project(tmp_path_factory.mktemp("bench-harness")))
    rows = [("harness mutate (plain pytest per mutant)", count, wall, statuses)]
    exe, reason = _mutmut(MUTMUT_VENV)
    if exe is not None:
        rows.append(
            ("mutmut run (forks, in-process)", *_run_mutmut(exe, _project(tmp_path_factory.mktemp("mm"))))
        )
    with capsys.disabled():
        _print(rows, reason)
    assert count > 0  # the benchmark measured something; speed itself is never asserted


def test_real_file_against_mutmut(tmp_path_factory, capsys):
    """The same comparison on a real file and its module's suites, when HARNESS_BENCH_REAL asks for it."""
    if not REAL:
        with capsys.disabled():
            print("\nreal-file comparison not run: set HARNESS_BENCH_REAL=MODULE:FILE to run it")
        return
    module, file = REAL.split(":", 1)
    ours = _real_project(tmp_path_factory.mktemp("real-harness"), module, file)
    rows = [("harness mutate (plain pytest per mutant)", *_run_harness(ours, module, "--file", file))]
    theirs = _real_project(tmp_path_factory.mktemp("real-mutmut"), module, file)
    exe, reason = _mutmut(REAL_VENV, "-e", str(theirs), "--group", f"{theirs / 'pyproject.toml'}:tests")
    if exe is not None:
        rows.append(("mutmut run (forks, in-process)", *_run_mutmut(exe, theirs)))
    with capsys.disabled():
        _print(rows, reason)
