"""The diff logic on plain data: target resolution, shortfalls, status, carry-forward, step rows, compare."""

import pytest

from harness.evaluate import status as states
from harness.evaluate import targets
from harness.evaluate.compare import compare
from harness.measure.session import failure_reason
from harness.spec.model import Step, Suite, Target

FIG = {"percent": 70.0, "lines_percent": 80.0, "branches_percent": 50.0, "statements": 10, "missed": 2}


def test_exact_path_beats_carried_item_beats_last_glob():
    rules = (Target("a/*.py", 90), Target("a/x.py", 65), Target("a/*", 80))
    carried = (Target("a/y.py", 55, origin="carried from m"),)
    assert targets.resolve("a/x.py", rules, carried).percent == 65
    assert targets.resolve("a/y.py", rules, carried).percent == 55
    assert targets.resolve("a/z.py", rules, carried).percent == 80
    assert targets.resolve("b/z.py", rules, carried) is None


def test_shortfalls_per_metric():
    target = Target("f", percent=60, lines=85, branches=40)
    assert targets.shortfalls(FIG, target) == [{"metric": "lines", "figure": 80.0, "target": 85}]
    assert targets.shortfalls(FIG, Target("f", branches=60)) == [
        {"metric": "branches", "figure": 50.0, "target": 60}
    ]


def test_file_without_branches_meets_a_branch_target():
    assert targets.shortfalls({**FIG, "branches_percent": None}, Target("f", branches=90)) == []


def test_comparison_is_unrounded():
    assert targets.shortfalls({"percent": 64.99}, Target("f", 65)) != []
    assert targets.shortfalls({"percent": 65.0}, Target("f", 65)) == []


def test_evaluate_baseline_delta_and_binding_target():
    entry = targets.evaluate(FIG, [Target("f", 60), Target("f", 75, origin="step 1")], baseline=29.5)
    assert entry["delta"] == pytest.approx(40.5)
    assert entry["target"] == 75
    assert (entry["met"], entry["gating"], entry["gating_met"]) == (False, True, False)
    assert [c["met"] for c in entry["checks"]] == [True, False]


def test_warn_only_target_does_not_gate():
    entry = targets.evaluate(FIG, [Target("f", 90, warn_only=True)], baseline=None)
    assert (entry["met"], entry["gating"], entry["gating_met"], entry["target"]) == (False, False, True, 90)
    assert states.unmet({"f": entry}, None) == []


def test_no_target_means_met_is_none():
    entry = targets.evaluate(FIG, [], None)
    assert (entry["met"], entry["target"], entry["delta"]) == (None, None, None)


def test_step_targets_are_checked_against_the_steps_own_figures():
    steps = (
        Step("one", (Suite("t.py"),), (Target("f.py", 60, origin="step 1"),)),
        Step("two", (Suite("u.py"),), (Target("f.py", lines=50, origin="step 2"),)),
    )
    step_files = {1: {"f.py": {**FIG, "percent": 55.0}}, 2: {"f.py": {**FIG, "lines_percent": 52.0}}}
    files = targets.evaluate_files({"f.py": FIG}, (), (), steps, {}, step_files)
    assert [(c["origin"], c["met"]) for c in files["f.py"]["checks"]] == [("step 1", False), ("step 2", True)]
    assert files["f.py"]["checks"][0]["short"] == [{"metric": "percent", "figure": 55.0, "target": 60}]
    rows = [s["rows"][0] for s in targets.step_rows(steps, files, step_files)]
    assert [(r["metric"], r["percent"], r["target"], r["met"]) for r in rows] == [
        ("percent", 55.0, 60, False),
        ("lines", 52.0, 50, True),
    ]
    assert rows[1]["baseline"] is None  # a lines-only row shows no combined baseline beside its figure


def test_step_targets_gate_the_file_too():
    steps = (Step("one", (Suite("t.py"),), (Target("f.py", 75, origin="step 1"),)),)
    files = targets.evaluate_files({"f.py": FIG}, (Target("f.py", 60),), (), steps, {})
    assert [c["origin"] for c in files["f.py"]["checks"]] == ["targets", "step 1"]
    assert states.unmet(files, None) == ["f.py"]
    rows = targets.step_rows(steps, files)
    assert rows == [
        {
            "number": 1,
            "name": "one",
            "suites": ["t.py"],
            "met": False,
            "rows": [
                {
                    "file": "f.py",
                    "metric": "percent",
                    "baseline": None,
                    "percent": 70.0,
                    "target": 75,
                    "warn_only": False,
                    "met": False,
                    "checks": [files["f.py"]["checks"][1]],
                    "short": [{"metric": "percent", "figure": 70.0, "target": 75}],
                }
            ],
        }
    ]


