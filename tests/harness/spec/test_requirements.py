"""Options that need an optional package stop before any test runs when it is missing (exit 2, one line).

A package is made missing the way Python's import system allows: `sys.modules[name] = None` makes
both `import name` and `importlib.util.find_spec(name)` say it is not there. The wheel check
(tests/packaging/check_wheel.py) repeats the main cases on a real plain install.
"""

import shutil
import sys

import pytest

from harness.errors import UsageError
from harness.spec import requirements
from tests.harness.conftest import Throwaway


def _missing(monkeypatch, *modules: str) -> None:
    for module in modules:
        monkeypatch.setitem(sys.modules, module, None)


@pytest.fixture(scope="module")
def stored(shared_throwaway):
    """The throwaway project with a module that has run once: a stored result and trace to keep."""
    shared_throwaway.spec("mod-a", suites=["suites/tests/test_ops.py"])
    assert shared_throwaway.harness("run", "mod-a").exit_code == 0
    return shared_throwaway.root


@pytest.fixture
def ran_once(stored, tmp_path):
    """A copy of `stored` for one test, with the bytes of what a run would replace."""
    project = Throwaway(tmp_path / "proj")
    shutil.copytree(stored, project.root)
    at = project.root / "reports" / "mod-a"
    kept = (at / "results.json", at / "COMPLETION_STATUS.md", project.root / "trace.yml")
    return project, {path: path.read_bytes() for path in kept}


def _unchanged(before: dict) -> bool:
    return all(path.read_bytes() == data for path, data in before.items())


@pytest.mark.parametrize(
    ("args", "asked"),
    [
        (["--workers", "2"], "--workers 2"),
        (["--workers", "auto"], "--workers auto"),
        (["--", "-n", "2"], "pytest's -n"),
        (["--", "--numprocesses=2"], "pytest's --numprocesses=2"),
    ],
)
def test_workers_without_xdist_stop_before_running_and_store_nothing(ran_once, monkeypatch, args, asked):
    project, before = ran_once
    _missing(monkeypatch, "xdist")
    outcome = project.harness("run", "mod-a", *args)
    assert outcome.exit_code == 2
    assert outcome.stdout == ""
    assert outcome.stderr == (
        f"Error: {asked} needs pytest-xdist, which is not installed: pip install 'harness[workers]'\n"
    )
    assert _unchanged(before)  # no Failed result, no trace event
    assert not list((project.root / "reports" / "mod-a").glob(".work/run-*"))


def test_a_serial_run_does_not_need_xdist(ran_once, monkeypatch):
    project, _ = ran_once
    _missing(monkeypatch, "xdist")
    assert project.harness("run", "mod-a").exit_code == 0


def test_mutate_without_its_extra_stops_before_running(ran_once, monkeypatch):
    project, before = ran_once
    _missing(monkeypatch, "mutmut")
    outcome = project.harness("mutate", "mod-a")
    assert outcome.exit_code == 2
    assert outcome.stderr == (
        "Error: harness mutate needs mutmut, which is not installed: pip install 'harness[mutation]'\n"
    )
    assert _unchanged(before)
    assert not (project.root / "reports" / "mod-a" / "mutation.json").exists()


@pytest.mark.parametrize("command", [["run", "mod-a"], ["check", "mod-a", "--run"]])
def test_a_spec_that_reruns_failed_tests_needs_the_reruns_extra(ran_once, monkeypatch, command):
    project, before = ran_once
    project.spec("mod-a", suites=["suites/tests/test_ops.py"], stability={"reruns": 2})
    _missing(monkeypatch, "pytest_rerunfailures")
    outcome = project.harness(*command)
    assert outcome.exit_code == 2
    assert outcome.stderr == (
        "Error: stability.reruns: 2 needs pytest-rerunfailures, which is not installed:"
        " pip install 'harness[reruns]'\n"
    )
    assert _unchanged(before)


FIXTURE_OPTION = '\nharness_asgi_factory = "calc.asgi:application"\n'


@pytest.mark.parametrize("command", [["run", "mod-a"], ["check", "mod-a", "--run"], ["init", "--id", "x"]])
def test_a_project_using_the_channels_fixtures_needs_the_channels_extra(ran_once, monkeypatch, command):
    project, before = ran_once
    pyproject = project.root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + FIXTURE_OPTION)  # under [tool.pytest.ini_options]
    before[pyproject] = pyproject.read_bytes()
    _missing(monkeypatch, "channels", "daphne")
    outcome = project.harness(*command)
    assert outcome.exit_code == 2
    assert outcome.stderr == (
        "Error: pyproject.toml's harness_asgi_factory (the harness's fixtures for Channels projects)"
        " needs channels, daphne, which are not installed: pip install 'harness[channels]'\n"
    )
    assert _unchanged(before)
    assert not (project.root / "suites" / "x").exists()


def test_the_fixtures_check_reads_setup_cfg_and_looptime(tmp_path, monkeypatch):
    (tmp_path / "setup.cfg").write_text("[tool:pytest]\nharness_looptime = true\n")
    requirements.check(tmp_path)  # everything installed here
    _missing(monkeypatch, "looptime")
    with pytest.raises(UsageError, match=r"^setup.cfg's harness_looptime = true needs looptime, which"):
        requirements.check(tmp_path)


def test_a_project_without_the_plugins_options_needs_nothing_of_channels(tmp_path, monkeypatch):
    (tmp_path / "setup.cfg").write_text("[tool:pytest]\ntestpaths = tests\n")
    _missing(monkeypatch, *(module for module, _ in requirements.CHANNELS.packages))
    requirements.check(tmp_path)
    assert requirements.CHANNELS.missing() == [
        "Django",
        "channels",
        "daphne",
        "pytest-django",
        "pytest-asyncio",
    ]
