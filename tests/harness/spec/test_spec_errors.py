"""Every spec error stops before any test runs: exit 2, one or two lines naming the file and key."""

import pytest

GOOD = "id: mod-a\ntitle: A\nsource: calc\nsuites: [suites/tests/test_ops.py]\n"

CASES = {
    "bad_yaml": (GOOD + "targets: {calc/ops.py: [\n", "not valid YAML at line"),
    "unknown_key": (GOOD + "stretchy: 95\n", "stretchy: unknown key"),
    "duplicate_key": (
        GOOD + "overall: 50\noverall: 60\n",
        "not valid YAML at line 6: duplicate key 'overall'",
    ),
    "unknown_target_key": (
        GOOD + "targets: {calc/ops.py: {percent: 50, lins: 3}}\n",
        "targets['calc/ops.py'].lins: unknown key",
    ),
    "unknown_suite_key": (
        GOOD.replace("[suites/tests/test_ops.py]", "[{path: suites/tests/test_ops.py, mark: x}]"),
        "suites[1].mark: unknown key",
    ),
    "target_matches_nothing": (
        GOOD + "targets: {calc/nothing.py: 50}\n",
        "targets: 'calc/nothing.py' matches no measured file",
    ),
    "glob_matches_nothing": (
        GOOD + "targets: {'lib/*.py': 50}\n",
        "targets: 'lib/*.py' matches no measured file",
    ),
    "step_target_matches_nothing": (
        GOOD + "steps: [{name: S, targets: {calc/x.py: 5}}]\n",
        "steps[1].targets: 'calc/x.py' matches no measured file",
    ),
    "percent_above_100": (
        GOOD + "targets: {calc/ops.py: 101}\n",
        "targets['calc/ops.py']: 101 is outside 0-100",
    ),
    "percent_below_0": (
        GOOD + "targets: {calc/ops.py: {branches: -1}}\n",
        "targets['calc/ops.py'].branches: -1 is outside 0-100",
    ),
    "overall_not_a_number": (GOOD + "overall: lots\n", "overall: expected a percent number"),
    "stretch_above_100": (GOOD + "stretch: 150\n", "stretch: 150 is outside 0-100"),
    "baseline_missing_module": (
        GOOD + "baseline: {module: mod-zzz}\n",
        "baseline.module: module 'mod-zzz' does not exist",
    ),
    "carry_forward_missing_module": (
        GOOD + "carry_forward: {from: mod-zzz}\n",
        "carry_forward.from: module 'mod-zzz' does not exist",
    ),
    "missing_id": ("title: A\nsource: calc\nsuites: [x]\n", "id: required key is missing"),
    "missing_suite_file": (
        GOOD.replace("test_ops.py", "test_gone.py"),
        "suites: 'suites/tests/test_gone.py' does not exist",
    ),
    "missing_source": (
        GOOD.replace("source: calc", "source: nowhere"),
        "source: 'nowhere' is neither a directory under",
    ),
    "no_suites": ("id: mod-a\ntitle: A\nsource: calc\n", "suites: no suites to run"),
    "not_a_mapping": ("- just\n- a list\n", "expected a mapping of keys at the top level"),
    "stability_not_a_mapping": (GOOD + "stability: warn\n", "stability: expected a mapping"),
    "stability_unknown_key": (GOOD + "stability: {retries: 2}\n", "stability.retries: unknown key"),
    "stability_flaky_word": (
        GOOD + "stability: {flaky: maybe}\n",
        "stability.flaky: expected warn or fail, got 'maybe'",
    ),
    "stability_quarantine_without_reason": (
        GOOD + "stability: {quarantine: [{test: 'suites/tests/test_ops.py::test_add'}]}\n",
        "stability.quarantine[1].reason: expected a non-empty string",
    ),
    "stability_quarantine_not_a_list": (
        GOOD + "stability: {quarantine: suites/tests/test_ops.py}\n",
        "stability.quarantine: expected a list of {test: <node id or glob>, reason: <text>}",
    ),
    "stability_quarantine_unknown_key": (
        GOOD + "stability: {quarantine: [{test: x, reason: y, until: z}]}\n",
        "stability.quarantine[1].until: unknown key",
    ),
    "stability_reruns_negative": (
        GOOD + "stability: {reruns: -1}\n",
        "stability.reruns: expected a whole number of at least 0, got -1",
    ),
    "stability_repeat_zero": (
        GOOD + "stability: {repeat: 0}\n",
        "stability.repeat: expected a whole number of at least 1, got 0",
    ),
    "stability_shuffle_word": (
        GOOD + "stability: {shuffle: sometimes}\n",
        "stability.shuffle: expected true or false",
    ),
}


