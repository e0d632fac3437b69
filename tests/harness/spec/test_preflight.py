"""Pre-flight: coverage.py's omit/include settings and `source` resolution, checked before tests run."""

import pytest

TARGETED = (
    "id: mod-a\ntitle: A\nsource: calc\nsuites: [suites/tests/test_ops.py]\ntargets: {calc/ops.py: 50}\n"
)

# Each form of coverage configuration coverage.py reads from the project root, and the setting named.
CONFIGS = {
    "pyproject_run_omit": ("pyproject.toml", '\n[tool.coverage.run]\nomit = ["calc/ops.py"]\n', "[run] omit"),
    "coveragerc_report_omit": (".coveragerc", "[report]\nomit = */ops.py\n", "[report] omit"),
    "setup_cfg_report_include": (
        "setup.cfg",
        "[coverage:report]\ninclude = calc/__init__.py\n",
        "[report] include",
    ),
    "tox_ini_run_omit": ("tox.ini", "[coverage:run]\nomit =\n    calc/ops*\n", "[run] omit"),
}


def _append(project, name: str, text: str) -> None:
    path = project.root / name
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    path.write_text(old + text, encoding="utf-8")


@pytest.mark.parametrize("case", sorted(CONFIGS))
def test_target_on_a_file_the_coverage_config_hides(throwaway, case):
    name, text, setting = CONFIGS[case]
    _append(throwaway, name, text)
    spec = throwaway.write("suites/mod-a/module.yml", TARGETED)
    outcome = throwaway.harness("list")
    assert outcome.exit_code == 2
    assert outcome.stderr.strip() == (
        f"invalid spec: {spec}: targets: 'calc/ops.py' names a file the project's coverage configuration"
        f" omits (calc/ops.py: {setting} in {name})"
    )


def test_the_omit_check_stops_run_before_any_event(throwaway):
    _append(throwaway, "pyproject.toml", '\n[tool.coverage.run]\nomit = ["calc/ops.py"]\n')
    throwaway.write("suites/mod-a/module.yml", TARGETED)
    outcome = throwaway.harness("run", "mod-a")
    assert outcome.exit_code == 2
    assert len(outcome.output.strip().splitlines()) == 1
    assert "names a file the project's coverage configuration omits" in outcome.output
    assert not (throwaway.root / "trace.yml").exists() and not (throwaway.root / "reports").exists()


def test_a_glob_still_passes_when_some_of_its_files_are_kept(throwaway):
    throwaway.write("calc/extra.py", "X = 1\n")
    _append(throwaway, "pyproject.toml", '\n[tool.coverage.run]\nomit = ["calc/extra.py"]\n')
    throwaway.spec("mod-a", suites=["suites/tests/test_ops.py"], targets={"calc/*.py": 10})
    assert throwaway.harness("list").exit_code == 0


def test_a_source_whose_every_file_is_omitted(throwaway):
    _append(throwaway, "pyproject.toml", '\n[tool.coverage.run]\nomit = ["calc/*"]\n')
    spec = throwaway.spec("mod-a", suites=["suites/tests/test_ops.py"])
    outcome = throwaway.harness("list")
    assert outcome.exit_code == 2
    assert f"{spec}: source: every .py file of 'calc' is omitted by" in outcome.stderr


SOURCES = {
    "nowhere": "is neither a directory under",
    "calc/ops.py": "is neither a directory under",  # coverage.py takes a file as a module name
    "calc.nothing": "is neither a directory under",
    "docs": "has no .py file to measure",
}


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_a_source_that_matches_nothing(throwaway, source):
    throwaway.write("docs/README.md", "words\n")
    spec = throwaway.spec("mod-a", source=[source], suites=["suites/tests/test_ops.py"])
    for args in (("list",), ("run", "mod-a")):
        outcome = throwaway.harness(*args)
        assert outcome.exit_code == 2
        assert f"{spec}: source: '{source}' {SOURCES[source]}" in outcome.output
    assert "invalid spec (see stderr)" in throwaway.harness("list").stdout
    assert not (throwaway.root / "trace.yml").exists()


def _src_layout(project, pythonpath: bool) -> None:
    project.write("src/srcpkg/__init__.py", "")
    project.write("src/srcpkg/mod.py", "def double(x):\n    return 2 * x\n")
    project.write(
        "suites/src/test_mod.py",
        "from srcpkg import mod\n\n\ndef test_double():\n    assert mod.double(2) == 4\n",
    )
    if pythonpath:
        text = (project.root / "pyproject.toml").read_text(encoding="utf-8")
        text = text.replace(
            "[tool.pytest.ini_options]\n", '[tool.pytest.ini_options]\npythonpath = ["src"]\n'
        )
        (project.root / "pyproject.toml").write_text(text, encoding="utf-8")


def test_a_dotted_src_layout_package_resolves_as_pytest_cov_measures_it(throwaway):
    _src_layout(throwaway, pythonpath=True)
    throwaway.spec(
        "mod-s", source=["srcpkg"], suites=["suites/src/test_mod.py"], targets={"src/srcpkg/mod.py": 100}
    )
    outcome = throwaway.harness("run", "mod-s")
    assert outcome.exit_code == 0, outcome.output
    assert sorted(throwaway.result("mod-s")["files"]) == ["src/srcpkg/__init__.py", "src/srcpkg/mod.py"]


def test_a_src_layout_package_not_on_any_path_is_refused(throwaway):
    _src_layout(throwaway, pythonpath=False)
    throwaway.spec("mod-s", source=["srcpkg"], suites=["suites/src/test_mod.py"])
    outcome = throwaway.harness("list")
    assert outcome.exit_code == 2
    assert "source: 'srcpkg' is neither a directory under" in outcome.stderr


def test_a_subpackage_is_found_without_running_the_projects_code(throwaway):
    throwaway.write("src/boom/__init__.py", "raise RuntimeError('imported during pre-flight')\n")
    throwaway.write("src/boom/inner.py", "X = 1\n")
    _append(throwaway, "pytest.ini", "[pytest]\npythonpath = src\n")
    throwaway.spec(
        "mod-b", source=["boom.inner"], suites=["suites/tests/test_ops.py"], targets={"src/boom/inner.py": 1}
    )
    outcome = throwaway.harness("list")
    assert outcome.exit_code == 0, outcome.output


def test_a_namespace_package_is_searched_like_a_directory(throwaway):
    throwaway.write("src/nsp/part.py", "X = 1\n")
    _append(throwaway, "pytest.ini", "[pytest]\npythonpath = src\n")
    throwaway.spec("mod-n", source=["nsp"], suites=["suites/tests/test_ops.py"], targets={"src/nsp/*.py": 1})
    assert throwaway.harness("list").exit_code == 0


def test_a_package_outside_the_root_is_keyed_by_absolute_path(throwaway, tmp_path, monkeypatch):
    outside = tmp_path / "site"
    (outside / "farpkg").mkdir(parents=True)
    (outside / "farpkg" / "__init__.py").write_text("")
    (outside / "farpkg" / "far.py").write_text("X = 1\n")
    monkeypatch.setenv("PYTHONPATH", str(outside))
    target = (outside / "farpkg" / "far.py").resolve().as_posix()
    throwaway.spec("mod-f", source=["farpkg"], suites=["suites/tests/test_ops.py"], targets={target: 1})
    assert throwaway.harness("list").exit_code == 0
    throwaway.spec(
        "mod-f", source=["farpkg"], suites=["suites/tests/test_ops.py"], targets={"farpkg/far.py": 1}
    )
    assert "'farpkg/far.py' matches no measured file" in throwaway.harness("list").stderr
