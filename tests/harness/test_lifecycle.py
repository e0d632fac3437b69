"""Baselines, acceptance, carry-forward, steps, shards, check, report, diff, list on a throwaway project."""

import json

import pytest

OPS = "calc/ops.py"
OPS_SUITE = "suites/tests/test_ops.py"
BOX_SUITE = "suites/tests/test_box.py"


@pytest.fixture
def accepted(throwaway):
    """mod-a misses its targets and the lead accepts the variance."""
    throwaway.spec("mod-a", suites=[OPS_SUITE], targets={OPS: 90}, overall=80)
    assert throwaway.harness("run", "mod-a").exit_code == 1
    outcome = throwaway.harness("accept", "mod-a", "--rationale", "Core paths covered; Box moves to mod-b.")
    assert outcome.exit_code == 0, outcome.output
    return throwaway, outcome


def test_accept_records_rationale_and_carry_forward(accepted):
    project, outcome = accepted
    assert outcome.output.splitlines() == [
        "mod-a: Complete with Documented Variance; 2 carry-forward item(s):",
        "  calc/ops.py: 50.0% -> target 90%",
        "  overall: 50.0% -> target 80%",
    ]
    events = project.trace()
    assert [e["event"] for e in events] == [
        "run_started",
        "run_finished",
        "variance_accepted",
        "carry_forward_created",
    ]
    assert events[2]["rationale"] == "Core paths covered; Box moves to mod-b."
    assert events[2]["accepted"] == [OPS, "overall"]
    assert [i["file"] for i in events[3]["items"]] == [OPS, "overall"]
    result = project.result("mod-a")
    assert result["status"] == "complete_with_variance"
    assert result["carry_forward"][0]["functions"] == ["sign", "Box.get", "Box.put"]
    report = (project.root / "reports/mod-a/COMPLETION_STATUS.md").read_text()
    assert "**Status**: ✅ Complete with Documented Variance" in report
    assert "**Rationale**: Core paths covered; Box moves to mod-b." in report
    assert "1. **`calc/ops.py`** (50.0% → ≥90% target)" in report
    assert (
        "| mod-a | Title of mod-a | ✅ Complete with Documented Variance |"
        in (project.root / "MAP.md").read_text()
    )


def test_rerun_after_acceptance_keeps_variance_and_check_passes(accepted):
    project, _ = accepted
    assert project.harness("run", "mod-a").exit_code == 0
    assert project.result("mod-a")["status"] == "complete_with_variance"
    assert [i["file"] for i in project.result("mod-a")["carry_forward"]] == [OPS, "overall"]
    check = project.harness("check", "mod-a")
    assert check.exit_code == 0
    assert check.output.splitlines() == [
        "calc/ops.py: 50.00% < target 90% (accepted variance)",
        "overall: 50.00% < target 80% (accepted variance)",
        "mod-a: Complete with Documented Variance",
    ]


def test_acceptance_does_not_cover_a_new_shortfall(accepted):
    project, _ = accepted
    project.spec("mod-a", suites=[OPS_SUITE], targets={OPS: 90, "calc/__init__.py": 100}, overall=80)
    project.write("calc/__init__.py", "X = 1\nif X > 5:\n    X = 2\n")
    assert project.harness("run", "mod-a").exit_code == 1
    assert project.result("mod-a")["status"] == "in_progress"


def test_later_module_takes_over_carry_forward_as_targets(accepted):
    project, _ = accepted
    project.spec(
        "mod-b", suites=[OPS_SUITE, BOX_SUITE], baseline={"module": "mod-a"}, carry_forward={"from": "mod-a"}
    )
    outcome = project.harness("run", "mod-b")
    result = project.result("mod-b")
    ops = result["files"][OPS]
    assert ops["target"] == 90 and ops["checks"][0]["origin"] == "carried from mod-a"
    assert ops["baseline"] == project.result("mod-a")["files"][OPS]["percent"]
    assert ops["delta"] == ops["percent"] - ops["baseline"]
    assert result["overall"]["baseline"] == project.result("mod-a")["overall"]["percent"]
    assert outcome.exit_code == (0 if ops["percent"] >= 90 else 1)
    report = (project.root / "reports/mod-b/COMPLETION_STATUS.md").read_text()
    assert "## Carried Forward from mod-a" in report
    assert "Baseline: module `mod-a`'s recorded result." in report


