"""`harness mutate`'s fast mode against its reference, the plain mode, on throwaway projects."""

import os
import signal
from pathlib import Path

import pytest

from harness.mutate import finish
from harness.mutation.engine import MutateOptions, mutate
from harness.mutation.execute import server_command
from harness.mutation.fork import Fallback, FastMode, Server
from harness.mutation.isolate import environment
from harness.mutation.selection import IMPORT_TIME, LineTests, Timing
from harness.spec.catalog import find_spec
from harness.spec.project import load_project
from tests.harness.conftest import build_throwaway
from tests.harness.mutation.test_mutate import EXPECTED, FAST, build, by_position

LIMITS = """\
LIMIT = 10


def over(x):
    return x > LIMIT
"""
TEST_LIMITS = (
    "from calc.limits import over\n\n\ndef test_over():\n    assert not over(10)\n    assert over(11)\n"
)
# Every mutant is killed: `LIMIT = 11` and `LIMIT = None` (run plain: their line ran at import), and
# `>` -> `>=` and `return None` (forked).
LIMIT_VERDICTS = {
    (1, "constant"): "killed",
    (1, "assignment"): "killed",
    (5, "comparison"): "killed",
    (5, "return-value"): "killed",
}
TIMING = Timing(float(FAST[1]), float(FAST[3]))


@pytest.fixture
def clean_env(monkeypatch):
    for name in ("DJANGO_SETTINGS_MODULE", "PYTEST_ADDOPTS", "COVERAGE_PROCESS_START"):
        monkeypatch.delenv(name, raising=False)


def run(root: Path, module: str, plain: bool, *files: str, timing=TIMING) -> tuple[dict, list[str]]:
    """The engine as `harness mutate MODULE --workers 2 --fresh` runs it: (mutation.json, echoed lines)."""
    project = load_project(root)
    lines: list[str] = []
    options = MutateOptions(files, workers=2, fresh=True, timing=timing, plain=plain)
    spec = find_spec(project, module)
    return finish(project, spec, mutate(project, spec, options, lines.append, root), lines.append), lines


def limits(root: Path, conftest: str = ""):
    project = build_throwaway(root)
    project.write("calc/limits.py", LIMITS)
    project.write("suites/lim/test_limits.py", TEST_LIMITS)
    project.write("suites/lim/conftest.py", conftest)
    project.spec("lim", suites=["suites/lim"])
    return project


def test_the_plain_mode_is_the_reference_and_gives_every_verdict(clean_env, tmp_path):
    project = build(tmp_path / "proj", {"mutation": 90})
    # Each plain run pays pytest's start-up inside its timeout: more margin on a busy machine.
    doc, lines = run(project.root, "m", plain=True, timing=Timing(3.0, 1.0))
    assert by_position(doc) == EXPECTED
    assert not [line for line in lines if "forked" in line]  # no server was started


def test_mutants_of_code_that_ran_at_import_run_plain_and_the_run_says_why(clean_env, tmp_path):
    doc, lines = run(limits(tmp_path / "proj").root, "lim", False, "calc/limits.py")
    assert {(m["line"], m["operator"]): m["status"] for m in doc["mutants"]} == LIMIT_VERDICTS
    assert "  2 run forked from a pytest server, 2 as plain pytest" in lines
    assert "    2 plain: its lines ran outside any test (at import or collection)" in lines


def test_a_server_with_threads_after_collection_hands_every_mutant_to_plain_runs(clean_env, tmp_path):
    """Forking a process that runs other threads is not safe (their locks), so the server refuses."""
    waiting = "import threading\n\nthreading.Thread(target=threading.Event().wait, daemon=True).start()\n"
    doc, lines = run(limits(tmp_path / "proj", conftest=waiting).root, "lim", False, "calc/limits.py")
    assert {(m["line"], m["operator"]): m["status"] for m in doc["mutants"]} == LIMIT_VERDICTS
    off = [line for line in lines if "fast mode off" in line]  # each worker that needed its server says so
    assert off and all("threads run after collection (Thread-1" in line for line in off), lines
    assert "  0 run forked from a pytest server, 4 as plain pytest" in lines


def test_a_server_that_dies_hands_its_mutant_back_and_is_replaced(clean_env, tmp_path):
    root = limits(tmp_path / "proj").root
    notes: list[str] = []
    mode = FastMode(server_command(("suites/lim",)), 60, notes.append)
    server = Server(mode, root, environment(root, ["."]), tmp_path / "server.log")
    mutant = LIMITS.replace("x > LIMIT", "x >= LIMIT")
    test = ("suites/lim/test_limits.py::test_over",)
    try:
        assert server.ready()
        assert server.run("calc/limits.py", LIMITS, mutant, test, 30, tmp_path / "1.log") == 1
        os.kill(server.proc.pid, signal.SIGKILL)
        lost = server.run("calc/limits.py", LIMITS, mutant, test, 30, tmp_path / "2.log")
        assert lost == Fallback("the server stopped answering")
        assert notes == [
            f"  the server of {root.parent.name} stopped answering; see {tmp_path / 'server.log'}"
        ]
        assert server.ready() and server.launches == 2
        assert server.run("calc/limits.py", LIMITS, LIMITS, test, 30, tmp_path / "3.log") == 0
    finally:
        server.stop()
    assert server.proc is None or server.proc.poll() is not None


def test_lines_run_at_import_are_told_from_lines_run_by_tests():
    lines = {
        "m.py": {1: frozenset({IMPORT_TIME}), 2: frozenset({"t::a"}), 3: frozenset({IMPORT_TIME, "t::b"})}
    }
    tests = LineTests(lines, {}, 0.0)
    assert tests.ran_outside_tests("m.py", (1, 1))
    assert not tests.ran_outside_tests("m.py", (2, 2))
    assert tests.ran_outside_tests("m.py", (2, 3))  # a test and the import: the import decides
    assert not tests.ran_outside_tests("other.py", (1, 9))
