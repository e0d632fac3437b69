"""What a command's options need beyond a plain `pip install harness`, checked before any test runs.

Each optional package belongs to an extra of the harness package (pyproject.toml). A command that
needs one that is not installed stops with one line naming the package and the extra, before it runs a
test or writes a result: without this, pytest would stop on an option it does not know and the run
would be stored as Failed.
"""

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

from harness.errors import UsageError
from harness.spec.sources import pytest_settings


@dataclass(frozen=True)
class Extra:
    """An extra of the harness package and what it installs: (import name, distribution name) pairs."""

    name: str
    packages: tuple[tuple[str, str], ...]

    def missing(self) -> list[str]:
        """The distributions of the extra that this interpreter cannot import."""
        return [dist for module, dist in self.packages if not _importable(module)]

    def require(self, why: str) -> None:
        missing = self.missing()
        if missing:
            names = ", ".join(missing)
            raise UsageError(
                f"{why} needs {names}, which {'is' if len(missing) == 1 else 'are'} not installed:"
                f" pip install 'harness[{self.name}]'"
            )


WORKERS = Extra("workers", (("xdist", "pytest-xdist"),))
MUTATION = Extra("mutation", (("mutmut", "mutmut"), ("libcst", "libcst")))
RERUNS = Extra("reruns", (("pytest_rerunfailures", "pytest-rerunfailures"),))
# What every fixture of the plugin needs (the rest of the extra serves single fixtures: harness_jwt,
# harness_redis, harness_looptime), so a project that installed these by hand is not stopped.
CHANNELS = Extra(
    "channels",
    (
        ("django", "Django"),
        ("channels", "channels"),
        ("daphne", "daphne"),
        ("pytest_django", "pytest-django"),
        ("pytest_asyncio", "pytest-asyncio"),
    ),
)
LOOPTIME = Extra("channels", (("looptime", "looptime"),))
# Never required: without it a run draws no charts and its report says how to get them.
CHARTS = Extra("charts", (("matplotlib", "matplotlib"),))

# pytest-xdist's options that start workers, as a project may pass them after `--`.
_XDIST_ARG = re.compile(r"-n.*|--numprocesses(=.*)?|--maxprocesses(=.*)?")
_PLUGIN_OPTION = "harness_"  # the plugin's ini options (harness/plugin/config.py) all start so


def check(
    root: Path | None = None,
    workers: int | str | None = None,
    pytest_args: tuple[str, ...] = (),
    mutation: bool = False,
    reruns: int = 0,
) -> None:
    """Raise UsageError when something asked for needs a package that is not installed.

    `root`: the project, whose pytest configuration may set the plugin's options (its Channels
    fixtures); `workers`: `harness run --workers`; `pytest_args`: what goes to pytest after `--`;
    `mutation`: `harness mutate`; `reruns`: the spec's `stability.reruns`.
    """
    if workers:
        WORKERS.require(f"--workers {workers}")
    flag = next((arg for arg in pytest_args if _XDIST_ARG.fullmatch(arg)), None)
    if flag:
        WORKERS.require(f"pytest's {flag}")
    if mutation:
        MUTATION.require("harness mutate")
    if reruns:
        RERUNS.require(f"stability.reruns: {reruns}")
    if root is not None:
        _check_fixtures(root)


def _check_fixtures(root: Path) -> None:
    """The plugin's Channels fixtures, when the project's pytest configuration sets their options."""
    found = pytest_settings(root)
    if found is None:
        return
    config, options = found
    named = sorted(key for key in options if str(key).startswith(_PLUGIN_OPTION))
    if not named:
        return
    CHANNELS.require(f"{config}'s {named[0]} (the harness's fixtures for Channels projects)")
    if str(options.get("harness_looptime", "")).strip().lower() in ("true", "1", "yes", "on"):
        LOOPTIME.require(f"{config}'s harness_looptime = true")


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package that fails to import, or a module without spec
        return False
