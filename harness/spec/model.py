"""Module specs as the harness holds them: frozen dataclasses, built by `harness.spec.parse`."""

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SpecSource:
    """Where a spec came from: a whole YAML file, or one `[tool.harness.modules.<id>]` table of a pyproject.

    `str()` names it in messages, `os.fspath()` is its file (for links from reports), and `digest()`
    fingerprints only this spec, so editing another part of pyproject.toml leaves a result current.
    """

    file: Path
    table: str | None = None
    canonical: str = ""

    def __str__(self) -> str:
        return f"{self.file}: [{self.table}]" if self.table else str(self.file)

    def __fspath__(self) -> str:
        return os.fspath(self.file)

    def digest(self) -> str:
        data = self.canonical.encode("utf-8") if self.table else self.file.read_bytes()
        return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Suite:
    """A test path (file, directory or node id) and an optional `-k` / `-m` selection."""

    path: str
    k: str | None = None
    markers: str | None = None


@dataclass(frozen=True)
class Target:
    """Minimum coverage for the files `pattern` matches; `percent` is coverage.py's combined figure."""

    pattern: str
    percent: float | None = None
    lines: float | None = None
    branches: float | None = None
    mutation: float | None = None  # minimum mutation score (`harness mutate`), never a coverage figure
    warn_only: bool = False
    origin: str = "targets"


# The statistics of a figure tests record, in the order reports show them (harness.measure.metrics).
METRIC_STATS = ("count", "min", "mean", "p50", "p95", "p99", "max")


@dataclass(frozen=True)
class MetricBound:
    """Bounds on one statistic of a metric (`count`, `min`, `mean`, `p50`, `p95`, `p99`, `max`)."""

    stat: str
    max: float | None = None  # at most
    min: float | None = None  # at least
    equals: float | None = None  # exactly (to a relative 1e-9), never with min or max


@dataclass(frozen=True)
class MetricTarget:
    """A `metrics:` entry: bounds on statistics of a figure tests record (`harness_metric`).

    `repeat` is K when the figure is judged on the median of K repetitions of its tests (1: one run).
    """

    name: str
    bounds: tuple[MetricBound, ...]
    warn_only: bool = False
    repeat: int = 1
    origin: str = "metrics"


@dataclass(frozen=True)
class PatchTarget:
    """Minimums for the lines a change adds or edits (`harness check --changed`): line coverage, branch
    coverage and mutation score of the patch; `warn_only` reports a miss without failing."""

    coverage: float | None = None
    branches: float | None = None
    mutation: float | None = None
    warn_only: bool = False


@dataclass(frozen=True)
class Step:
    """A named part of a module with its own suites and targets."""

    name: str
    suites: tuple[Suite, ...]
    targets: tuple[Target, ...]
    metrics: tuple[MetricTarget, ...] = ()


@dataclass(frozen=True)
class Baseline:
    """Either another module's recorded result or the coverage of earlier suites."""

    module: str | None = None
    suites: tuple[Suite, ...] = ()


@dataclass(frozen=True)
class Quarantined:
    """A known flaky test (node id or glob): it runs and is reported; its failures do not gate."""

    test: str
    reason: str


@dataclass(frozen=True)
class StabilityPolicy:
    """The spec's `stability:` key: how unstable tests and coverage gate, and how the tests are repeated."""

    flaky: str = "fail"  # "fail": unstable tests or coverage block the module; "warn": they are reported only
    quarantine: tuple[Quarantined, ...] = ()
    reruns: int = 0  # a failed test runs again up to this many times (pytest-rerunfailures)
    repeat: int = 1  # repetitions of `harness run` when the command line gives no --repeat
    shuffle: bool = False  # each repetition in its own seeded order


@dataclass(frozen=True)
class ModuleSpec:
    """One module: what it runs, what it measures and what each file must reach."""

    path: SpecSource
    id: str
    title: str
    source: tuple[str, ...]
    suites: tuple[Suite, ...] = ()
    targets: tuple[Target, ...] = ()
    overall: Target | None = None
    stretch: float | None = None
    baseline: Baseline | None = None
    carry_forward_from: str | None = None
    steps: tuple[Step, ...] = ()
    notes: str = ""
    references: tuple[str, ...] = ()
    artifacts: tuple[str, ...] = ()
    metrics: tuple[MetricTarget, ...] = ()
    patch: PatchTarget | None = None
    record_tests: bool = False  # keep which test ran which line after each whole run (affected tests)
    stability: StabilityPolicy = StabilityPolicy()

    def all_suites(self) -> tuple[Suite, ...]:
        """The module's suites followed by every step's, without repeats."""
        seen: dict[Suite, None] = dict.fromkeys(self.suites)
        for step in self.steps:
            seen.update(dict.fromkeys(step.suites))
        return tuple(seen)
