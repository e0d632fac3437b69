"""Coverage against targets and baselines, status and carry-forward: pure functions on plain data."""

from harness.evaluate import mutation as gating
from harness.evaluate.contract import Evaluation, Inputs, Measured
from harness.spec.globs import matches
from harness.spec.model import ModuleSpec, Step, Target

METRICS = (("percent", "percent"), ("lines", "lines_percent"), ("branches", "branches_percent"))
STATUS_LABELS = {
    "complete": "Complete",
    "complete_with_variance": "Complete with Documented Variance",
    "in_progress": "In Progress",
    "failed": "Failed",
    "unstable": "Unstable",  # unstable tests or coverage across runs (harness.evaluate.stability_verdict)
}


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


def unmet(files: dict[str, dict], overall: dict | None) -> list[str]:
    """Keys (file paths, then "overall") whose gating targets are not met."""
    keys = [path for path, entry in files.items() if not entry["gating_met"]]
    if overall and not overall["gating_met"]:
        keys.append("overall")
    return keys


def status(failure: str | None, tests: dict, unmet_keys: list[str], accepted: list[str] | None) -> str:
    """Failed beats everything; then Complete, accepted variance, or In Progress."""
    if failure or tests.get("failed") or tests.get("errors"):
        return "failed"
    if not unmet_keys:
        return "complete"
    if accepted is not None and set(unmet_keys) <= set(accepted):
        return "complete_with_variance"
    return "in_progress"


def failure_reason(processes, tests: dict, coverage_problem: str | None) -> str | None:
    """Why a session counts as broken rather than merely failing tests (None when it ran properly).

    `processes` are `(exit status, pytest's own explanation)` pairs; a status of 5 (nothing collected)
    breaks the session only when no process ran a test (a shard or a `-k` may select nothing).
    """
    for code, error in processes:
        if code not in (0, 1, 5):
            return error or f"pytest exited with status {code}"
    if sum(tests.values()) == 0:
        return next((error for code, error in processes if code == 5 and error), "pytest collected no tests")
    return coverage_problem


def carry_forward_items(files: dict[str, dict], overall: dict | None, module: str) -> list[dict]:
    """Unmet gating targets as items a later module can take over."""
    items = []
    for path, entry in files.items():
        for c in entry["checks"]:
            if c["warn_only"] or c["met"]:
                continue
            items.append(
                {
                    "file": path,
                    "from": module,
                    "origin": c["origin"],
                    "percent": entry["percent"],
                    "target": {m: c[m] for m, _ in METRICS if c[m] is not None},
                    "missing": entry.get("missing", ""),
                    "functions": _gap_functions(entry),
                }
            )
    if overall and not overall["gating_met"]:
        items.append(
            {
                "file": "overall",
                "from": module,
                "origin": "overall",
                "percent": overall["percent"],
                "target": {"percent": overall["target"]},
                "missing": "",
                "functions": [],
            }
        )
    return items


def _gap_functions(entry: dict) -> list[str]:
    names: dict[str, None] = {}
    for gap in entry.get("gaps", []):
        names.update(dict.fromkeys(gap["functions"]))
    return list(names)


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


def compare(a: dict, b: dict) -> dict:
    """Per-file and overall comparison of two stored results: A's percent, B's, and B minus A."""
    files = {}
    for path in sorted(set(a.get("files", {})) | set(b.get("files", {}))):
        pa = a.get("files", {}).get(path, {}).get("percent")
        pb = b.get("files", {}).get(path, {}).get("percent")
        files[path] = {"a": pa, "b": pb, "delta": pb - pa if pa is not None and pb is not None else None}
    oa, ob = (r.get("overall", {}).get("percent") for r in (a, b))
    overall = {"a": oa, "b": ob, "delta": ob - oa if oa is not None and ob is not None else None}
    return {"a": a.get("module"), "b": b.get("module"), "files": files, "overall": overall}


def evaluate_run(spec: ModuleSpec, inputs: Inputs, measured: Measured) -> Evaluation:
    """The one evaluation of a run: files, overall, steps, unmet keys, status and carry-forward items."""
    step = spec.steps[measured.step - 1] if measured.step else None
    has_figures = measured.files is not None and not measured.failure
    files, overall = _coverage_entries(spec, step, inputs, measured) if has_figures else ({}, _no_overall())
    overall["stretch"] = None if step else spec.stretch
    counts = measured.outcomes.totals.counts()
    mutation = None if step or not has_figures else _mutation(spec, inputs, list(files))
    missed = [*unmet(files, overall), *(mutation["unmet"] if mutation else [])] if has_figures else []
    accepted = inputs.acceptance["accepted"] if inputs.acceptance else None
    state = status(measured.failure, counts, missed, accepted)
    variance = state == "complete_with_variance"
    return Evaluation(
        files=files,
        overall=overall,
        steps=step_rows(() if step else spec.steps, files, measured.step_files) if has_figures else [],
        unmet=missed,
        status=state,
        reason=measured.failure or _test_reason(counts),
        carry_forward=carry_forward_items(files, overall, spec.id) if variance else [],
        mutation=mutation,
    )


def _mutation(spec: ModuleSpec, inputs: Inputs, measured: list[str]) -> dict | None:
    """Mutation scores against the spec's `mutation:` targets (module and step targets, and overall)."""
    carried = carried_targets(list(inputs.carried))
    return gating.assess(
        inputs.mutation, measured, lambda p: constraints(p, spec.targets, carried, spec.steps), spec.overall
    )


def _coverage_entries(spec: ModuleSpec, step: Step | None, inputs: Inputs, measured: Measured):
    """Per-file and overall entries against the module's (or the step's) targets and the baseline."""
    base = inputs.baseline or {"files": {}, "overall": None}
    if step:
        file_targets, carried, steps, rules = step.targets, (), (), []
    else:
        file_targets, steps = spec.targets, spec.steps
        carried = carried_targets(list(inputs.carried))
        # Without an overall target of its own, the module takes over a carried overall item.
        rules = [spec.overall] if spec.overall else list(carried_targets(list(inputs.carried), overall=True))
    files = evaluate_files(measured.files, file_targets, carried, steps, base["files"], measured.step_files)
    return files, evaluate(measured.totals, rules, base["overall"])


def _no_overall() -> dict:
    return {
        "statements": None,
        "missed": None,
        "percent": None,
        "baseline": None,
        "delta": None,
        "target": None,
        "met": None,
        "gating": False,
        "gating_met": True,
        "checks": [],
    }


def _test_reason(counts: dict) -> str | None:
    bad = counts["failed"] + counts["errors"]
    return f"{bad} test{'s' if bad != 1 else ''} failed or errored" if bad else None
