"""Repetitions read back from real sessions: outcomes and order from the records, lines and branches from the
coverage data, and the repetitions' data merged into what one combined run gives."""

import json

import pytest

from harness.errors import DataError
from harness.measure import coverage
from harness.measure.repetitions import (
    Repetition,
    lowest_step_files,
    lowest_totals,
    merge,
    plain,
    read_repetition,
    read_tests,
)
from harness.run.env import SHUFFLE_ENV
from harness.run.order import order_env, shuffled
from harness.run.session import RunOptions, run_session
from harness.spec.model import Suite

OPS, BOX = "suites/tests/test_ops.py", "suites/tests/test_box.py"


def _read(project, number, session) -> Repetition:
    """Repetition `number` of `session`, its JSON report made beside its data."""
    records, out = [p.records for p in session.processes], session.data_file.parent / "report"
    return read_repetition(number, project.root, records, session.data_file, out)


def _session(project, name, suites, **kwargs):
    return run_session(
        project.root, suites, ("calc",), project.root / ".work" / name, RunOptions(), lambda _: None, **kwargs
    )


@pytest.fixture(scope="module")
def sessions(shared_throwaway):
    """Each suite file alone (two repetitions of different tests), both together, and a shuffled one."""
    project = shared_throwaway
    return {
        "ops": _session(project, "ops", [Suite(OPS)]),
        "box": _session(project, "box", [Suite(BOX)]),
        # Two selections: two pytest processes appending to one data file, as `harness run` does.
        "both": _session(project, "both", [Suite(OPS, k="add or Sign"), Suite(BOX, k="put")]),
        "shuffled": _session(project, "shuffled", [Suite("suites/tests")], extra_env=order_env(seed=4)),
    }


def test_each_tests_outcome_and_the_order_each_process_ran_them_in(shared_throwaway, sessions):
    tests, order, seed = read_tests([p.records for p in sessions["both"].processes])
    assert {t: (r.outcome, r.process) for t, r in tests.items()} == {
        f"{OPS}::test_add": ("passed", "1"),
        f"{OPS}::TestSign::test_positive": ("passed", "1"),
        f"{OPS}::TestSign::test_negative": ("skipped", "1"),
        f"{BOX}::TestBox::test_put_then_get": ("passed", "2"),
    }
    assert order == {
        "1": (f"{OPS}::test_add", f"{OPS}::TestSign::test_positive", f"{OPS}::TestSign::test_negative"),
        "2": (f"{BOX}::TestBox::test_put_then_get",),
    }
    assert seed is None


def test_a_shuffled_repetition_knows_its_seed_and_what_ran_before_each_test(shared_throwaway, sessions):
    session = sessions["shuffled"]
    rep = _read(shared_throwaway, 3, session)
    assert rep.number == 3 and rep.seed == 4
    (ran,) = rep.order.values()
    assert list(ran) == shuffled(list(ran), 4, nodeid=str)
    assert rep.before(ran[2]) == ran[:2] and rep.before(ran[0]) == () and rep.before("t::nope") == ()


def test_each_files_lines_and_branches_are_coverage_pys_own(shared_throwaway, sessions):
    session = sessions["ops"]
    rep = _read(shared_throwaway, 1, session)
    report = json.loads((session.data_file.parent / "report" / "coverage.json").read_text())
    ops = rep.files["calc/ops.py"]
    raw = report["files"]["calc/ops.py"]
    assert ops.executed == frozenset(raw["executed_lines"])
    assert ops.statements == frozenset(raw["executed_lines"]) | frozenset(raw["missing_lines"])
    assert ops.taken == {tuple(arc) for arc in raw["executed_branches"]}
    assert ops.branches - ops.taken == {tuple(arc) for arc in raw["missing_branches"]}
    assert ops.figures() == {key: coverage.file_figures(report)["calc/ops.py"][key] for key in ops.figures()}
    assert 0 < ops.percent < 100 and ops.branches_percent is not None


def test_merged_repetitions_equal_one_combined_run(shared_throwaway, sessions, tmp_path):
    root = shared_throwaway.root
    merged = merge(root, [sessions["ops"].data_file, sessions["box"].data_file], tmp_path / ".coverage")
    together = _session(shared_throwaway, "together", [Suite(OPS), Suite(BOX)])  # appended in one run
    ours = coverage.json_report(root, merged, tmp_path / "merged")
    theirs = coverage.json_report(root, together.data_file, tmp_path / "together")
    assert ours["files"] == theirs["files"] and ours["totals"] == theirs["totals"]
    assert sessions["ops"].data_file.is_file() and sessions["box"].data_file.is_file()  # kept


def test_a_repetition_without_coverage_data_cannot_be_merged(shared_throwaway, tmp_path):
    with pytest.raises(DataError, match=r"no coverage data from a repetition: .*missing"):
        merge(shared_throwaway.root, [tmp_path / "missing"], tmp_path / ".coverage")


def test_a_damaged_record_is_a_data_error(tmp_path):
    path = tmp_path / "tests-1.jsonl"
    path.write_text(json.dumps({"event": "test", "outcome": "passed"}) + "\n")
    with pytest.raises(DataError, match=r"tests-1\.jsonl: a test record lacks 'nodeid'"):
        read_tests([path])


def test_a_repetition_keeps_the_figures_a_report_shows_of_it(shared_throwaway, sessions):
    session, root = sessions["both"], shared_throwaway.root
    records = [p.records for p in session.processes]
    out = session.data_file.parent / "with-steps"
    rep = read_repetition(1, root, records, session.data_file, out, steps=(1,))
    report = json.loads((out / "coverage.json").read_text())
    assert rep.figures == coverage.file_figures(report) and rep.totals == coverage.totals(report)
    assert rep.step_files == coverage.step_figures(out, [1])
    only_tests = plain(records)
    assert (only_tests.tests, only_tests.files, only_tests.totals) == (rep.tests, {}, None)


def test_the_gate_takes_the_lowest_repetitions_overall_and_each_steps_lowest_figures():
    low, high = {"percent": 50.0, "missed": 4}, {"percent": 75.0, "missed": 2}
    figures = {"percent": 80.0, "lines_percent": 90.0, "branches_percent": 60.0, "missing": "3"}
    other = {"percent": 70.0, "lines_percent": 95.0, "branches_percent": 40.0, "missing": "3-4"}
    reps = [
        Repetition(1, {}, {}, totals=high, step_files={1: {"a.py": figures}}),
        Repetition(2, {}, {}, totals=low, step_files={1: {"a.py": other}, 2: {"a.py": figures}}),
    ]
    assert lowest_totals(reps) == low and lowest_totals([Repetition(1, {}, {})]) is None
    assert lowest_step_files(reps) == {
        # repetition 2's figures (its percent is the lowest), each percent the lowest of any repetition
        1: {"a.py": {"percent": 70.0, "lines_percent": 90.0, "branches_percent": 40.0, "missing": "3-4"}},
        # step 2 reported by one repetition only: the other covered none of it
        2: {"a.py": {"percent": 0.0, "lines_percent": 0.0, "branches_percent": 0.0, "missing": "3"}},
    }


def test_a_seed_in_the_shell_does_not_order_a_run(shared_throwaway, monkeypatch):
    monkeypatch.setenv(SHUFFLE_ENV, "77")  # say, left over from replaying a repetition by hand
    session = _session(shared_throwaway, "shell-seed", [Suite("suites/tests")])
    _, order, seed = read_tests([p.records for p in session.processes])
    (ran,) = order.values()
    assert seed is None and list(ran) != shuffled(list(ran), 77, nodeid=str)
