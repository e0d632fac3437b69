"""Finding the project root: pyproject.toml, setup.cfg, setup.py, pytest's files or the git root; `--root`."""

import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from harness.cli import main
from harness.errors import UsageError
from harness.spec.project import ROOT_MARKERS, find_root, load_project

# A flat-layout library configured only in setup.cfg (no pyproject.toml), with unittest test classes.
SETUP_CFG_PROJECT = {
    "setup.cfg": """
        [metadata]
        name = tinyparse
        version = 1.0

        [options]
        packages = find:

        [tool:pytest]
        testpaths = tests
        addopts = -p no:randomly -p no:hypothesispytest
    """,
    "setup.py": "from setuptools import setup\n\nsetup()\n",
    "tinyparse/__init__.py": """
        def parse(text):
            if not text:
                return []
            return [part.strip() for part in text.split(",")]
    """,
    "tests/test_parse.py": """
        import unittest

        from tinyparse import parse


        class ParseTest(unittest.TestCase):
            def test_parts(self):
                self.assertEqual(parse("a, b"), ["a", "b"])

            def test_empty(self):
                self.assertEqual(parse(""), [])
    """,
}


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return root


def harness(cwd: Path, monkeypatch, *args: str):
    monkeypatch.chdir(cwd)
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def cfg_project(tmp_path, monkeypatch):
    for name in ("DJANGO_SETTINGS_MODULE", "PYTEST_ADDOPTS"):
        monkeypatch.delenv(name, raising=False)
    return write(tmp_path / "tinyparse", SETUP_CFG_PROJECT)


@pytest.mark.parametrize("marker", ROOT_MARKERS)
def test_each_marker_makes_the_nearest_directory_the_root(tmp_path, marker):
    (tmp_path / "outer").mkdir()
    (tmp_path / "outer" / "pyproject.toml").write_text("")
    inner = tmp_path / "outer" / "lib"
    (inner / "pkg" / "deep").mkdir(parents=True)
    (inner / marker).mkdir() if marker == ".git" else (inner / marker).write_text("")
    assert find_root(inner / "pkg" / "deep") == (inner, marker)


def test_no_marker_anywhere_is_a_usage_error_naming_what_was_looked_for(tmp_path):
    with pytest.raises(UsageError, match=r"no project root at or above .*setup\.cfg.*; pass --root DIR$"):
        find_root(tmp_path)


def test_a_root_without_pyproject_has_the_default_settings(tmp_path):
    project = load_project(None, write(tmp_path, {"setup.cfg": "[metadata]\nname = x\n"}))
    assert (project.root, project.found_by) == (tmp_path, "setup.cfg")
    assert project.spec_globs == ("suites/*/module.yml",) and project.module_tables == ()
    assert load_project(tmp_path).found_by == "--root"


def test_a_root_that_is_not_a_directory_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match=r"^--root .*missing: no such directory$"):
        load_project(tmp_path / "missing")


def test_init_then_run_a_setup_cfg_project_from_a_subdirectory(cfg_project, monkeypatch):
    inited = harness(cfg_project / "tests", monkeypatch, "init")
    assert inited.exit_code == 0, inited.output
    assert inited.output.splitlines()[0] == (
        f"Project root: {cfg_project} (found by its setup.cfg). It has no pyproject.toml, so harness uses"
        " its default settings; to change them, create pyproject.toml there with a [tool.harness] table"
    )
    assert "Wrote suites/tinyparse/module.yml" in inited.output  # the id is setup.cfg's name
    spec = yaml.safe_load((cfg_project / "suites/tinyparse/module.yml").read_text())
    assert spec["source"] == ["tinyparse"] and spec["suites"] == ["tests"]
    ran = harness(cfg_project / "tinyparse", monkeypatch, "run", "tinyparse")
    assert ran.exit_code == 0, ran.output
    assert (cfg_project / "reports/tinyparse/results.json").is_file()
    listed = harness(cfg_project, monkeypatch, "--root", ".", "list")
    assert listed.exit_code == 0 and listed.output.splitlines()[1].startswith("tinyparse ")


def test_init_into_a_pyproject_the_project_lacks_says_what_to_create(cfg_project, monkeypatch):
    outcome = harness(cfg_project, monkeypatch, "--root", ".", "init", "--pyproject")
    assert outcome.exit_code == 2
    assert outcome.output == (
        f"Error: {cfg_project}: no pyproject.toml for --pyproject to add the spec to; create one (an empty"
        " file will do) or leave out --pyproject to write suites/<id>/module.yml\n"
    )
    assert not (cfg_project / "pyproject.toml").exists()


def test_the_git_root_of_a_project_without_configuration_files(tmp_path, monkeypatch):
    root = write(
        tmp_path / "bare",
        {
            "bare.py": "def one():\n    return 1\n",
            "tests/test_bare.py": "from bare import one\n\n\ndef test_one():\n    assert one() == 1\n",
        },
    )
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:randomly -p no:hypothesispytest")
    monkeypatch.setenv("PYTHONPATH", str(root))  # no configuration file to set pytest's pythonpath
    outcome = harness(root / "tests", monkeypatch, "init")
    assert outcome.exit_code == 0, outcome.output
    assert outcome.output.startswith(f"Project root: {root} (found by its .git).")
    assert yaml.safe_load((root / "suites/bare/module.yml").read_text())["source"] == ["bare"]


def test_a_configuration_file_higher_up_wins_over_a_nearer_git_work_tree(tmp_path):
    """The docs' order: the nearest configuration file, else the git work tree's root (a checked-out
    dependency inside a project's tree is not the project)."""
    from harness.spec.project import find_root

    (tmp_path / "pyproject.toml").write_text("", encoding="utf-8")
    nested = tmp_path / "vendor" / "thing"
    (nested / ".git").mkdir(parents=True)
    assert find_root(nested) == (tmp_path, "pyproject.toml")
    alone = tmp_path.parent / f"{tmp_path.name}-alone" / "sub"
    (alone.parent / ".git").mkdir(parents=True)
    alone.mkdir()
    assert find_root(alone) == (alone.parent, ".git")
