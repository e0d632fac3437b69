"""The throwaway projects the wheel check points the installed harness at, and how it reads their outcomes."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

STRICT_PYTEST = """
[tool.pytest.ini_options]
addopts = ["--strict-markers", "--strict-config", "-ra", "-p", "no:cacheprovider"]
filterwarnings = ["error"]
testpaths = ["tests"]
markers = ["slow: a registered marker"]
"""

# A project that has nothing to do with Django or asyncio, with every kind of outcome.
PLAIN_PROJECT = {
    "pyproject.toml": '[project]\nname = "plainproj"\nversion = "1.0"\n' + STRICT_PYTEST,
    "tests/test_outcomes.py": """
        import asyncio
        import warnings

        import pytest


        def test_the_current_event_loop():  # first: Python 3.11 creates the main thread's loop here
            loop = asyncio.get_event_loop()
            try:
                assert asyncio.get_event_loop() is loop
            finally:
                loop.close()


        def test_passes():
            assert sum([1, 2]) == 3


        def test_fails():
            assert sum([1, 2]) == 4


        @pytest.mark.skip(reason="not here")
        def test_skipped():
            raise AssertionError


        @pytest.mark.xfail(reason="known bug", strict=True)
        def test_xfails():
            raise AssertionError


        @pytest.mark.xfail(reason="fixed since")
        def test_xpasses():
            pass


        @pytest.mark.parametrize("n", [1, 2])
        def test_parametrized(n):
            assert n == 1


        @pytest.mark.slow
        def test_marked():
            pass


        def test_a_warning_is_an_error():
            warnings.warn("old API", DeprecationWarning)


        def test_an_expected_warning_passes():
            with pytest.warns(UserWarning):
                warnings.warn("heads up", UserWarning)


        def test_builtin_fixtures(tmp_path, monkeypatch, capsys):
            monkeypatch.setenv("PLAIN", "1")
            print("out")
            assert capsys.readouterr().out == "out\\n" and tmp_path.is_dir()


        def test_asyncio_run_in_a_sync_test():
            assert asyncio.run(asyncio.sleep(0, result=7)) == 7


        async def test_an_unmarked_coroutine():
            pass

    """,
}

# The outcomes that hold on every supported Python and pytest; the others must only agree.
EXPECTED_OUTCOMES = {
    "test_passes": "passed",
    "test_fails": "failed",
    "test_skipped": "skipped",
    "test_xfails": "xfailed",
    "test_xpasses": "passed",
    "test_parametrized[1]": "passed",
    "test_parametrized[2]": "failed",
    "test_marked": "passed",
    "test_a_warning_is_an_error": "failed",
    "test_an_expected_warning_passes": "passed",
    "test_builtin_fixtures": "passed",
    "test_asyncio_run_in_a_sync_test": "passed",
}
if sys.version_info < (3, 12):  # later Pythons warn (and 3.14 raises) when no loop was set
    EXPECTED_OUTCOMES["test_the_current_event_loop"] = "passed"

# A small library with a module spec, for `harness list/run/check` in a plain install.
SPEC_PROJECT = {
    "pyproject.toml": '[project]\nname = "calc"\nversion = "1.0"\n' + STRICT_PYTEST,
    "calc/__init__.py": """
        def add(a, b):
            return a + b


        def sign(n):
            if n < 0:
                return -1
            return 1
    """,
    "tests/test_calc.py": """
        from calc import add, sign


        def test_add():
            assert add(2, 3) == 5


        def test_sign_of_a_positive_number():
            assert sign(4) == 1
    """,
    "suites/calc/module.yml": """
        id: calc
        title: Calculator
        source: [calc]
        suites: [tests]
        targets: {calc/__init__.py: 50}
        overall: 50
    """,
}


def write_project(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())


@dataclass(frozen=True)
class Outcomes:
    """What a pytest run of a project came to: exit status, closing counts, and each test's outcome."""

    exit_code: int
    counts: str
    tests: dict[str, str]


def read_outcomes(done: subprocess.CompletedProcess[str], junit: Path) -> Outcomes:
    """Outcomes of a run made with `--junitxml=junit`; its closing line without the duration."""
    closing = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    counts = re.sub(r" in [\d.]+s.*", "", closing.strip("= "))
    tests = {}
    if junit.exists():
        for case in ET.parse(junit).getroot().iter("testcase"):
            tests[case.get("name")] = _outcome(case)
    return Outcomes(done.returncode, counts, tests)


def _outcome(case: ET.Element) -> str:
    for child in case:
        if child.tag == "skipped":
            return "xfailed" if child.get("type") == "pytest.xfail" else "skipped"
        if child.tag in ("failure", "error"):
            return {"failure": "failed", "error": "error"}[child.tag]
    return "passed"
