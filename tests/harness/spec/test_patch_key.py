"""The `patch:` and `record_tests:` spec keys: parsed into the spec, validated like every other key."""

import pytest

from harness.spec.model import PatchTarget
from harness.spec.parse import load_spec, spec_from_table

GOOD = "id: mod-a\ntitle: A\nsource: calc\nsuites: [suites/tests/test_ops.py]\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("patch: {coverage: 90, branches: 80, mutation: 75.5}", PatchTarget(90.0, 80.0, 75.5)),
        ("patch: {coverage: 90, warn_only: true}", PatchTarget(coverage=90.0, warn_only=True)),
        ("patch: {mutation: 0}", PatchTarget(mutation=0.0)),
        ("patch: {}", PatchTarget()),
        ("patch:", PatchTarget()),
    ],
)
def test_patch_targets_are_read_each_optional(tmp_path, text, expected):
    path = tmp_path / "module.yml"
    path.write_text(GOOD + text + "\n", encoding="utf-8")
    assert load_spec(path).patch == expected


def test_without_the_keys_nothing_is_asked(tmp_path):
    path = tmp_path / "module.yml"
    path.write_text(GOOD, encoding="utf-8")
    spec = load_spec(path)
    assert spec.patch is None and spec.record_tests is False


def test_a_pyproject_table_takes_the_same_keys(tmp_path):
    table = {"title": "A", "source": "calc", "suites": ["t"], "patch": {"branches": 70}, "record_tests": True}
    spec = spec_from_table(tmp_path / "pyproject.toml", "mod-a", table)
    assert spec.patch == PatchTarget(branches=70.0) and spec.record_tests is True


ERRORS = {
    "not_a_mapping": ("patch: 90", "patch: expected a mapping of coverage, branches, mutation, warn_only"),
    "unknown_key": ("patch: {lines: 90}", "patch.lines: unknown key (allowed: branches, coverage, mutation"),
    "above_100": ("patch: {coverage: 120}", "patch.coverage: 120 is outside 0-100"),
    "not_a_number": ("patch: {mutation: high}", "patch.mutation: expected a percent number, got 'high'"),
    "a_bool_is_no_percent": ("patch: {branches: true}", "patch.branches: expected a percent number"),
    "warn_only_not_a_bool": ("patch: {warn_only: maybe}", "patch.warn_only: expected true or false"),
    "record_tests_not_a_bool": ("record_tests: 1", "record_tests: expected true or false"),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_a_wrong_patch_key_stops_the_run_naming_file_and_key(throwaway, case):
    text, fragment = ERRORS[case]
    spec = throwaway.write("suites/mod-a/module.yml", GOOD + text + "\n")
    outcome = throwaway.harness("run", "mod-a")
    assert outcome.exit_code == 2
    assert f"{spec}: {fragment}" in outcome.output, outcome.output
    assert len(outcome.output.strip().splitlines()) <= 2 and "Traceback" not in outcome.output
    assert not (throwaway.root / "reports").exists()
