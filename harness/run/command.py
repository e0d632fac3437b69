"""Every pytest command line the harness starts, built in one place: a module's session, the mutation
mapping run, a mutant's plain run and the fast mode's server."""

import sys
from collections.abc import Iterable

PLUGIN = "harness.run.plugin"  # the harness's own plugin: test records, shards, per-step contexts
# A mutant's plain run (and the fast mode's server): stop at the first failure, in the given order,
# no cache; `-rfE` names the failing test, which goes first for the next mutants of the same function.
# pytest-rerunfailures off: a mutant's failing test run again into a pass would count as survived; and its
# server thread (started in every session with xdist installed) would keep the fast mode from forking.
MUTANT_OPTIONS = ("-x", "-q", "-rfE", "-p", "no:randomly", "-p", "no:rerunfailures", "-p", "no:cacheprovider")
# The harness measures the spec's sources, so a project's coverage `[run] include` gives way to them (as
# coverage.py's own `--source` does) and coverage.py warns so as it starts; a project whose pytest turns
# warnings into errors (`filterwarnings = error`) would fail before its first test on that warning.
SOURCE_OVER_INCLUDE = (
    "ignore:--include is ignored because --source is set:coverage.exceptions.CoverageWarning"
)


def pytest(
    paths: Iterable[str],
    plugins: Iterable[str] = (),
    cov: Iterable[str] = (),
    branch: bool = False,
    contexts: str | None = None,
    append: bool = False,
    k: str | None = None,
    markers: str | None = None,
    workers: int | str | None = None,
    reruns: int = 0,
    extra: Iterable[str] = (),
) -> list[str]:
    """`python -m pytest PATHS` with plugins (`-p`), coverage of `cov` through pytest-cov (branches,
    dynamic contexts, appending to the data file), a `-k` / `-m` selection, xdist workers, failed tests
    run again up to `reruns` times (pytest-rerunfailures), then `extra`."""
    cmd = [sys.executable, "-m", "pytest", *paths]
    for plugin in plugins:
        cmd += ["-p", plugin]
    cov = list(cov)
    if cov:
        cmd += [f"--cov={source}" for source in cov]
        cmd += ["-W", SOURCE_OVER_INCLUDE]
        cmd += ["--cov-branch"] if branch else []
        cmd += [f"--cov-context={contexts}"] if contexts else []
        cmd.append("--cov-report=")
        cmd += ["--cov-append"] if append else []
    cmd += ["-k", k] if k else []
    cmd += ["-m", markers] if markers else []
    cmd += ["-n", str(workers)] if workers else []
    cmd += ["-p", "rerunfailures", "--reruns", str(reruns)] if reruns else []
    return cmd + list(extra)
