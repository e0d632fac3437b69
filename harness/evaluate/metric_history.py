"""One metric's figures run by run, read back from the `metrics` of trace.yml's `run_finished` events.

A run is the module's (or a step's) finished run as `harness.evaluate.history` reads it: its `metrics`
are the figures as judged (a repeated metric's medians). A run without the metric (it failed, or no
test recorded it) has no figures, and a Δ is the change from the last earlier run that has one.
"""

import json
from dataclasses import asdict, dataclass, field

from harness.errors import UsageError
from harness.evaluate.history import Run, module_runs
from harness.spec.model import METRIC_STATS
from harness.spec.project import Project


@dataclass(frozen=True)
class MetricRun:
    """A finished run and one metric's figures in it (empty when the run has none)."""

    run: Run
    unit: str | None
    stats: dict[str, float | None] = field(default_factory=dict, hash=False)
    unmet: tuple[str, ...] = ()  # the run's unmet keys of this metric, `metric:<name>.<stat>`

    def value(self, stat: str) -> float | None:
        return self.stats.get(stat)


def metric_runs(runs: list[Run], name: str) -> list[MetricRun]:
    """Each run (as `history.runs_from_events` gives them) with metric `name`'s figures."""
    found = []
    for run in runs:
        figure = run.metrics.get(name)
        stats = {stat: figure.stat(stat) for stat in METRIC_STATS} if figure else {}
        mine = tuple(k for k in run.unmet if k.rpartition(".")[0] == f"metric:{name}")  # names hold dots
        found.append(MetricRun(run, figure.unit if figure else None, stats, mine))
    return found


def names(runs: list[Run]) -> list[str]:
    """Every metric any of the runs recorded, sorted."""
    return sorted({name for run in runs for name in run.metrics})


def deltas(runs: list[MetricRun], stat: str) -> list[float | None]:
    """Each run's change in `stat` from the last earlier run that has it."""
    out, previous = [], None
    for run in runs:
        value = run.value(stat)
        out.append(None if value is None or previous is None else value - previous)
        previous = value if value is not None else previous
    return out


@dataclass(frozen=True)
class MetricShown:
    """What `harness history --metric NAME [--stat STAT]` shows: which runs, of how many, which stats."""

    module_id: str
    step: int | None
    name: str
    stats: tuple[str, ...]
    rows: list[tuple[MetricRun, float | None]]  # a run and its change in the one stat shown (else None)
    total: int


def select(
    project: Project,
    ref: str,
    name: str,
    stat: str | None = None,
    step: int | None = None,
    limit: int | None = None,
) -> MetricShown:
    """The runs `harness history MODULE --metric NAME` shows; every statistic, or only `stat` with its Δ."""
    if stat is not None and stat not in METRIC_STATS:
        raise UsageError(f"--stat {stat}: not a statistic (one of {', '.join(METRIC_STATS)})")
    module_id, runs = module_runs(project, ref, step)
    shown = metric_runs(runs, name)
    if runs and not any(run.stats for run in shown):
        known = names(runs)
        recorded = f" (recorded: {', '.join(known)})" if known else " (no run recorded any metric)"
        raise UsageError(f"{name}: not a metric of any finished run of {module_id}{recorded}")
    changes = deltas(shown, stat) if stat else [None] * len(shown)
    rows = list(zip(shown, changes, strict=True))[-limit if limit else 0 :]
    return MetricShown(module_id, step, name, (stat,) if stat else METRIC_STATS, rows, len(shown))


def json_text(shown: MetricShown) -> str:
    """`harness history --metric NAME --json`: each shown run, the metric's figures and the Δ."""
    entries = []
    for metric_run, change in shown.rows:
        run = {k: v for k, v in asdict(metric_run.run).items() if k != "metrics"}
        entries.append({**run, "unit": metric_run.unit, "metric": metric_run.stats, "delta": change})
    head = {"module": shown.module_id, "step": shown.step, "metric": shown.name, "stats": list(shown.stats)}
    return json.dumps({**head, "runs": entries}, indent=2)
