"""Coverage figures against targets and baselines: which targets hold a file, and are they met (pure)."""

from collections.abc import Callable

from harness.spec.globs import matches
from harness.spec.model import ModuleSpec, Step, Target

METRICS = (("percent", "percent"), ("lines", "lines_percent"), ("branches", "branches_percent"))


def resolve(path: str, targets: tuple[Target, ...], carried: tuple[Target, ...] = ()) -> Target | None:
    """The module-level target for `path`: an exact path, then a carried-forward item, then the last glob."""
    for pool in ([t for t in targets if t.pattern == path], [t for t in carried if t.pattern == path]):
        if pool:
            return pool[-1]
    globs = [t for t in targets if matches(path, t.pattern)]
    return globs[-1] if globs else None


def shortfalls(figures: dict, target: Target) -> list[dict]:
    """Each metric of `target` that `figures` falls short of (no branches meets a branch target)."""
    short = []
    for metric, key in METRICS:
        wanted, actual = getattr(target, metric), figures.get(key)
        if wanted is not None and actual is not None and actual < wanted:
            short.append({"metric": metric, "figure": actual, "target": wanted})
    return short


def check(figures: dict, target: Target) -> dict:
    short = shortfalls(figures, target)
    return {
        "origin": target.origin,
        "percent": target.percent,
        "lines": target.lines,
        "branches": target.branches,
        "warn_only": target.warn_only,
        "met": not short,
        "short": short,
    }


def constraints(path: str, targets, carried, steps: tuple[Step, ...]) -> list[Target]:
    """The module-level target for `path` plus every step target that names it."""
    found = [t for t in [resolve(path, targets, carried)] if t]
    return found + [t for step in steps if (t := resolve(path, step.targets))]


def rules_for(spec: ModuleSpec, carried: tuple[Target, ...] = ()) -> Callable[[str], list[Target]]:
    """The targets a module holds a file to: `constraints` with the spec's targets, steps and `carried`."""
    return lambda path: constraints(path, spec.targets, carried, spec.steps)


def evaluate(figures: dict, rules: list[Target], baseline: float | None) -> dict:
    """One file's (or the overall) entry: figures, baseline, delta, targets, met."""
    return entry(figures, [check(figures, rule) for rule in rules], baseline)


def entry(figures: dict, checks: list[dict], baseline: float | None) -> dict:
    """A file's (or the overall) figures with its baseline, delta and the outcome of its checks."""
    gating = [c for c in checks if not c["warn_only"]]
    percents = [c["percent"] for c in (gating or checks) if c["percent"] is not None]
    percent = figures.get("percent")
    return {
        **figures,
        "baseline": baseline,
        "delta": percent - baseline if baseline is not None and percent is not None else None,
        "target": max(percents) if percents else None,
        "checks": checks,
        "met": all(c["met"] for c in checks) if checks else None,
        "gating": bool(gating),
        "gating_met": all(c["met"] for c in gating),
    }


def evaluate_files(figures, targets, carried, steps, baseline: dict[str, float], step_files=None) -> dict:
    """Every file against its module target and every step target naming it.

    A step target is checked against what that step's own tests reached (`step_files[n][path]`,
    from coverage.py's per-test contexts) when it was measured, else against the file's figures.
    """
    step_files = step_files or {}
    files = {}
    for path, fig in figures.items():
        module_rule = resolve(path, targets, carried)
        checks = [check(fig, module_rule)] if module_rule else []
        for number, step in enumerate(steps, 1):
            rule = resolve(path, step.targets)
            if rule:
                checks.append(check(step_files.get(number, {}).get(path, fig), rule))
        files[path] = entry(fig, checks, baseline.get(path))
    return files


def carried_targets(items: list[dict], overall: bool = False) -> tuple[Target, ...]:
    """Carry-forward items as targets of the module that takes them over: files, or only the overall item."""
    return tuple(
        Target(item["file"], origin=f"carried from {item['from']}", **item["target"])
        for item in items
        if (item["file"] == "overall") == overall
    )


def step_rows(steps: tuple[Step, ...], files: dict[str, dict], step_files=None) -> list[dict]:
    """Per step, each file its targets name: baseline, target, what the step's own tests reached, met.

    A line- or branch-only target shows that metric (`metric`, and `percent` holds its figure).
    """
    step_files = step_files or {}
    table = []
    for number, step in enumerate(steps, 1):
        rows = []
        for target in step.targets:
            for path in sorted(p for p in files if matches(p, target.pattern)):
                figures = step_files.get(number, {}).get(path, files[path])
                rows.append(_step_row(path, files[path], figures, target))
        table.append(
            {
                "number": number,
                "name": step.name,
                "suites": [s.path for s in step.suites],
                "rows": rows,
                "met": all(r["met"] or r["warn_only"] for r in rows),
            }
        )
    return table


def _step_row(path: str, entry: dict, figures: dict, target: Target) -> dict:
    c = check(figures, target)
    metric = next(m for m, _ in METRICS if getattr(target, m) is not None)
    key = dict(METRICS)[metric]
    return {
        "file": path,
        "metric": metric,
        "baseline": entry["baseline"] if metric == "percent" else None,
        "percent": figures.get(key),
        "target": getattr(target, metric),
        "checks": [c],
        "warn_only": target.warn_only,
        "met": c["met"],
        "short": c["short"],
    }
