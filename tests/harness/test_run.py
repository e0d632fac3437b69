"""`harness run` on a throwaway project, for real: reports, results.json, trace.yml and MAP.md."""

import json

import pytest

from harness.store.mapfile import BEGIN, END

OPS, INIT = "calc/ops.py", "calc/__init__.py"
NONE_FLAKY = {"flaky": 0, "quarantined": 0}  # counted apart since `--repeat`: 0 without it


@pytest.fixture(scope="module")
def ran(shared_throwaway):
    """One real run shared by the tests that only read its outputs."""
    throwaway = shared_throwaway
    throwaway.spec(
        "mod-a",
        suites=["suites/tests/test_ops.py"],
        targets={OPS: 90, "calc/*.py": 50},
        overall=80,
        notes="Free text from the spec.",
        references=["PLAN.md#mod-a"],
    )
    result = throwaway.harness("run", "mod-a")
    return throwaway, result


def test_run_writes_every_output(ran):
    project, outcome = ran
    out = project.root / "reports" / "mod-a"
    assert outcome.exit_code == 1  # targets missed: In Progress
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "COMPLETION_STATUS.md",
        "badge.svg",
        "charts",
        "coverage.json",
        "coverage.xml",
        "htmlcov",
        "junit.xml",
        "outcomes.jsonl",
        "pytest.log",
        "results.json",
    ]
    assert (out / "htmlcov" / "index.html").is_file()
    assert sorted(p.name for p in (out / "charts").iterdir()) == ["coverage-trend.svg", "files.svg"]
    report = (out / "COMPLETION_STATUS.md").read_text()
    assert "](charts/coverage-trend.svg)" in report and "](charts/files.svg)" in report
    result = project.result("mod-a")
    assert result["status"] == "in_progress"
    assert result["tests"] == {"passed": 2, "failed": 0, "skipped": 1, "errors": 0, **NONE_FLAKY}
    assert set(result["files"]) == {OPS, INIT}
    assert result["unmet"] == [OPS, "overall"]


def test_percent_is_coverage_pys_own_figure(ran):
    project, _ = ran
    result = project.result("mod-a")
    coverage_json = json.loads((project.root / "reports/mod-a/coverage.json").read_text())
    ops = result["files"][OPS]
    summary = coverage_json["files"][OPS]["summary"]
    assert ops["percent"] == summary["percent_covered"]
    assert (ops["statements"], ops["missed"]) == (summary["num_statements"], summary["missing_lines"])
    assert result["overall"]["percent"] == coverage_json["totals"]["percent_covered"]
    assert ops["missing"] == "11-13, 18, 21-22"
    assert ops["target"] == 90 and ops["met"] is False
    assert result["files"][INIT]["target"] == 50 and result["files"][INIT]["met"] is True


def test_gaps_name_the_functions_and_classes(ran):
    project, _ = ran
    gaps = project.result("mod-a")["files"][OPS]["gaps"]
    assert gaps == [
        {"lines": "11-13", "count": 3, "functions": ["sign"], "classes": []},
        {"lines": "18", "count": 1, "functions": ["Box.get"], "classes": ["Box"]},
        {"lines": "21-22", "count": 2, "functions": ["Box.put"], "classes": ["Box"]},
    ]
    report = (project.root / "reports/mod-a/COMPLETION_STATUS.md").read_text()
    assert "| 21-22 | 2 | `Box.put` | `Box` |" in report
    assert "suites/tests/test_ops.py::TestSign::test_negative` — negative numbers come later" in report
    assert "Free text from the spec." in report and "- PLAN.md#mod-a" in report


def test_trace_and_map_record_the_run(ran):
    project, _ = ran
    events = project.trace()
    assert [e["event"] for e in events] == ["run_started", "run_finished"]
    assert (events[1]["target"], events[1]["shards"], events[1]["run"]) == (80, None, events[0]["run"])
    assert (
        events[1]["status"] == "in_progress"
        and events[1]["files"][OPS] == project.result("mod-a")["files"][OPS]["percent"]
    )
    text = (project.root / "MAP.md").read_text()
    assert text.startswith(BEGIN) and text.rstrip().endswith(END)
    assert "| mod-a | Title of mod-a | 🔄 In Progress | 50.0% |" in text
    assert "[report](reports/mod-a/COMPLETION_STATUS.md)" in text


def test_met_targets_complete_and_exit_0(throwaway):
    throwaway.spec("mod-a", suites=["suites/tests/test_ops.py"], targets={OPS: 40})
    outcome = throwaway.harness("run", "mod-a")
    assert outcome.exit_code == 0, outcome.output
    assert throwaway.result("mod-a")["status"] == "complete"
    assert "Status: Complete  (2 passed, 0 failed, 1 skipped, 0 errors)" in outcome.output


