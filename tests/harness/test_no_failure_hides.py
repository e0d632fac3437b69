"""A run that breaks says why in pytest's or coverage.py's own words, keeps its log, and logs its end."""

import json
import os

from harness.run.span import run_span
from harness.spec.project import load_project

OPS = "calc/ops.py"
OPS_SUITE = "suites/tests/test_ops.py"
BOX_SUITE = "suites/tests/test_box.py"

SHADOW = """\
import sys
from pathlib import Path

# The tests import a copy of calc from elsewhere, as when an installed package shadows the source tree.
sys.path.insert(0, str(Path(__file__).parent / "installed"))
"""


def test_a_node_id_that_does_not_exist_gives_pytests_own_error(throwaway):
    throwaway.spec("mod-a", suites=[f"{OPS_SUITE}::test_nope"])
    outcome = throwaway.harness("run", "mod-a")
    assert outcome.exit_code == 1
    result = throwaway.result("mod-a")
    assert result["status"] == "failed" and result["files"] == {}
    assert result["reason"] == (
        f"ERROR: not found: {OPS_SUITE}::test_nope (no match in any of [<Module test_ops.py>])"
    )
    assert f"Reason: {result['reason']}" in outcome.output


def test_a_pytest_usage_error_is_the_reason(throwaway):
    throwaway.spec("mod-a", suites=[OPS_SUITE])
    outcome = throwaway.harness("run", "mod-a", "--", "--no-such-option")
    assert outcome.exit_code == 1
    assert (
        throwaway.result("mod-a")["reason"] == "pytest usage error: unrecognized arguments: --no-such-option"
    )
    assert "--no-such-option" in (throwaway.root / "reports/mod-a/pytest.log").read_text()


def test_a_selection_that_matches_nothing_says_so(throwaway):
    throwaway.spec("mod-a", suites=[{"path": OPS_SUITE, "k": "nothing_has_this_name"}])
    assert throwaway.harness("run", "mod-a").exit_code == 1
    assert throwaway.result("mod-a")["reason"] == "pytest collected no tests (3 deselected)"


def test_coverage_of_a_shadowed_package_is_failed_not_zero_percent(throwaway):
    throwaway.write("suites/tests/conftest.py", SHADOW)
    for rel in ("__init__.py", "ops.py"):
        throwaway.write(f"suites/tests/installed/calc/{rel}", (throwaway.root / "calc" / rel).read_text())
    throwaway.spec("mod-a", suites=[OPS_SUITE], targets={OPS: 10})
    outcome = throwaway.harness("run", "mod-a")
    assert outcome.exit_code == 1
    result = throwaway.result("mod-a")
    assert result["status"] == "failed" and result["files"] == {}
    assert result["reason"].startswith("coverage.py measured no line under `calc` although 2 tests ran:")
    assert "imported from another path" in result["reason"]
    report = (throwaway.root / "reports/mod-a/COMPLETION_STATUS.md").read_text()
    assert "## No Coverage Figures" in report and "0.0%" not in report


def test_a_crashed_baseline_points_at_a_log_that_exists(throwaway):
    throwaway.write("suites/old/test_broken.py", "import calc.nothing_here\n")
    throwaway.spec("mod-a", suites=[OPS_SUITE], baseline={"suites": ["suites/old/test_broken.py"]})
    outcome = throwaway.harness("run", "mod-a")
    assert outcome.exit_code == 2
    message = outcome.output.strip().splitlines()[-1]
    assert "baseline.suites: ERROR collecting suites/old/test_broken.py: ModuleNotFoundError" in message
    assert message.endswith("(see reports/mod-a/baseline.pytest.log)")
    assert "calc.nothing_here" in (throwaway.root / "reports/mod-a/baseline.pytest.log").read_text()


def test_the_baseline_runs_with_the_modules_pytest_arguments(throwaway):
    throwaway.spec("mod-a", suites=[OPS_SUITE], baseline={"suites": [OPS_SUITE]})
    outcome = throwaway.harness("run", "mod-a", "-v", "--", "-k", "add")
    assert outcome.exit_code == 0
    assert outcome.output.count("test session starts") == 2  # -v streamed the baseline's pytest too
    cached = json.loads((throwaway.root / "reports/mod-a/baseline.json").read_text())
    assert cached["pytest_args"] == ["-k", "add"]
    log = (throwaway.root / "reports/mod-a/baseline.pytest.log").read_text()
    assert " -k add" in log.splitlines()[0] and "1 passed, 2 deselected" in log
    # the module ran the same selection, so baseline and final agree
    assert throwaway.result("mod-a")["overall"]["delta"] == 0
    rerun = throwaway.harness("run", "mod-a")  # other arguments: the cached baseline is measured again
    assert "Measuring the baseline of mod-a" in rerun.output


def test_a_run_stopped_by_an_error_logs_run_failed(throwaway):
    spec = throwaway.spec("mod-a", suites=[OPS_SUITE])
    project = load_project(throwaway.root)
    from harness.spec.catalog import find_spec

    try:
        with run_span(project, find_spec(project, str(spec)).id, step=None, shard=None):
            raise RuntimeError("disk full")
    except RuntimeError:
        pass
    started, failed = throwaway.trace()
    assert (started["event"], failed["event"]) == ("run_started", "run_failed")
    assert failed["run"] == started["run"] and failed["reason"] == "disk full"


def test_a_killed_harness_gets_its_end_logged_by_the_next_run(throwaway):
    dead = _dead_pid()
    throwaway.write(
        "trace.yml",
        f"- {{at: '2026-01-01T00:00:00+00:00', event: run_started, module: mod-a, commit: null,"
        f" run: abc123, pid: {dead}, host: {os.uname().nodename}}}\n",
    )
    throwaway.spec("mod-a", suites=[BOX_SUITE])
    assert throwaway.harness("run", "mod-a").exit_code == 0
    kinds = [(e["event"], e.get("run")) for e in throwaway.trace()]
    assert kinds[:2] == [("run_started", "abc123"), ("run_interrupted", "abc123")]
    assert [k for k, _ in kinds[2:]] == ["run_started", "run_finished"]
    assert "ended without logging a result" in throwaway.trace()[1]["reason"]


def _dead_pid() -> int:
    """A pid that is not running: a child that has exited and been reaped."""
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


def test_quiet_prints_only_the_status_line(throwaway):
    throwaway.spec("mod-a", suites=[BOX_SUITE])
    outcome = throwaway.harness("run", "mod-a", "--quiet")
    assert outcome.exit_code == 0
    assert outcome.output == "Status: Complete  (1 passed, 0 failed, 0 skipped, 0 errors)\n"