@pytest.mark.parametrize(
    ("failure", "tests", "unmet", "accepted", "expected"),
    [
        (None, {"failed": 0, "errors": 0}, [], None, "complete"),
        (None, {"failed": 0, "errors": 0}, ["a"], None, "in_progress"),
        (None, {"failed": 0, "errors": 0}, ["a"], ["a", "overall"], "complete_with_variance"),
        (None, {"failed": 0, "errors": 0}, ["a", "b"], ["a"], "in_progress"),
        (None, {"failed": 1, "errors": 0}, [], None, "failed"),
        (None, {"failed": 0, "errors": 1}, [], ["a"], "failed"),
        ("pytest collected no tests", {"failed": 0, "errors": 0}, [], None, "failed"),
    ],
)
def test_status(failure, tests, unmet, accepted, expected):
    assert states.status(failure, tests, unmet, accepted) == expected


@pytest.mark.parametrize(
    ("processes", "tests", "coverage_problem", "expected"),
    [
        (((0, None),), {"passed": 3}, None, None),
        (((1, None),), {"passed": 2, "failed": 1}, None, None),
        # pytest's own explanation of a status 2-4 is the reason
        (((0, None), (4, "ERROR: not found: t::x")), {"passed": 3}, None, "ERROR: not found: t::x"),
        (((-9, "pytest was killed by SIGKILL"),), {"passed": 1}, None, "pytest was killed by SIGKILL"),
        (((3, None),), {"passed": 1}, None, "pytest exited with status 3"),
        # nothing collected breaks the session only when no process ran a test (a shard may select none)
        (((5, "pytest collected no tests (2 deselected)"),), {"passed": 0}, None,
         "pytest collected no tests (2 deselected)"),
        (((0, None), (5, "pytest collected no tests")), {"passed": 3}, None, None),
        (((0, None),), {"passed": 3}, "coverage.py measured nothing", "coverage.py measured nothing"),
    ],
)  # fmt: skip
def test_failure_reason(processes, tests, coverage_problem, expected):
    assert failure_reason(processes, tests, coverage_problem) == expected


def test_carry_forward_items_round_trip_into_targets():
    entry = targets.evaluate(
        {**FIG, "missing": "3-4", "gaps": [{"functions": ["f", "g"]}, {"functions": ["g"]}]},
        [Target("x.py", 85)],
        20.0,
    )
    overall = targets.evaluate({"percent": 50.0}, [Target("overall", 60, origin="overall")], None)
    items = states.carry_forward_items(
        {"x.py": entry, "ok.py": targets.evaluate(FIG, [], None)}, overall, "m1"
    )
    assert items == [
        {
            "file": "x.py",
            "from": "m1",
            "origin": "targets",
            "percent": 70.0,
            "target": {"percent": 85},
            "missing": "3-4",
            "functions": ["f", "g"],
        },
        {
            "file": "overall",
            "from": "m1",
            "origin": "overall",
            "percent": 50.0,
            "target": {"percent": 60},
            "missing": "",
            "functions": [],
        },
    ]
    assert targets.carried_targets(items) == (Target("x.py", 85, origin="carried from m1"),)


def test_compare_two_results():
    a = {
        "module": "a",
        "files": {"x": {"percent": 20.0}, "gone": {"percent": 5.0}},
        "overall": {"percent": 20.0},
    }
    b = {
        "module": "b",
        "files": {"x": {"percent": 50.0}, "new": {"percent": 1.0}},
        "overall": {"percent": 45.0},
    }
    out = compare(a, b)
    assert out["files"] == {
        "gone": {"a": 5.0, "b": None, "delta": None},
        "new": {"a": None, "b": 1.0, "delta": None},
        "x": {"a": 20.0, "b": 50.0, "delta": 30.0},
    }
    assert out["overall"] == {"a": 20.0, "b": 45.0, "delta": 25.0}
