"""Mutation scores against `mutation:` targets, and the survivor lists reports show. Plain data only."""

from collections.abc import Callable, Iterable

from harness.store.mutation import total


def check(score: float | None, rules: Iterable) -> dict:
    """One file's (or the total's) mutation checks: every rule with a `mutation` figure.

    Unrounded, like coverage targets: 89.99 does not meet 90. A file without mutants meets any target.
    """
    checks = [
        {
            "origin": rule.origin,
            "mutation": rule.mutation,
            "warn_only": rule.warn_only,
            "met": score is None or score >= rule.mutation,
        }
        for rule in rules
        if getattr(rule, "mutation", None) is not None
    ]
    gating = [c for c in checks if not c["warn_only"]]
    return {
        "score": score,
        "target": max((c["mutation"] for c in gating or checks), default=None),
        "checks": checks,
        "met": all(c["met"] for c in checks) if checks else None,
        "gating": bool(gating),
        "gating_met": all(c["met"] for c in gating),
    }


def evaluate(files: dict[str, dict], rules_for: Callable[[str], list], overall=None) -> dict:
    """Per file the checks of the rules `rules_for(path)` returns, the total against `overall`, and
    `unmet`: the keys (paths, then "overall") whose gating mutation targets are missed."""
    result = {path: check(entry["score"], rules_for(path)) for path, entry in files.items()}
    summary = total(files)
    result_overall = check(summary["score"], [overall] if overall is not None else [])
    unmet = [path for path, c in result.items() if not c["gating_met"]]
    if not result_overall["gating_met"]:
        unmet.append("overall")
    return {"files": result, "overall": result_overall, "unmet": unmet}


UNMET_PREFIX = "mutation:"  # unmet keys of mutation targets beside coverage's: `mutation:calc/ops.py`


def assess(
    doc: dict | None, measured: list[str], rules_for: Callable[[str], list], overall=None
) -> dict | None:
    """A run's mutation section: scores against `mutation:` targets, or None when there is neither.

    `doc` is the module's mutation.json with stale files left out (see `record.stale`). A measured file
    whose gating mutation target has no score (never mutated, or changed since) misses its target:
    `not_measured` lists it and `unmet` has `mutation:<path>`.
    """
    targeted = [p for p in measured if any(getattr(r, "mutation", None) is not None for r in rules_for(p))]
    overall_targeted = overall is not None and overall.mutation is not None
    if doc is None and not targeted and not overall_targeted:
        return None
    doc = doc or {"files": {}, "mutants": []}
    verdict = evaluate(doc["files"], rules_for, overall)
    missing = [p for p in targeted if p not in doc["files"]]
    gating_missing = [
        p for p in missing if any(not r.warn_only for r in rules_for(p) if r.mutation is not None)
    ]
    unmet = [*verdict["unmet"], *gating_missing]
    if overall_targeted and not doc["files"] and not overall.warn_only:
        unmet.append("overall")
    section = result_section(doc, {**verdict, "unmet": unmet})
    return {**section, "not_measured": missing, "unmet": [f"{UNMET_PREFIX}{key}" for key in unmet]}


def changed_lines(diff: str) -> tuple[str, str]:
    """The first removed and first added line of a mutant's diff, without indentation."""
    removed = next((line[1:].strip() for line in diff.splitlines()[2:] if line.startswith("-")), "")
    added = next((line[1:].strip() for line in diff.splitlines()[2:] if line.startswith("+")), "")
    return removed, added


def survivors(doc: dict, file: str) -> list[dict]:
    """What a report lists under a file's gap analysis: each survivor's line, operator, change, function."""
    rows = []
    for m in doc.get("mutants", []):
        if m["file"] == file and m["status"] == "survived":
            before, after = changed_lines(m["diff"])
            rows.append(
                {
                    "id": m["id"],
                    "line": m["line"],
                    "operator": m["operator"],
                    "function": m["function"],
                    "before": before,
                    "after": after,
                }
            )
    return sorted(rows, key=lambda r: (r["line"], r["id"]))


def equivalents(doc: dict, file: str) -> list[dict]:
    """The mutants set aside as equivalent, with their rationale (reports list them too)."""
    return [
        {"id": m["id"], "line": m["line"], "operator": m["operator"], "rationale": m["rationale"]}
        for m in doc.get("mutants", [])
        if m["file"] == file and m["status"] == "equivalent"
    ]


def result_section(doc: dict, verdict: dict) -> dict:
    """What results.json and the report can carry about mutation: per file the counts, score, target
    checks, survivors and equivalents; the total; the unmet keys; and when the mutants ran."""
    files = {
        path: {
            **counts,
            **{k: verdict["files"][path][k] for k in ("target", "checks", "met", "gating", "gating_met")},
            "survivors": survivors(doc, path),
            "equivalents": equivalents(doc, path),
        }
        for path, counts in doc["files"].items()
    }
    overall = {**total(doc["files"]), **{k: v for k, v in verdict["overall"].items() if k != "score"}}
    return {
        "finished_at": doc.get("finished_at"),
        "commit": doc.get("commit"),
        "files": files,
        "overall": overall,
        "unmet": verdict["unmet"],
    }


def mutated_files(result: dict) -> tuple[int, int]:
    """(files with mutation results, files measured): a total over some of the files says so."""
    mutated = (result.get("mutation") or {}).get("files", {})
    files = result.get("files", {})
    return sum(1 for path in files if path in mutated), len(files)
