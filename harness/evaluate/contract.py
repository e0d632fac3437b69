"""The typed run contract: what a run looks up before its tests, what it measured, and how that evaluates.

Pipeline: spec → run → measure → evaluate → assemble → render → write (see docs/architecture.md).
`Inputs` and `Measured` are what evaluation (`targets.evaluate_run`) needs; `Evaluation` is its one
answer; `results.assemble` only shapes the three into the JSON stored as `results.json`.
"""

from dataclasses import dataclass, field

from harness.measure.outcomes import Outcomes


@dataclass(frozen=True)
class Inputs:
    """Looked up before any test runs. A step run or a shard takes no carried items or acceptance."""

    carried: tuple[dict, ...] = ()
    acceptance: dict | None = None  # the latest `variance_accepted` event: rationale, accepted_at, accepted
    baseline: dict | None = None  # {"module", "suites", "measured_at", "files": {path: %}, "overall": %}
    mutation: dict | None = None  # the module's mutation.json without the files changed since it was made


@dataclass(frozen=True)
class Measured:
    """What a session (or the shards combined) measured: outcomes, coverage and why it broke, if it did."""

    started_at: str
    finished_at: str
    commit: str | None
    options: dict
    outcomes: Outcomes
    failure: str | None
    files: dict[str, dict] | None = None  # per-file figures (measure.file_figures); None without coverage
    totals: dict | None = None  # the overall figures (measure.totals)
    branch: bool = False  # whether branch coverage was measured
    step: int | None = None
    shards: int | None = None
    # Per step number: per-file figures of that step's own tests (coverage.py's per-test contexts).
    step_files: dict[int, dict[str, dict]] = field(default_factory=dict)


@dataclass(frozen=True)
class Evaluation:
    """Every file and the overall against targets and baseline, the steps, and the status they give."""

    files: dict[str, dict]
    overall: dict
    steps: list[dict]
    unmet: list[str]
    status: str
    reason: str | None
    carry_forward: list[dict]
    mutation: dict | None = None  # scores against `mutation:` targets (harness mutate); None without either
