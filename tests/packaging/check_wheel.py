"""The wheel as a user installs it: built from the sdist, put into fresh virtualenvs, used on plain projects.

Run by `nox -s wheel` (and `.ci/run`), under a minute: it builds with uv and installs from the
package index. The repository's own test run does not collect it (its name is not `test_*.py`); this
directory's pytest.ini does. See docs/architecture.md, "Packaging".
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
from plain_project import (
    EXPECTED_OUTCOMES,
    PLAIN_PROJECT,
    SPEC_PROJECT,
    Outcomes,
    read_outcomes,
    write_project,
)
from uv import find_uv_bin

REPO = Path(__file__).resolve().parents[2]
# Only the reference app or the fixtures' extra may bring these; a plain install must not.
NOT_IN_A_PLAIN_INSTALL = {
    "django", "channels", "daphne", "twisted", "uvicorn", "websockets", "redis", "pyjwt",
    "channels-redis", "pytest-asyncio", "pytest-django", "looptime", "time-machine",
}  # fmt: skip
APP_ONLY = {"uvicorn", "websockets", "channels-redis"}  # target_app's servers, not the fixtures'
FIXTURE_IMPORTS = (
    "channels.testing, django, jwt, looptime, pytest_asyncio, pytest_django, redis, time_machine"
)
# Variables of the shell or of an outer pytest that would change what the installed pytest does.
LEAKY_ENV = ("DJANGO_SETTINGS_MODULE", "PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTHONPATH", "VIRTUAL_ENV")


def run(*args: str | Path, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if name not in LEAKY_ENV}
    done = subprocess.run(
        [str(arg) for arg in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900
    )
    if check and done.returncode != 0:
        pytest.fail(f"{' '.join(map(str, args))} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


class Venv:
    """A fresh virtualenv made by uv, with the Python that runs this check."""

    def __init__(self, path: Path, *requirements: str | Path) -> None:
        self.path = path
        self.python = path / "bin" / "python"
        run(find_uv_bin(), "venv", "--quiet", "--python", sys.executable, path)
        run(find_uv_bin(), "pip", "install", "--quiet", "--python", self.python, *requirements)

    def distributions(self) -> dict[str, str]:
        listing = run(find_uv_bin(), "pip", "list", "--format", "json", "--python", self.python).stdout
        return {entry["name"].lower().replace("_", "-"): entry["version"] for entry in json.loads(listing)}

    def bin(self, name: str) -> Path:
        return self.path / "bin" / name


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`uv build`: the sdist, then the wheel built from the unpacked sdist, as an index would serve it."""
    out = tmp_path_factory.mktemp("dist")
    run(find_uv_bin(), "build", "--quiet", "--out-dir", out, REPO)
    (built,) = out.glob("*.whl")
    return built


