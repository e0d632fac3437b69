"""Every install command and extra the README and docs name exists, and says what it installs.

Checked here against pyproject.toml, and by the wheel check (tests/packaging/check_wheel.py) against
the built wheel's metadata.
"""

import tomllib
from pathlib import Path

from harness.spec import requirements
from tests.packaging.docs_extras import install_lines, named_extras, normalise

REPO = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _requires(requirements_list: list[str]) -> set[str]:
    return {normalise(requirement) for requirement in requirements_list}


def test_every_extra_the_docs_name_exists():
    extras = set(PROJECT["optional-dependencies"])
    unknown = {extra: where for extra, where in named_extras(REPO).items() if extra not in extras}
    assert unknown == {}


def test_the_readme_lists_what_each_install_brings():
    promised = install_lines(REPO)
    actual = {extra: _requires(reqs) for extra, reqs in PROJECT["optional-dependencies"].items()}
    assert promised == {None: _requires(PROJECT["dependencies"]), **actual}


def test_the_checks_before_a_run_name_the_extras_that_bring_their_packages():
    checked = (requirements.WORKERS, requirements.MUTATION, requirements.RERUNS, requirements.CHANNELS)
    for extra in (*checked, requirements.CHARTS):
        listed = _requires(PROJECT["optional-dependencies"][extra.name])
        assert {normalise(dist) for _, dist in extra.packages} <= listed, extra.name
