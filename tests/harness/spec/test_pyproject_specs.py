"""Module specs kept in pyproject.toml (`[tool.harness.modules.<id>]`): same keys, checks and messages."""

import pytest

from harness.spec.parse import spec_from_table

MODULE = """
[tool.harness.modules.calc-core]
title = "Calc core"
source = "calc"
suites = ["suites/tests/test_ops.py", "suites/tests/test_box.py"]
targets = {"calc/ops.py" = 50}
overall = 40
"""


def _pyproject(project, extra: str) -> None:
    path = project.root / "pyproject.toml"
    path.write_text(path.read_text(encoding="utf-8") + extra, encoding="utf-8")


def test_a_pyproject_module_runs_and_links_its_spec(throwaway):
    _pyproject(throwaway, MODULE)
    assert "calc-core" in throwaway.harness("list").output
    outcome = throwaway.harness("run", "calc-core")
    assert outcome.exit_code == 0, outcome.output
    result = throwaway.result("calc-core")
    assert result["status"] == "complete"
    assert result["spec"] == "../../pyproject.toml"
    assert "[module spec](../../pyproject.toml)" in result["artifacts"]


def test_only_the_modules_own_table_makes_a_result_stale(throwaway):
    _pyproject(throwaway, MODULE)
    assert throwaway.harness("run", "calc-core").exit_code == 0
    _pyproject(throwaway, '\n[tool.other]\nanything = "changed"\n')
    fresh = throwaway.harness("check", "calc-core")
    assert fresh.exit_code == 0 and "changed after this result" not in fresh.output
    text = (throwaway.root / "pyproject.toml").read_text(encoding="utf-8")
    (throwaway.root / "pyproject.toml").write_text(text.replace("overall = 40", "overall = 41"))
    stale = throwaway.harness("check", "calc-core")
    assert "[tool.harness.modules.calc-core] changed after this result was recorded" in stale.output


def test_same_parser_as_module_yml(tmp_path):
    table = {"title": "T", "source": ["calc"], "suites": ["t.py"], "targets": {"calc/*.py": 60}}
    spec = spec_from_table(tmp_path / "pyproject.toml", "calc-core", table)
    assert (spec.id, spec.source, spec.targets[0].pattern, spec.targets[0].percent) == (
        "calc-core",
        ("calc",),
        "calc/*.py",
        60.0,
    )
    assert str(spec.path) == f"{tmp_path / 'pyproject.toml'}: [tool.harness.modules.calc-core]"


ERRORS = {
    "unknown_key": ("stretchy = 3", "[tool.harness.modules.calc-core]: stretchy: unknown key (allowed:"),
    "percent": (
        'targets = {"calc/ops.py" = 101}',
        "[tool.harness.modules.calc-core]: targets['calc/ops.py']: 101 is outside 0-100",
    ),
    "id_disagrees": (
        'id = "other"',
        "[tool.harness.modules.calc-core]: id: 'other' does not agree with the table name 'calc-core'",
    ),
    "suite_missing": (
        'suites = ["suites/tests/test_gone.py"]',
        "[tool.harness.modules.calc-core]: suites: 'suites/tests/test_gone.py' does not exist",
    ),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_errors_name_pyproject_table_and_key(throwaway, case):
    line, fragment = ERRORS[case]
    base = '\n[tool.harness.modules.calc-core]\ntitle = "T"\nsource = "calc"\n'
    suites = "" if line.startswith("suites") else 'suites = ["suites/tests/test_ops.py"]\n'
    _pyproject(throwaway, base + suites + line + "\n")
    for args in (("run", "calc-core"), ("list",)):
        outcome = throwaway.harness(*args)
        assert outcome.exit_code == 2
        assert f"{throwaway.root / 'pyproject.toml'}: {fragment}" in outcome.output
    assert not (throwaway.root / "trace.yml").exists()


def test_an_id_that_toml_must_quote_is_named_quoted(throwaway):
    _pyproject(throwaway, '\n[tool.harness.modules."module-6.7"]\ntitle = "T"\nsource = "calc"\n')
    outcome = throwaway.harness("run", "module-6.7")
    assert outcome.exit_code == 2
    assert '[tool.harness.modules."module-6.7"]: suites: no suites to run' in outcome.output


def test_modules_must_be_tables(throwaway):
    _pyproject(throwaway, '\n[tool.harness]\nmodules = "calc"\n')
    outcome = throwaway.harness("list")
    assert outcome.exit_code == 2
    assert "[tool.harness] modules: expected [tool.harness.modules.<id>]" in outcome.output


def test_a_module_that_is_not_a_table(throwaway):
    _pyproject(throwaway, '\n[tool.harness.modules]\ncalc-core = "calc"\n')
    outcome = throwaway.harness("list")
    assert outcome.exit_code == 2
    assert "[tool.harness.modules.calc-core]: expected a table of keys" in outcome.output


def test_an_id_in_both_a_yml_file_and_pyproject_is_an_error_naming_both(throwaway):
    _pyproject(throwaway, MODULE)
    yml = throwaway.spec("calc-core", suites=["suites/tests/test_ops.py"])
    table = f"{throwaway.root / 'pyproject.toml'}: [tool.harness.modules.calc-core]"
    both = f"{table}: id: 'calc-core' is also the id of {yml}"
    for args in (("run", "calc-core"), ("list",)):
        outcome = throwaway.harness(*args)
        assert outcome.exit_code == 2
        assert both in outcome.output


def test_a_pyproject_module_is_named_by_its_id_not_the_files_path(throwaway):
    _pyproject(throwaway, MODULE)
    outcome = throwaway.harness("run", str(throwaway.root / "pyproject.toml"))
    assert outcome.exit_code == 2
    assert "pyproject.toml: name a module kept in pyproject.toml by its id" in outcome.output
