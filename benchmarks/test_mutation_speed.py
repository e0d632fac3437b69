"""Benchmark: mutants per second of `harness mutate` and of mutmut on the same file and tests.

    .venv/bin/python -m pytest benchmarks -p no:randomly

Both tools get a generated project (a module of small pure functions and a test file that kills
most of its mutants) in a private directory under /tmp, and two workers each. mutmut is installed
into its own virtualenv under /tmp on the first run (kept for later runs); when that cannot be done
the benchmark prints why and measures `harness mutate` alone. Rates are printed, never asserted.
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


def _mutmut() -> tuple[Path | None, str]:
    """mutmut's executable in its own venv, or None and the reason it cannot be had."""
    exe = MUTMUT_VENV / "bin" / "mutmut"
    if exe.is_file():
        return exe, ""
    try:
        subprocess.run([sys.executable, "-m", "venv", str(MUTMUT_VENV)], check=True, capture_output=True)
        pip = [str(MUTMUT_VENV / "bin" / "python"), "-m", "pip", "install", "-q", MUTMUT, "pytest"]
        subprocess.run(pip, check=True, capture_output=True, timeout=600)
    except (OSError, subprocess.SubprocessError) as err:
        shutil.rmtree(MUTMUT_VENV, ignore_errors=True)
        return None, f"could not install {MUTMUT} into {MUTMUT_VENV}: {err}"
    return exe, ""


def _run_harness(root: Path) -> tuple[int, float, dict]:
    cmd = [sys.executable, "-c", "from harness.cli import main; main()", "--root", str(root)]
    started = time.perf_counter()
    subprocess.run(
        [*cmd, "mutate", "bench", "--workers", str(WORKERS), "--fresh"], env=_clean_env(), check=False
    )
    wall = time.perf_counter() - started
    doc = json.loads((root / "reports/bench/mutation.json").read_text(encoding="utf-8"))
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


def test_mutants_per_second_against_mutmut(tmp_path_factory, capsys):
    """Prints both rates and their ratio; the comparison is on the same generated file and tests."""
    harness_root = _project(Path(tmp_path_factory.mktemp("bench-harness")))
    count, wall, statuses = _run_harness(harness_root)
    rows = [("harness mutate (plain pytest per mutant)", count, wall, statuses)]
    exe, reason = _mutmut()
    if exe is not None:
        mutmut_root = _project(Path(tmp_path_factory.mktemp("bench-mutmut")))
        rows.append(("mutmut run (forks, in-process)", *_run_mutmut(exe, mutmut_root)))
    with capsys.disabled():
        print()
        for name, mutants, seconds, found in rows:
            print(f"{name:42} {mutants:4d} mutants {seconds:7.1f}s {mutants / seconds:6.2f}/s  {found}")
        if exe is None:
            print(f"mutmut skipped: {reason}")
        else:
            ratio = (rows[0][1] / rows[0][2]) / (rows[1][1] / rows[1][2]) if rows[1][1] else float("nan")
            print(f"harness mutate / mutmut, mutants per second: {ratio:.2f}x (goal: 3x)")
    assert count > 0  # the benchmark measured something; speed itself is never asserted