def test_warn_only_target_is_reported_but_does_not_gate(throwaway):
    throwaway.spec(
        "mod-a", suites=["suites/tests/test_ops.py"], targets={OPS: {"lines": 95, "warn_only": True}}
    )
    outcome = throwaway.harness("run", "mod-a")
    assert outcome.exit_code == 0
    entry = throwaway.result("mod-a")["files"][OPS]
    assert entry["met"] is False and entry["gating_met"] is True
    assert entry["checks"][0]["short"][0]["metric"] == "lines"
    check = throwaway.harness("check", "mod-a")
    assert check.exit_code == 0
    assert check.output.splitlines()[0].startswith(f"{OPS}: lines ") and "(warn only)" in check.output


def test_failing_test_is_failed_with_exit_1(throwaway):
    throwaway.write("suites/tests/test_bad.py", "def test_bad():\n    assert 1 == 2, 'one is not two'\n")
    throwaway.spec("mod-a", suites=["suites/tests/test_ops.py", "suites/tests/test_bad.py"])
    outcome = throwaway.harness("run", "mod-a")
    assert outcome.exit_code == 1
    result = throwaway.result("mod-a")
    assert result["status"] == "failed" and result["reason"] == "1 test failed or errored"
    assert result["failures"][0]["test"] == "suites/tests/test_bad.py::test_bad"
    assert result["files"][OPS]["percent"] > 0  # real test failures still show their coverage


def test_collection_crash_is_failed_without_figures(throwaway):
    throwaway.write("suites/tests/test_broken.py", "def test_x(:\n    pass\n")
    throwaway.spec("mod-a", suites=["suites/tests/test_broken.py"], targets={OPS: 50})
    outcome = throwaway.harness("run", "mod-a")
    assert outcome.exit_code == 1
    result = throwaway.result("mod-a")
    assert result["status"] == "failed"
    assert result["reason"] == "ERROR collecting suites/tests/test_broken.py: SyntaxError: invalid syntax"
    assert result["files"] == {} and result["overall"]["percent"] is None
    assert "SyntaxError" in (throwaway.root / "reports/mod-a/pytest.log").read_text()
    report = (throwaway.root / "reports/mod-a/COMPLETION_STATUS.md").read_text()
    assert "## No Coverage Figures" in report and "0.0%" not in report


def test_nothing_collected_is_failed_with_reason(throwaway):
    throwaway.write("suites/empty/test_nothing.py", "X = 1\n")
    throwaway.spec("mod-a", suites=["suites/empty/test_nothing.py"])
    outcome = throwaway.harness("run", "mod-a")
    assert outcome.exit_code == 1
    result = throwaway.result("mod-a")
    assert (result["status"], result["reason"], result["files"]) == (
        "failed",
        "pytest collected no tests",
        {},
    )


def test_pytest_args_pass_through(throwaway):
    throwaway.spec("mod-a", suites=["suites/tests/test_ops.py"])
    outcome = throwaway.harness("run", "mod-a", "--", "-k", "add")
    assert outcome.exit_code == 0
    result = throwaway.result("mod-a")
    assert result["tests"] == {"passed": 1, "failed": 0, "skipped": 0, "errors": 0, **NONE_FLAKY}
    assert result["options"]["pytest_args"] == ["-k", "add"]


def test_suite_selection_runs_separately(throwaway):
    throwaway.spec(
        "mod-a", suites=[{"path": "suites/tests/test_ops.py", "k": "positive"}, "suites/tests/test_box.py"]
    )
    outcome = throwaway.harness("run", "mod-a")
    assert "pytest suites/tests/test_ops.py -k 'positive'" in outcome.output
    result = throwaway.result("mod-a")
    assert result["tests"]["passed"] == 2 and result["tests"]["skipped"] == 0
    assert list(result["suites"]) == ["suites/tests/test_box.py", "suites/tests/test_ops.py"]
    assert result["suites"]["suites/tests/test_box.py"]["classes"] == {
        "TestBox": {"passed": 1, "failed": 0, "skipped": 0, "errors": 0, "subtests": NO_SUBTESTS}
    }
    assert result["deselected"] == 2  # test_add and TestSign::test_negative
    assert "    1 passed, 2 deselected in " in outcome.output


NO_SUBTESTS = {"passed": 0, "failed": 0, "skipped": 0}


def test_spec_path_works_where_an_id_does(throwaway):
    spec = throwaway.spec("mod-a", suites=["suites/tests/test_box.py"])
    outcome = throwaway.harness("run", str(spec))
    assert outcome.exit_code == 0
    assert throwaway.result("mod-a")["module"] == "mod-a"


