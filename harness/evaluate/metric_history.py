"""One metric's figures run by run, read back from the `metrics` of trace.yml's `run_finished` events.

A `run_finished` event carries `metrics: {name: {unit: str, count: n, min: x, ..., max: x}}` (the
figures as judged: a repeated metric's medians). Runs are the module's (or a step's) finished runs as
`harness.evaluate.history` reads them; a run without the metric (it failed, or no test recorded it)
has no figures, and a Δ is the change from the last earlier run that has one.
"""

import json
import math
from dataclasses import asdict, dataclass, field

from harness.errors import UsageError
from harness.evaluate.history import Run, run_from_event
from harness.spec.catalog import find_spec, looks_like_path
from harness.spec.model import METRIC_STATS
from harness.spec.project import Project
from harness.store import disk


@dataclass(frozen=True)
class MetricRun:
    """A finished run and one metric's figures in it (empty when the run has none)."""

    run: Run
    unit: str | None
    stats: dict[str, float | None] = field(default_factory=dict, hash=False)
    unmet: tuple[str, ...] = ()  # the run's unmet keys of this metric, `metric:<name>.<stat>`

    def value(self, stat: str) -> float | None:
        return self.stats.get(stat)


def event_fields(section: dict | None) -> dict:
    """What a `run_finished` event carries of a result's `metrics` section: each figure's unit and its
    seven statistics as judged (`{"metrics": {...}}`, empty without figures). `figures_of` reads it back."""
    figures = (section or {}).get("figures") or {}
    if not figures:
        return {}
    return {"metrics": {name: {k: f[k] for k in ("unit", *METRIC_STATS)} for name, f in figures.items()}}


def figures_of(ev: dict) -> dict[str, dict]:
    """The `metrics` of one `run_finished` event, whatever a hand edit or an older harness left there:
    per metric its unit (or None) and each statistic as a finite number or None."""
    found = ev.get("metrics")
    if not isinstance(found, dict):
        return {}
    return {
        str(name): {"unit": f.get("unit") if isinstance(f.get("unit"), str) else None}
        | {stat: _number(f.get(stat)) for stat in METRIC_STATS}
        for name, f in found.items()
        if isinstance(f, dict)
    }


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def metric_runs(events: list, module_id: str, name: str, step: int | None = None) -> list[MetricRun]:
    """Every finished run of the module (or of step `step`) in trace order, with metric `name`'s figures."""
    runs = []
    for ev in events:
        if not isinstance(ev, dict) or ev.get("event") != "run_finished":
            continue
        if ev.get("module") != module_id or ev.get("step") != step:
            continue
        figure = figures_of(ev).get(name, {})
        unmet = ev.get("unmet") if isinstance(ev.get("unmet"), list) else []
        mine = tuple(k for k in unmet if isinstance(k, str) and k.startswith(f"metric:{name}."))
        stats = {stat: figure.get(stat) for stat in METRIC_STATS} if figure else {}
        runs.append(MetricRun(run_from_event(ev), figure.get("unit"), stats, mine))
    return runs


def names(events: list, module_id: str, step: int | None = None) -> list[str]:
    """Every metric any finished run of the module (or step) recorded, sorted."""
    found: set[str] = set()
    for ev in events:
        if isinstance(ev, dict) and ev.get("event") == "run_finished" and ev.get("module") == module_id:
            found.update(figures_of(ev) if ev.get("step") == step else {})
    return sorted(found)


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
    module_id = find_spec(project, ref).id if looks_like_path(ref) else ref
    events = disk.read_trace(project.trace_path)
    runs = metric_runs(events, module_id, name, step)
    if not runs:
        find_spec(project, module_id)  # an unknown module is a usage error, not an empty history
    elif not any(run.stats for run in runs):
        known = names(events, module_id, step)
        recorded = f" (recorded: {', '.join(known)})" if known else " (no run recorded any metric)"
        raise UsageError(f"{name}: not a metric of any finished run of {module_id}{recorded}")
    changes = deltas(runs, stat) if stat else [None] * len(runs)
    rows = list(zip(runs, changes, strict=True))[-limit if limit else 0 :]
    return MetricShown(module_id, step, name, (stat,) if stat else METRIC_STATS, rows, len(runs))


def json_text(shown: MetricShown) -> str:
    """`harness history --metric NAME --json`: each shown run, the metric's figures and the Δ."""
    entries = [
        {**asdict(metric_run.run), "unit": metric_run.unit, "metric": metric_run.stats, "delta": change}
        for metric_run, change in shown.rows
    ]
    head = {"module": shown.module_id, "step": shown.step, "metric": shown.name, "stats": list(shown.stats)}
    return json.dumps({**head, "runs": entries}, indent=2)
