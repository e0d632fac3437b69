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
from docs_extras import install_lines, named_extras, normalise
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
def with_workers(wheel: Path, pytest_pin: str, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """`pip install 'harness[workers]'`."""
    return Venv(tmp_path_factory.mktemp("workers") / "venv", f"{wheel}[workers]", pytest_pin)


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
    extras = set(re.findall(r"^Provides-Extra: (\S+)$", metadata.decode(), re.M))
    assert extras == {"channels", "charts", "mutation", "reruns", "workers"}


def _metadata(wheel: Path) -> str:
    with zipfile.ZipFile(wheel) as archive:
        return archive.read(next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))).decode()


def test_every_install_command_in_the_docs_names_an_extra_of_the_wheel(wheel):
    extras = set(re.findall(r"^Provides-Extra: (\S+)$", _metadata(wheel), re.M))
    assert {extra: where for extra, where in named_extras(REPO).items() if extra not in extras} == {}


def test_the_readme_lists_what_each_extra_of_the_wheel_installs(wheel):
    requires: dict[str | None, set[str]] = {}
    for line in re.findall(r"^Requires-Dist: (.+)$", _metadata(wheel), re.M):
        extra = re.search(r"""extra == ["']([\w-]+)["']""", line)
        requires.setdefault(extra.group(1) if extra else None, set()).add(normalise(line))
    assert install_lines(REPO) == requires


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


def _stored(project: Path) -> dict[Path, bytes]:
    """The bytes of what a run writes: a command that stops first must leave them as they were."""
    at = project / "reports" / "calc"
    return {
        path: path.read_bytes()
        for path in (at / "results.json", at / "COMPLETION_STATUS.md", project / "trace.yml")
    }


@pytest.fixture
def ran_plain(plain, tmp_path) -> Path:
    """SPEC_PROJECT after one `harness run calc` in the plain install."""
    write_project(tmp_path, SPEC_PROJECT)
    run(plain.bin("harness"), "run", "calc", cwd=tmp_path)
    return tmp_path


def test_a_plain_install_writes_the_badge_and_says_charts_are_not_drawn(ran_plain):
    at = ran_plain / "reports" / "calc"
    assert (at / "badge.svg").read_text().startswith("<?xml")
    report = (at / "COMPLETION_STATUS.md").read_text()
    assert "Charts are not drawn: matplotlib is not installed (`pip install 'harness[charts]'`)." in report
    assert not (at / "charts").exists()


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ("run", "calc", "--workers", "2"),
            "Error: --workers 2 needs pytest-xdist, which is not installed: pip install 'harness[workers]'",
        ),
        (
            ("run", "calc", "--", "-n", "2"),
            "Error: pytest's -n needs pytest-xdist, which is not installed: pip install 'harness[workers]'",
        ),
        (
            ("mutate", "calc"),
            "Error: harness mutate needs mutmut, libcst, which are not installed:"
            " pip install 'harness[mutation]'",
        ),
    ],
)
def test_options_needing_an_extra_stop_first_in_a_plain_install(plain, ran_plain, args, line):
    before = _stored(ran_plain)
    done = run(plain.bin("harness"), *args, cwd=ran_plain, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (2, "", line + "\n")
    assert _stored(ran_plain) == before


def test_a_project_using_the_channels_fixtures_stops_first_in_a_plain_install(plain, ran_plain):
    pyproject = ran_plain / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + 'harness_asgi_factory = "calc:application"\n')
    before = _stored(ran_plain)
    done = run(plain.bin("harness"), "run", "calc", cwd=ran_plain, check=False)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("Error: pyproject.toml's harness_asgi_factory (the harness's fixtures")
    assert done.stderr.endswith("are not installed: pip install 'harness[channels]'\n")
    assert _stored(ran_plain) == before


def test_a_spec_asking_for_reruns_stops_first_in_a_plain_install(plain, ran_plain):
    spec = ran_plain / "suites" / "calc" / "module.yml"
    spec.write_text(spec.read_text() + "stability: {reruns: 2}\n")
    before = _stored(ran_plain)
    done = run(plain.bin("harness"), "run", "calc", cwd=ran_plain, check=False)
    line = (
        "Error: stability.reruns: 2 needs pytest-rerunfailures, which is not installed:"
        " pip install 'harness[reruns]'"
    )
    assert (done.returncode, done.stdout, done.stderr) == (2, "", line + "\n")
    assert _stored(ran_plain) == before


def test_the_workers_extra_runs_workers(with_workers, tmp_path):
    write_project(tmp_path, SPEC_PROJECT)
    ran = run(with_workers.bin("harness"), "run", "calc", "--workers", "2", cwd=tmp_path)
    assert "Status: Complete" in ran.stdout
    result = json.loads((tmp_path / "reports/calc/results.json").read_text())
    assert (result["status"], result["options"]["workers"], result["tests"]["passed"]) == ("complete", 2, 2)
