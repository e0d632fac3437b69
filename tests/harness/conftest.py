"""Fixtures for the harness's own tests: a throwaway project on disk and a CliRunner bound to it."""

import json
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from harness.cli import main

# Hypothesis's pytest plugin alone costs about a second per pytest start; the throwaway project
# does not use it. One test (test_subprocess.py) runs with every installed plugin on purpose.
FAST_PYPROJECT = """\
[project]
name = "throwaway"
version = "0"

[tool.pytest.ini_options]
addopts = ["-p", "no:hypothesispytest", "-p", "no:randomly"]
"""

OPS = '''\
"""A tiny module with functions, a class and branches."""


def add(a, b):
    return a + b


def sign(x):
    if x > 0:
        return 1
    if x < 0:
        return -1
    return 0


class Box:
    def get(self):
        return self.value

    def put(self, value):
        self.value = value
        return value
'''

TEST_OPS = """\
import pytest

from calc import ops


def test_add():
    assert ops.add(1, 2) == 3


class TestSign:
    def test_positive(self):
        assert ops.sign(3) == 1

    @pytest.mark.skip(reason="negative numbers come later")
    def test_negative(self):
        assert ops.sign(-3) == -1
"""

TEST_BOX = """\
from calc.ops import Box


class TestBox:
    def test_put_then_get(self):
        box = Box()
        box.put(3)
        assert box.get() == 3
"""


@dataclass
class Throwaway:
    """A project in tmp_path with its own package `calc`, tests under suites/, and specs."""

    root: Path

    def write(self, rel: str, text: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    def spec(self, module_id: str, **fields) -> Path:
        data = {"id": module_id, "title": f"Title of {module_id}", "source": ["calc"], **fields}
        return self.write(f"suites/{module_id}/module.yml", yaml.safe_dump(data, sort_keys=False))

    def harness(self, *args: str) -> Result:
        return CliRunner().invoke(main, ["--root", str(self.root), *args], catch_exceptions=False)

    def result(self, module_id: str) -> dict:
        return json.loads((self.root / "reports" / module_id / "results.json").read_text(encoding="utf-8"))

    def trace(self) -> list[dict]:
        return yaml.safe_load((self.root / "trace.yml").read_text(encoding="utf-8"))


_FOREIGN_ENV = ("DJANGO_SETTINGS_MODULE", "PYTEST_ADDOPTS", "COVERAGE_PROCESS_START", "GITHUB_STEP_SUMMARY")


def build_throwaway(root: Path) -> Throwaway:
    """Write the throwaway project under `root`."""
    project = Throwaway(root)
    project.write("pyproject.toml", FAST_PYPROJECT)
    project.write("calc/__init__.py", "")
    project.write("calc/ops.py", OPS)
    project.write("suites/tests/test_ops.py", TEST_OPS)
    project.write("suites/tests/test_box.py", TEST_BOX)
    return project


@pytest.fixture
def throwaway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Throwaway:
    """A fresh throwaway project with `calc/ops.py` and two test files, no specs yet."""
    # pytest-django exports the repo's settings module; the throwaway project is not a Django project.
    for name in _FOREIGN_ENV:
        monkeypatch.delenv(name, raising=False)
    return build_throwaway(tmp_path / "proj")


@pytest.fixture(scope="module")
def shared_throwaway(tmp_path_factory: pytest.TempPathFactory):
    """A throwaway project shared by a module's read-only tests, with the same clean environment."""
    with pytest.MonkeyPatch.context() as patch:
        for name in _FOREIGN_ENV:
            patch.delenv(name, raising=False)
        yield build_throwaway(tmp_path_factory.mktemp("shared") / "proj")
