"""Status, unmet keys, and the carry-forward items of accepted variance (pure)."""

from harness.evaluate.targets import METRICS

STATUS_LABELS = {
    "complete": "Complete",
    "complete_with_variance": "Complete with Documented Variance",
    "in_progress": "In Progress",
    "failed": "Failed",
    "unstable": "Unstable",  # flaky or order-dependent tests, unstable coverage (`stability_verdict`)
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