def test_own_target_overrides_a_carried_item(accepted):
    project, _ = accepted
    project.spec("mod-b", suites=[BOX_SUITE], targets={OPS: 10}, carry_forward={"from": "mod-a"})
    assert project.harness("run", "mod-b").exit_code == 1
    result = project.result("mod-b")
    assert result["files"][OPS]["checks"][0]["origin"] == "targets" and result["files"][OPS]["met"] is True
    # mod-b names no overall target of its own, so mod-a's unmet overall item becomes it.
    assert result["overall"]["checks"][0]["origin"] == "carried from mod-a"
    assert (result["overall"]["target"], result["unmet"]) == (80, ["overall"])


def test_accept_refuses_failed_and_complete_results(throwaway):
    throwaway.spec("mod-a", suites=[BOX_SUITE])
    throwaway.harness("run", "mod-a")
    outcome = throwaway.harness("accept", "mod-a", "--rationale", "x")
    assert outcome.exit_code == 2 and "every target is met; there is no variance to accept" in outcome.output
    throwaway.write("suites/tests/test_box.py", "def test_no():\n    assert False\n")
    throwaway.harness("run", "mod-a")
    outcome = throwaway.harness("accept", "mod-a", "--rationale", "x")
    assert outcome.exit_code == 2 and "cannot accept a Failed result" in outcome.output


def test_baseline_module_without_result_is_a_data_error(throwaway):
    throwaway.spec("mod-a", suites=[OPS_SUITE])
    throwaway.spec("mod-b", suites=[OPS_SUITE], baseline={"module": "mod-a"})
    outcome = throwaway.harness("run", "mod-b")
    assert outcome.exit_code == 2
    assert (
        "module 'mod-a' has no stored result (it is this module's baseline); run `harness run mod-a` first"
        in outcome.output
    )


def test_baseline_from_suites_is_measured_once(throwaway):
    throwaway.spec(
        "mod-a", suites=[OPS_SUITE, BOX_SUITE], baseline={"suites": [BOX_SUITE]}, targets={OPS: 50}
    )
    first = throwaway.harness("run", "mod-a")
    assert "Measuring the baseline of mod-a from 1 suite(s)" in first.output
    cached = json.loads((throwaway.root / "reports/mod-a/baseline.json").read_text())
    assert cached["suites"] == [BOX_SUITE]
    result = throwaway.result("mod-a")
    assert result["files"][OPS]["baseline"] == cached["files"][OPS] < result["files"][OPS]["percent"]
    second = throwaway.harness("run", "mod-a")
    assert "Measuring the baseline" not in second.output
    third = throwaway.harness("run", "mod-a", "--rebaseline")
    assert "Measuring the baseline" in third.output


def test_steps_table_and_step_run(throwaway):
    throwaway.spec(
        "mod-a",
        suites=[OPS_SUITE],
        steps=[
            {"name": "Box", "suites": [BOX_SUITE], "targets": {OPS: {"percent": 99, "lines": 50}}},
            {"name": "Nothing yet", "suites": []},
        ],
    )
    assert throwaway.harness("run", "mod-a").exit_code == 1
    steps = throwaway.result("mod-a")["steps"]
    assert [(s["number"], s["name"], s["met"]) for s in steps] == [
        (1, "Box", False),
        (2, "Nothing yet", True),
    ]
    assert steps[0]["rows"][0]["short"] == [
        {"metric": "percent", "figure": steps[0]["rows"][0]["percent"], "target": 99}
    ]
    report = (throwaway.root / "reports/mod-a/COMPLETION_STATUS.md").read_text()
    assert (  # no baseline, so no Baseline column
        "| Step | File | Target | Achieved | Status |" in report
        and "| 1. Box | `calc/ops.py` | 99% |" in report
        and "| 2. Nothing yet | — | — | — | no targets |" in report
    )
    step = throwaway.harness("run", "mod-a", "--step", "1")
    stored = json.loads((throwaway.root / "reports/mod-a/steps/1/results.json").read_text())
    assert stored["step"] == {"number": 1, "name": "Box"} and stored["tests"]["passed"] == 1
    assert step.exit_code == 1 and "Report: reports/mod-a/steps/1/COMPLETION_STATUS.md" in step.output