@pytest.fixture(scope="session")
def plain(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """`pip install harness`."""
    return Venv(tmp_path_factory.mktemp("plain") / "venv", wheel)


@pytest.fixture(scope="session")
def pytest_pin(plain: Venv) -> str:
    """The pytest the plain install got: every environment compared with it runs the same one."""
    return f"pytest=={plain.distributions()['pytest']}"


@pytest.fixture(scope="session")
def with_channels(wheel: Path, pytest_pin: str, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """`pip install 'harness[channels]'`."""
    return Venv(tmp_path_factory.mktemp("channels") / "venv", f"{wheel}[channels]", pytest_pin)


@pytest.fixture(scope="session")
def without_harness(pytest_pin: str, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """The same pytest with no harness at all: what a project's outcomes are measured against."""
    return Venv(tmp_path_factory.mktemp("bare") / "venv", pytest_pin)


def test_the_wheel_holds_the_harness_package_only(wheel):
    with zipfile.ZipFile(wheel) as archive:
        top_level = {name.split("/")[0] for name in archive.namelist()}
        metadata = archive.read(next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA")))
    assert {name for name in top_level if not name.endswith(".dist-info")} == {"harness"}
    assert "harness/report/assets/mutation-test-elements.js" in archive.namelist()  # for mutation.html
    required = re.findall(r"^Requires-Dist: ([A-Za-z0-9_.-]+)(?!.*extra ==)", metadata.decode(), re.M)
    assert set(required) == {
        "click",
        "coverage",
        "filelock",
        "jinja2",
        "markdown-it-py",
        "pyyaml",
        "pytest",
        "pytest-cov",
        "rich",
        "anybadge",
        "wcmatch",
    }
    assert "Provides-Extra: channels" in metadata.decode() and "Provides-Extra: charts" in metadata.decode()


def test_a_plain_install_brings_nothing_of_django_channels_or_the_app(plain):
    assert NOT_IN_A_PLAIN_INSTALL & plain.distributions().keys() == set()


def test_the_channels_extra_brings_what_the_fixtures_import_and_not_the_app_servers(with_channels):
    run(with_channels.python, "-c", f"import {FIXTURE_IMPORTS}")
    assert APP_ONLY & with_channels.distributions().keys() == set()


@pytest.mark.parametrize("env", ["plain", "with_channels"])
def test_target_app_is_not_installed(request, env, tmp_path):
    venv = request.getfixturevalue(env)
    found = run(
        venv.python,
        "-c",
        "import importlib.util; print(importlib.util.find_spec('target_app'))",
        cwd=tmp_path,
    )
    assert found.stdout.strip() == "None"


def test_every_cli_command_answers_help_in_a_plain_install(plain, tmp_path):
    listing = run(plain.bin("harness"), "--help", cwd=tmp_path).stdout
    commands = re.findall(r"^  (\w+)  ", listing.split("Commands:")[1], re.M)
    assert {"run", "list", "check", "report", "accept", "diff", "init", "history", "combine"} <= set(commands)
    for command in commands:
        assert (
            f"Usage: harness {command}" in run(plain.bin("harness"), command, "--help", cwd=tmp_path).stdout
        )


def test_the_cli_imports_nothing_of_django_or_channels_even_with_the_extra(with_channels, tmp_path):
    script = textwrap.dedent("""
        import sys
        from harness.cli import main
        try:
            main(["--help"])
        except SystemExit:
            pass
        loaded = {name.split(".")[0] for name in sys.modules}
        print(sorted(loaded & {"django", "channels", "daphne", "twisted", "jwt", "redis"}))
    """)
    assert run(with_channels.python, "-c", script, cwd=tmp_path).stdout.strip().endswith("[]")


def test_list_run_and_check_work_on_a_plain_project_in_a_plain_install(plain, tmp_path):
    write_project(tmp_path, SPEC_PROJECT)
    harness = plain.bin("harness")
    listed = run(harness, "list", cwd=tmp_path)
    assert "calc" in listed.stdout
    ran = run(harness, "run", "calc", cwd=tmp_path)
    assert "Status: Complete" in ran.stdout
    assert json.loads((tmp_path / "reports/calc/results.json").read_text())["status"] == "complete"
    run(harness, "check", "calc", cwd=tmp_path)
    run(harness, "site", cwd=tmp_path)  # the packaged templates, without matplotlib's charts
    assert 'data-module="calc"' in (tmp_path / "reports/site/index.html").read_text(encoding="utf-8")


def pytest_outcomes(venv: Venv, project: Path) -> Outcomes:
    junit = project / "junit.xml"
    junit.unlink(missing_ok=True)
    done = run(venv.python, "-m", "pytest", f"--junitxml={junit}", cwd=project, check=False)
    return read_outcomes(done, junit)


def test_a_strict_plain_projects_outcomes_are_the_same_with_harness_installed(
    without_harness, plain, with_channels, tmp_path
):
    write_project(tmp_path, PLAIN_PROJECT)
    baseline = pytest_outcomes(without_harness, tmp_path)
    # The project is what it claims to be: these outcomes, not a run that stopped early.
    assert {test: baseline.tests.get(test) for test in EXPECTED_OUTCOMES} == EXPECTED_OUTCOMES
    assert pytest_outcomes(plain, tmp_path) == baseline
    assert pytest_outcomes(with_channels, tmp_path) == baseline
