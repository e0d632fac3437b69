"""`harness run --repeat N --shuffle` end to end on the planted project (`planted.py`): the result, the
report, MAP.md, the typed trace event, the outcome log, `harness check`, `history` and `accept` all say
what the repetitions found, and each file is judged by its lowest repetition."""

import json

import pytest
import yaml

from harness.spec.project import Project
from harness.store import trace
from tests.harness import planted
from tests.harness.conftest import Throwaway

RACE_TARGET = 99.0  # met by the merged data (both tasks won once), never by one repetition alone


@pytest.fixture(scope="module")
def clean_env():
    with pytest.MonkeyPatch.context() as patch:
        for name in (
            "DJANGO_SETTINGS_MODULE",
            "PYTEST_ADDOPTS",
            "COVERAGE_PROCESS_START",
            "GITHUB_STEP_SUMMARY",
        ):
            patch.delenv(name, raising=False)
        patch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # the planted project names the plugins it needs
        yield


def planted_project(root, spec_extra=None, planted_cases=True) -> Throwaway:
    project = Throwaway(planted.write_project(root, planted=planted_cases))
    targets = {"calc/race.py": RACE_TARGET}
    project.spec("mod", suites=["suites/tests"], targets=targets, **(spec_extra or {}))
    return project


@pytest.fixture(scope="module")
def repeated(tmp_path_factory, clean_env):
    """Three shuffled repetitions through the CLI, with the seeds that show every planted case."""
    project = planted_project(tmp_path_factory.mktemp("repeated") / "proj")
    seeds = planted.telling_seeds(planted.collected(project.root))
    given = iter(seeds)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("harness.repetitions.new_seed", lambda: next(given))
        outcome = project.harness("run", "mod", "--repeat", "3", "--shuffle")
    return project, seeds, outcome


def test_the_run_is_unstable_and_says_why(repeated):
    project, _, outcome = repeated
    assert outcome.exit_code == 1, outcome.output
    result = project.result("mod")
    assert result["status"] == "unstable" and result["status_label"] == "Unstable"
    assert result["reason"] == ("1 flaky test, 2 order-dependent tests, 1 file with unstable coverage")
    total = len(planted.collected(project.root))
    assert result["tests"] == {
        "passed": total - 3,
        "failed": 0,
        "skipped": 0,
        "errors": 0,
        "flaky": 3,  # never counted passed
        "quarantined": 0,
    }
    lines = outcome.output.splitlines()
    assert [line for line in lines if line.startswith("Repetition ")] == [
        f"Repetition {n} of 3" for n in (1, 2, 3)
    ]
    assert any(line.startswith(f"Replaying {planted.VICTIM} after the ") for line in lines)
    assert "Stability (3 repetitions): UNSTABLE: 1 flaky test, 2 order-dependent tests" in outcome.output
    assert "Status: Unstable" in outcome.output


def test_the_stability_section_names_each_case_with_the_seeds(repeated):
    project, seeds, _ = repeated
    stab = project.result("mod")["stability"]
    assert stab["repetitions"] == 3 and stab["seeds"] == seeds and stab["stable"] is False
    assert [t["test"] for t in stab["flaky"]] == [planted.FLAKY]
    dependent = {t["test"]: t for t in stab["order_dependent"]}
    assert set(dependent) == {planted.VICTIM, planted.COLD}
    assert dependent[planted.VICTIM]["order"] == [planted.LEAKER, planted.VICTIM]
    assert dependent[planted.COLD]["order"] == [planted.COLD]  # fails alone, in a fresh process
    (race,) = stab["unstable_files"]
    assert race["path"] == planted.RACE_FILE and race["met_in"] == []
    assert len(stab["blocking"]) == 4 and stab["warnings"] == []


def test_each_file_is_judged_by_its_lowest_repetition(repeated):
    project, _, _ = repeated
    result = project.result("mod")
    race = result["files"][planted.RACE_FILE]
    (unstable,) = result["stability"]["unstable_files"]
    merged = json.loads((project.root / "reports/mod/coverage.json").read_text())
    merged_percent = merged["files"][planted.RACE_FILE]["summary"]["percent_covered"]
    assert race["percent"] == unstable["low"] < RACE_TARGET <= merged_percent
    assert race["met"] is False and planted.RACE_FILE in result["unmet"]
    assert race["missing"]  # the lines its lowest repetition missed, which the merged data covers


def test_the_report_map_and_check_show_it(repeated):
    project, _, _ = repeated
    report = (project.root / "reports/mod/COMPLETION_STATUS.md").read_text()
    assert "**Status**: ⚠️ Unstable" in report and "## Stability" in report
    assert f"`{planted.LEAKER}` → `{planted.VICTIM}`" in report
    assert "⚠️ Unstable" in (project.root / "MAP.md").read_text()
    check = project.harness("check", "mod")
    assert check.exit_code == 1
    blocking = [line for line in check.output.splitlines() if line.startswith("blocking: ")]
    assert len(blocking) == 4 and blocking[0].startswith(f"blocking: flaky: {planted.FLAKY} failed in 1 of 3")
    assert check.output.splitlines()[-1].startswith("mod: Unstable (1 flaky test")