def test_steps_report_what_their_own_suites_reach(throwaway):
    """A step's figures come from its own tests' contexts and equal a run of that step alone."""
    throwaway.spec(
        "mod-a",
        suites=[OPS_SUITE],
        steps=[
            {"name": "Box", "suites": [BOX_SUITE], "targets": {OPS: {"lines": 30}}},
            {"name": "Ops", "suites": [OPS_SUITE], "targets": {OPS: 40}},
        ],
    )
    assert throwaway.harness("run", "mod-a").exit_code == 0
    whole = throwaway.result("mod-a")
    box, ops = (s["rows"][0] for s in whole["steps"])
    assert (box["metric"], ops["metric"]) == ("lines", "percent")
    assert box["percent"] < whole["files"][OPS]["lines_percent"]
    for number, row, key in ((1, box, "lines_percent"), (2, ops, "percent")):
        assert throwaway.harness("run", "mod-a", "--step", str(number)).exit_code == 0
        alone = json.loads((throwaway.root / f"reports/mod-a/steps/{number}/results.json").read_text())
        assert row["percent"] == alone["files"][OPS][key]
    report = (throwaway.root / "reports/mod-a/COMPLETION_STATUS.md").read_text()
    assert f"| 1. Box | `calc/ops.py` | lines 30% | **{box['percent']:.1f}%** | ✅ met |" in report


def test_shards_combine_to_the_unsharded_result(throwaway):
    throwaway.spec("mod-a", suites=[OPS_SUITE, BOX_SUITE])
    throwaway.harness("run", "mod-a")
    whole = throwaway.result("mod-a")
    for k in ("1/2", "2/2"):
        outcome = throwaway.harness("run", "mod-a", "--shard", k)
        assert outcome.exit_code == 0 and f"Shard {k} stored" in outcome.output
    assert throwaway.harness("combine").exit_code == 0
    combined = throwaway.result("mod-a")
    assert combined["shards"] == 2
    assert combined["tests"] == whole["tests"]
    assert {p: f["percent"] for p, f in combined["files"].items()} == {
        p: f["percent"] for p, f in whole["files"].items()
    }
    assert combined["files"][OPS]["missing"] == whole["files"][OPS]["missing"]
    assert not (throwaway.root / "reports/mod-a/.work/shards").exists()


def test_combine_needs_every_shard(throwaway):
    throwaway.spec("mod-a", suites=[OPS_SUITE, BOX_SUITE])
    throwaway.harness("run", "mod-a", "--shard", "2/3")
    outcome = throwaway.harness("combine", "mod-a")
    assert outcome.exit_code == 2 and "mod-a: shard(s) 1/3, 3/3 not finished yet" in outcome.output


def test_workers_give_the_same_figures(throwaway):
    throwaway.spec("mod-a", suites=[OPS_SUITE, BOX_SUITE])
    throwaway.harness("run", "mod-a")
    serial = throwaway.result("mod-a")
    assert throwaway.harness("run", "mod-a", "--workers", "2").exit_code == 0
    parallel = throwaway.result("mod-a")
    assert parallel["options"]["workers"] == 2
    assert parallel["tests"] == serial["tests"]
    assert parallel["files"][OPS]["percent"] == serial["files"][OPS]["percent"]


def test_check_writes_github_step_summary(throwaway, monkeypatch, tmp_path):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    throwaway.spec("mod-a", suites=[OPS_SUITE], targets={OPS: 90, "calc/__init__.py": 10})
    throwaway.harness("run", "mod-a")
    outcome = throwaway.harness("check", "mod-a")
    assert outcome.exit_code == 1
    assert outcome.output.splitlines() == ["calc/ops.py: 50.00% < target 90%", "mod-a: In Progress"]
    text = summary.read_text()
    assert text.startswith("earlier step\n### mod-a: 🔄 In Progress\n")
    assert "| `calc/ops.py` | 50.0% | 90% | ❌ below |" in text


def test_check_annotates_and_writes_a_pr_comment(throwaway, monkeypatch, tmp_path):
    throwaway.spec("mod-a", suites=[OPS_SUITE], targets={OPS: 90})
    throwaway.harness("run", "mod-a")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    comment = tmp_path / "comment.md"
    outcome = throwaway.harness("check", "mod-a", "--comment", str(comment))
    assert outcome.exit_code == 1
    assert (
        "::error file=calc/ops.py,line=11,title=Coverage below target::"
        "calc/ops.py: Coverage 50.00%25 < target 90%25 (module target)"
    ) in outcome.output.splitlines()
    assert comment.read_text().startswith("### mod-a: 🔄 In Progress\n")
    assert "| `calc/ops.py` | 50.0% | 90% | ❌ below |" in comment.read_text()
    quiet = throwaway.harness("check", "mod-a", "--no-annotations")
    assert "::error" not in quiet.output


def test_check_run_runs_first(throwaway):
    throwaway.spec("mod-a", suites=[BOX_SUITE])
    outcome = throwaway.harness("check", "mod-a", "--run")
    assert outcome.exit_code == 0 and outcome.output.rstrip().endswith("mod-a: Complete")