def test_custom_spec_locations_from_pyproject(throwaway):
    throwaway.write(
        "pyproject.toml",
        throwaway.root.joinpath("pyproject.toml").read_text()
        + '\n[tool.harness]\nspecs = ["plans/*.yml"]\nreports = "out"\nmap = "docs/ROADMAP.md"\n',
    )
    throwaway.write(
        "plans/alpha.yml", "id: alpha\ntitle: Alpha\nsource: calc\nsuites: [suites/tests/test_box.py]\n"
    )
    assert throwaway.harness("run", "alpha").exit_code == 0
    assert (throwaway.root / "out/alpha/results.json").is_file()
    assert "[report](../out/alpha/COMPLETION_STATUS.md)" in (throwaway.root / "docs/ROADMAP.md").read_text()
    assert throwaway.harness("list").output.splitlines()[1].startswith("alpha ")


def test_real_subprocess_with_every_installed_plugin(throwaway):
    """The console script, run from a subdirectory, with every default pytest plugin (harness's too)."""
    import subprocess
    import sys
    from pathlib import Path

    throwaway.write("pyproject.toml", '[project]\nname = "throwaway"\nversion = "0"\n')
    throwaway.spec("mod-a", suites=["suites/tests/test_ops.py"], targets={OPS: 40})
    done = subprocess.run(
        [str(Path(sys.executable).parent / "harness"), "run", "mod-a"],
        cwd=throwaway.root / "calc",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[0] == "Running mod-a: 1 suite path(s), measuring calc"
    assert "Status: Complete  (2 passed, 0 failed, 1 skipped, 0 errors)" in done.stdout
    assert throwaway.result("mod-a")["status"] == "complete"


def test_two_modules_run_concurrently_lose_nothing(throwaway):
    import subprocess
    import sys
    from pathlib import Path

    throwaway.write("MAP.md", "# Map\n\nkept\n")
    throwaway.spec("mod-a", suites=["suites/tests/test_ops.py"])
    throwaway.spec("mod-b", suites=["suites/tests/test_box.py"])
    exe = str(Path(sys.executable).parent / "harness")
    procs = [
        subprocess.Popen([exe, "run", m], cwd=throwaway.root, stdout=subprocess.DEVNULL)
        for m in ("mod-a", "mod-b")
    ]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    events = throwaway.trace()
    assert sorted((e["module"], e["event"]) for e in events) == [
        ("mod-a", "run_finished"),
        ("mod-a", "run_started"),
        ("mod-b", "run_finished"),
        ("mod-b", "run_started"),
    ]
    text = (throwaway.root / "MAP.md").read_text()
    assert text.startswith("# Map\n\nkept\n\n<!-- harness:begin -->")
    assert "| mod-a |" in text and "| mod-b |" in text


def test_a_coverage_include_beside_warnings_as_errors_does_not_fail_the_run(throwaway):
    """coverage.py warns that a project's `[run] include` gives way to the measured sources; a project
    whose pytest turns warnings into errors must still run (pluggy's configuration, for one)."""
    throwaway.write(".coveragerc", "[run]\ninclude =\n    calc/*\n    suites/*\n")
    pyproject = throwaway.root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + 'filterwarnings = ["error"]\n')
    throwaway.spec("m", suites=["suites/tests/test_ops.py"])
    ran = throwaway.harness("run", "m")
    assert ran.exit_code == 0, ran.output
    result = throwaway.result("m")
    assert (result["status"], result["tests"]["passed"]) == ("complete", 2)
    assert sorted(result["files"]) == ["calc/__init__.py", "calc/ops.py"]  # the sources, not the suites


def test_an_expected_failure_is_counted_with_the_skipped_and_named_so(throwaway):
    """JUnit and results.json count an xfail as skipped; the summary says how many of them were xfail."""
    throwaway.write(
        "suites/tests/test_expected.py",
        """
        import pytest


        @pytest.mark.xfail(reason="not yet")
        def test_later():
            assert False


        @pytest.mark.skip(reason="elsewhere")
        def test_elsewhere():
            pass
        """,
    )
    throwaway.spec("m", suites=["suites/tests/test_expected.py"])
    ran = throwaway.harness("run", "m")
    assert "(0 passed, 0 failed, 2 skipped (1 xfailed), 0 errors)" in ran.output
    assert throwaway.result("m")["tests"]["skipped"] == 2
    report = (throwaway.root / "reports/m/COMPLETION_STATUS.md").read_text(encoding="utf-8")
    assert "**Tests**: 0 passed, 0 failed, 2 skipped (1 xfailed), 0 errors" in report