def test_the_trace_event_carries_the_figures_typed(repeated):
    project, seeds, _ = repeated
    (finished,) = [e for e in trace.read(Project(project.root)) if isinstance(e, trace.RunFinished)]
    assert finished.tests.flaky == 3 and finished.status == "unstable"
    figures = finished.stability
    assert (figures.repetitions, figures.seeds, figures.stable) == (3, tuple(seeds), False)
    assert figures.flaky == (planted.FLAKY,)
    assert set(figures.order_dependent) == {planted.VICTIM, planted.COLD}
    assert list(figures.unstable_files) == [planted.RACE_FILE]
    history = project.harness("history", "mod").output
    assert "1 flaky, 2 order-dependent, 1 unstable file (3x)" in history


def test_the_outcome_log_has_the_runs_line(repeated):
    project, _, _ = repeated
    (line,) = (project.root / "reports/mod/outcomes.jsonl").read_text().splitlines()
    record = json.loads(line)
    assert record["state"].startswith("files:")  # the planted project is not a git checkout
    flaky = [f"{file}::{name}" for file, names in record["tests"]["flaky"].items() for name in names]
    assert sorted(flaky) == sorted([planted.FLAKY, planted.VICTIM, planted.COLD])
    run_id = next(e for e in project.trace() if e["event"] == "run_finished")["run"]
    assert record["run"] == run_id


def test_accepting_the_variance_leaves_it_unstable(repeated):
    project, _, _ = repeated
    done = project.harness("accept", "mod", "--rationale", "the race is known")
    assert done.exit_code == 0, done.output
    result = project.result("mod")
    assert result["status"] == "unstable" and result["stability"]["blocking"]


def test_a_stable_project_repeated_is_complete_and_passes_the_gate(tmp_path, clean_env):
    project = planted_project(tmp_path / "proj", planted_cases=False)
    project.spec("mod", suites=["suites/tests"], stability={"repeat": 2, "shuffle": True})
    outcome = project.harness("run", "mod")  # the spec asks for the repetitions
    assert outcome.exit_code == 0, outcome.output
    result = project.result("mod")
    assert result["status"] == "complete" and result["tests"]["flaky"] == 0
    stab = result["stability"]
    assert stab["repetitions"] == 2 and stab["stable"] is True and stab["blocking"] == []
    assert len(stab["seeds"]) == 2 and all(isinstance(seed, int) for seed in stab["seeds"])
    assert "Stability (2 repetitions): stable" in outcome.output
    assert project.harness("check", "mod").exit_code == 0


def test_under_flaky_warn_findings_only_warn(tmp_path, clean_env):
    project = planted_project(tmp_path / "proj")
    project.spec("mod", suites=["suites/tests/test_race.py"], stability={"flaky": "warn"})
    outcome = project.harness("run", "mod", "--repeat", "2")
    assert outcome.exit_code == 0, outcome.output
    result = project.result("mod")
    assert result["status"] == "complete" and result["stability"]["blocking"] == []
    (warning,) = result["stability"]["warnings"]
    assert warning.startswith(f"unstable coverage: {planted.RACE_FILE} ")
    check = project.harness("check", "mod")
    assert check.exit_code == 0 and f"warning: unstable coverage: {planted.RACE_FILE}" in check.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--seed", "3", "--repeat", "2"], "--seed orders a single run"),
        (["--shard", "1/2", "--repeat", "2"], "--shard and --repeat cannot be combined"),
    ],
)
def test_options_that_do_not_go_together_stop_before_any_test_runs(throwaway, args, message):
    throwaway.spec("mod", suites=["suites/tests/test_ops.py"])
    done = throwaway.harness("run", "mod", *args)
    assert done.exit_code == 2 and message in done.output
    assert not (throwaway.root / "reports").exists()
    check = throwaway.harness("check", "mod", "--repeat", "2")
    assert check.exit_code == 2 and "go with --run" in check.output


def test_trace_yml_holds_each_unstable_files_range_as_plain_yaml(repeated):
    project, _, _ = repeated
    events = yaml.safe_load((project.root / "trace.yml").read_text())
    finished = next(e for e in events if e["event"] == "run_finished")
    assert finished["stability"]["unstable_files"] == {
        planted.RACE_FILE: [
            project.result("mod")["stability"]["unstable_files"][0]["low"],
            project.result("mod")["stability"]["unstable_files"][0]["high"],
        ]
    }