def test_report_rerenders_from_stored_result(throwaway):
    throwaway.spec("mod-a", suites=[OPS_SUITE])
    throwaway.harness("run", "mod-a")
    report = throwaway.root / "reports/mod-a/COMPLETION_STATUS.md"
    original = report.read_text()
    report.write_text("edited by hand")
    (throwaway.root / "MAP.md").unlink()
    outcome = throwaway.harness("report", "mod-a")
    assert outcome.exit_code == 0 and outcome.output == "reports/mod-a/COMPLETION_STATUS.md: Complete\n"
    assert report.read_text() == original
    assert "| mod-a |" in (throwaway.root / "MAP.md").read_text()


def test_diff_modules_and_result_files(throwaway):
    throwaway.spec("mod-a", suites=[BOX_SUITE])
    throwaway.spec("mod-b", suites=[OPS_SUITE, BOX_SUITE])
    throwaway.harness("run", "mod-a")
    throwaway.harness("run", "mod-b")
    a, b = throwaway.result("mod-a"), throwaway.result("mod-b")
    outcome = throwaway.harness("diff", "mod-a", str(throwaway.root / "reports/mod-b/results.json"), "--json")
    data = json.loads(outcome.output)
    assert data["files"][OPS] == {
        "a": a["files"][OPS]["percent"],
        "b": b["files"][OPS]["percent"],
        "delta": b["files"][OPS]["percent"] - a["files"][OPS]["percent"],
    }
    text = throwaway.harness("diff", "mod-a", "mod-b").output.splitlines()
    assert text[0].split() == ["File", "mod-a", "mod-b", "Δ"]
    assert text[-1].split()[0] == "Overall" and len(text) == 4


def test_list_shows_last_status(throwaway):
    throwaway.spec("mod-a", suites=[BOX_SUITE])
    throwaway.spec("mod-b", suites=[BOX_SUITE])
    throwaway.harness("run", "mod-b")
    head, *lines = throwaway.harness("list").output.splitlines()
    assert head.split() == ["Module", "Status", "Coverage", "Date", "Title"]
    assert lines[0].split()[:4] == ["mod-a", "not", "run", "yet"]
    percent = throwaway.result("mod-b")["overall"]["percent"]
    assert lines[1].split()[:3] == ["mod-b", "Complete", f"{percent:.1f}%"]
    assert lines[1].rstrip().endswith("Title of mod-b")


def test_check_warns_when_the_spec_changed_since_the_result(throwaway):
    spec = throwaway.spec("mod-a", suites=[BOX_SUITE])
    throwaway.harness("run", "mod-a")
    assert throwaway.harness("check", "mod-a").stderr == ""
    spec.write_text(spec.read_text() + "stretch: 90\n")
    outcome = throwaway.harness("check", "mod-a")
    assert outcome.exit_code == 0
    assert outcome.stderr.startswith(f"warning: {spec} changed after this result was recorded")


def test_shards_leave_the_baseline_to_combine(throwaway):
    throwaway.spec("mod-a", suites=[OPS_SUITE, BOX_SUITE], baseline={"suites": [BOX_SUITE]})
    for k in ("1/2", "2/2"):
        assert "Measuring the baseline" not in throwaway.harness("run", "mod-a", "--shard", k).output
    combined = throwaway.harness("combine", "mod-a")
    assert "Measuring the baseline of mod-a" in combined.output
    assert throwaway.result("mod-a")["files"][OPS]["baseline"] is not None


def test_carry_forward_from_an_unaccepted_module_says_so(throwaway):
    throwaway.spec("mod-a", suites=[BOX_SUITE])
    throwaway.spec("mod-b", suites=[BOX_SUITE], carry_forward={"from": "mod-a"})
    throwaway.harness("run", "mod-a")
    outcome = throwaway.harness("run", "mod-b")
    assert outcome.output.startswith(
        "Note: mod-a has no carry-forward items (it was not accepted with variance)"
    )
    assert throwaway.result("mod-b")["carried_in"] == []


def test_diff_of_two_results_of_one_module_names_its_columns_by_what_was_given(throwaway):
    throwaway.spec("mod-a", suites=[BOX_SUITE, OPS_SUITE])
    throwaway.harness("run", "mod-a")
    earlier = throwaway.root / "earlier.json"
    earlier.write_bytes((throwaway.root / "reports/mod-a/results.json").read_bytes())
    head = throwaway.harness("diff", str(earlier), "mod-a").output.splitlines()[0]
    assert head.split()[1:3] == [str(earlier), "mod-a"]