def _assert_stopped(project, outcome, *fragments):
    assert outcome.exit_code == 2
    lines = outcome.output.strip().splitlines()
    assert 1 <= len(lines) <= 2, outcome.output
    for fragment in fragments:
        assert fragment in outcome.output
    assert "Traceback" not in outcome.output
    assert not (project.root / "reports").exists() and not (project.root / "trace.yml").exists()


@pytest.mark.parametrize("case", sorted(CASES))
def test_spec_error_stops_before_tests(throwaway, case):
    text, fragment = CASES[case]
    spec = throwaway.write("suites/mod-a/module.yml", text)
    ref = str(spec) if case in ("missing_id", "not_a_mapping") else "mod-a"
    outcome = throwaway.harness("run", ref)
    _assert_stopped(throwaway, outcome, str(spec), fragment)


def test_cycle_of_baselines(throwaway):
    throwaway.write("suites/mod-a/module.yml", GOOD + "baseline: {module: mod-b}\n")
    throwaway.write("suites/mod-b/module.yml", GOOD.replace("mod-a", "mod-b") + "baseline: {module: mod-c}\n")
    throwaway.write("suites/mod-c/module.yml", GOOD.replace("mod-a", "mod-c") + "baseline: mod-a\n")
    outcome = throwaway.harness("run", "mod-a")
    _assert_stopped(
        throwaway, outcome, "baseline.module: cycle of baselines mod-a -> mod-b -> mod-c -> mod-a"
    )


def test_unknown_key_in_tool_harness(throwaway):
    throwaway.write(
        "pyproject.toml", throwaway.root.joinpath("pyproject.toml").read_text() + "[tool.harness]\nspec = 1\n"
    )
    throwaway.write("suites/mod-a/module.yml", GOOD)
    outcome = throwaway.harness("run", "mod-a")
    _assert_stopped(throwaway, outcome, "pyproject.toml: [tool.harness]: unknown key 'spec'")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["run", "nope"], "no module 'nope'"),
        (["run", "suites/none/module.yml"], "no such spec file"),
        (["run", "mod-a", "--shard", "3/2"], "K must be between 1 and N"),
        (["run", "mod-a", "--shard", "x"], "expected K/N"),
        (["run", "mod-a", "--step", "4"], "mod-a has no steps; --step 4 does not exist"),
        (["check", "mod-a"], "module 'mod-a' has no stored result"),
        (["report", "mod-a"], "no stored result"),
        (["accept", "mod-a", "--rationale", "why"], "no stored result"),
        (["diff", "mod-a", "missing.json"], "no stored result"),
        (["combine", "mod-a"], "no finished shards of mod-a"),
    ],
)
def test_usage_and_data_errors_exit_2(throwaway, args, fragment):
    throwaway.write("suites/mod-a/module.yml", GOOD)
    outcome = throwaway.harness(*args)
    assert outcome.exit_code == 2, outcome.output
    assert fragment in outcome.output and "Traceback" not in outcome.output
    assert len(outcome.output.strip().splitlines()) <= 2


def test_list_reports_invalid_specs_with_exit_2(throwaway):
    throwaway.write("suites/mod-a/module.yml", GOOD)
    throwaway.write("suites/mod-b/module.yml", GOOD.replace("mod-a", "mod-b") + "colour: red\n")
    outcome = throwaway.harness("list")
    assert outcome.exit_code == 2
    head, row = outcome.stdout.splitlines()
    assert head.split() == ["Module", "Status", "Coverage", "Date", "Title"]
    assert row.startswith("mod-a ") and "not run yet" in row
    assert "suites/mod-b/module.yml: colour: unknown key" in outcome.stderr


def test_no_project_root_is_a_usage_error(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from harness.cli import main

    monkeypatch.chdir(tmp_path)
    outcome = CliRunner().invoke(main, ["list"])
    assert outcome.exit_code == 2 and "Error: no project root at or above" in outcome.output
