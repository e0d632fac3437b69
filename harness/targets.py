"""Coverage against targets and baselines, status and carry-forward: pure functions on plain data."""

from harness.paths import matches
from harness.spec import Step, Target

METRICS = (("percent", "percent"), ("lines", "lines_percent"), ("branches", "branches_percent"))
STATUS_LABELS = {
    "complete": "Complete",
    "complete_with_variance": "Complete with Documented Variance",
    "in_progress": "In Progress",
    "failed": "Failed",
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
    for step in steps:
        step_target = resolve(path, step.targets)
        if step_target:
            found.append(step_target)
    return found


def evaluate(figures: dict, rules: list[Target], baseline: float | None) -> dict:
    """One file's (or the overall) entry: figures, baseline, delta, targets, met."""
    checks = [check(figures, rule) for rule in rules]
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


def evaluate_files(figures, targets, carried, steps, baseline: dict[str, float]) -> dict[str, dict]:
    return {
        path: evaluate(fig, constraints(path, targets, carried, steps), baseline.get(path))
        for path, fig in figures.items()
    }


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


def failure_reason(exit_codes: tuple[int, ...], tests: dict, has_coverage: bool) -> str | None:
    """Why a session counts as broken rather than merely failing tests (None when it ran properly)."""
    crashed = [c for c in exit_codes if c not in (0, 1, 5)]
    if crashed:
        return f"pytest session crashed or was interrupted (exit status {crashed[0]}; see pytest.log)"
    if sum(tests.values()) == 0:
        return "pytest collected no tests"
    if not has_coverage:
        return "the tests ran but coverage.py recorded no data for the measured source"
    return None


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


def step_rows(steps: tuple[Step, ...], files: dict[str, dict]) -> list[dict]:
    """Per step, each file its targets name with baseline, target, achieved and met."""
    table = []
    for number, step in enumerate(steps, 1):
        rows = []
        for target in step.targets:
            for path in sorted(p for p in files if matches(p, target.pattern)):
                entry = files[path]
                c = check(entry, target)
                rows.append(
                    {
                        "file": path,
                        "baseline": entry["baseline"],
                        "percent": entry["percent"],
                        "target": target.percent,
                        "checks": [c],
                        "warn_only": target.warn_only,
                        "met": c["met"],
                        "short": c["short"],
                    }
                )
        met = all(r["met"] or r["warn_only"] for r in rows)
        table.append(
            {
                "number": number,
                "name": step.name,
                "suites": [s.path for s in step.suites],
                "rows": rows,
                "met": met,
            }
        )
    return table


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
