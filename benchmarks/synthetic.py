"""Deterministic stored results of any size, for the report-scale benchmark and tests."""

from harness.evaluate import status, targets
from harness.spec.model import Target


def _figures(i: int) -> dict:
    statements = 40 + i % 160
    missed = (i * 7) % (statements // 2)
    start = 10 + i % 50
    percent = 100.0 * (statements - missed) / statements
    return {
        "statements": statements,
        "missed": missed,
        "percent": percent,
        "lines_percent": percent,
        "branches_percent": None,
        "missing": f"{start}-{start + missed}" if missed else "",
        "missing_branches": [f"{start}->{start + 2}"] if missed else [],
        "gaps": [
            {"lines": f"{start}-{start + missed}", "count": missed, "functions": [f"f{i}"], "classes": []}
        ]
        if missed
        else [],
        "functions": [
            {
                "name": f"f{i}",
                "start_line": start - 1,
                "statements": missed + 3,
                "missed": missed,
                "percent": 10.0,
            }
        ]
        if missed
        else [],
    }


def large_result(files: int, below_every: int = 3) -> dict:
    """A results.json of `files` files of which every `below_every`-th misses its target."""
    entries = {}
    for i in range(files):
        path = f"pkg/sub{i // 100:03d}/module_{i:05d}.py"
        figures = _figures(i)
        goal = 100.0 if i % below_every == 0 and figures["missed"] else 10.0
        entries[path] = targets.evaluate(figures, [Target(path, goal)], baseline=figures["percent"] - 1.0)
    total = sum(e["statements"] for e in entries.values())
    missed = sum(e["missed"] for e in entries.values())
    overall = targets.evaluate(
        {"statements": total, "missed": missed, "percent": 100.0 * (total - missed) / total},
        [Target("overall", 90.0, origin="overall")],
        None,
    )
    return {
        "module": f"big-{files}",
        "title": f"{files} files",
        "status": "in_progress",
        "status_label": "In Progress",
        "reason": None,
        "started_at": "2026-01-01T00:00:00+00:00",
        "finished_at": "2026-01-01T00:10:00+00:00",
        "commit": None,
        "step": None,
        "shards": None,
        "options": {"workers": None, "pytest_args": []},
        "spec": "../../module.yml",
        "spec_sha256": None,
        "branch": True,
        "tests": {"passed": files * 3, "failed": 0, "skipped": 0, "errors": 0},
        "overall": {**overall, "stretch": None},
        "files": entries,
        "unmet": status.unmet(entries, overall),
        "steps": [],
        "baseline": None,
        "suites": {},
        "skips": [],
        "failures": [],
        "acceptance": None,
        "carry_forward": [],
        "carried_in": [],
        "artifacts": [],
        "references": [],
        "notes": "",
    }
