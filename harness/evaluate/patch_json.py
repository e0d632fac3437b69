"""patch.json: a change's coverage, mutants and gate as the document the reports are rendered from.

The shape is documented in docs/harness.md ("Gating pull requests"); percents are unrounded, null when
there is nothing to measure.
"""

from harness.evaluate.patch import Figures, FilePatch, PatchCoverage, PatchMutant, PatchMutation, Verdict
from harness.spec.changes import Changes
from harness.spec.model import PatchTarget

FORMAT = 1


def document(
    module: str,
    changes: Changes,
    coverage: PatchCoverage,
    mutation: PatchMutation | None,
    target: PatchTarget | None,
    verdict: Verdict,
    affected: dict | None = None,
) -> dict:
    """The whole patch.json. `affected` is what `harness run --changed` ran: `{"tests": n, "of": n,
    "reason": str | None}` (`reason`: why every test ran), and for a run of the affected tests only
    also `counts` (outcomes), `failure` (why the session broke) and `files` (`module_files`); None when
    the coverage is the last whole run's."""
    measured = {f.path for f in coverage.files}
    return {
        "format": FORMAT,
        "module": module,
        "base": {"ref": changes.ref, "commit": changes.base},
        "head": {"commit": changes.head, "uncommitted": changes.uncommitted},
        "files": {f.path: _file(f, mutation) for f in coverage.files},
        "totals": {"changed": sum(len(f.changed) for f in coverage.files), **_figures(coverage.totals)},
        "mutation": None if mutation is None else _mutation(mutation),
        "gate": _gate(target, verdict),
        "outside": sorted(f.path for f in changes.files if f.path not in measured),
        "deleted": list(changes.deleted),
        "affected": affected,
    }


def _figures(figures: Figures) -> dict:
    return {
        "statements": figures.statements,
        "covered_lines": figures.covered,
        "missing_lines": figures.statements - figures.covered,
        "lines_percent": figures.lines_percent,
        "branches": figures.branches,
        "covered_branches": figures.covered_branches,
        "branches_percent": figures.branches_percent,
        "percent": figures.percent,
    }


def _file(patch: FilePatch, mutation: PatchMutation | None) -> dict:
    return {
        "changed": list(patch.changed),
        "covered": list(patch.covered),
        "missing": list(patch.missing),
        "missing_branches": [_arc(a, b) for a, b in patch.missing_branches],
        **_figures(patch.figures),
        "mutation": None if mutation is None else _counts(mutation, patch.path),
    }


def _arc(start: int, end: int) -> str:
    return f"{start}->{end if end > 0 else 'exit'}"


def _counts(mutation: PatchMutation, path: str | None) -> dict:
    return {**mutation.counts(path), "score": mutation.score(path)}


def mutation_part(mutation: PatchMutation) -> dict:
    """patch.json's `mutation`: the counts, the score and the survivors."""
    return _mutation(mutation)


def _mutation(mutation: PatchMutation) -> dict:
    return {**_counts(mutation, None), "survivors": [_mutant(m) for m in mutation.survivors]}


def _mutant(mutant: PatchMutant) -> dict:
    return {
        "id": mutant.id,
        "file": mutant.file,
        "line": mutant.line,
        "operator": mutant.operator,
        "function": mutant.function,
        "status": mutant.status,
        "diff": mutant.diff,
    }


def _gate(target: PatchTarget | None, verdict: Verdict) -> dict:
    return {
        "target": None
        if target is None
        else {
            "coverage": target.coverage,
            "branches": target.branches,
            "mutation": target.mutation,
            "warn_only": target.warn_only,
        },
        "measurable": verdict.measurable,
        "met": verdict.met,
        "passed": verdict.passed,
        "checks": [
            {"metric": c.metric, "target": c.target, "figure": c.figure, "met": c.met, "note": c.note}
            for c in verdict.checks
        ],
    }


FIGURES = ("percent", "lines_percent", "branches_percent", "statements", "missed")


def module_files(recorded: dict[str, dict], selected: dict[str, dict], ran: frozenset[str]) -> dict:
    """Per measured file, its figures after a run of the affected tests: the run's own, marked
    `partial`, where a test of it ran the file (or the record has no figures of it); else the whole
    run's, from its record, marked `carried`. (`recorded`, `selected`: `coverage.file_figures` of each.)"""
    files = {}
    for path in sorted(set(recorded) | set(selected)):
        if path in ran or path not in recorded:
            figures = selected.get(path, {})
            files[path] = {**{k: figures.get(k) for k in FIGURES}, "partial": True}
        else:
            files[path] = {**{k: recorded[path].get(k) for k in FIGURES}, "carried": "record"}
    return files
