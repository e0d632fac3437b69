"""`--changed [REF]`: the change in front of the reviewer. `harness run` of the tests it affects, `harness
mutate` of the mutants on its lines, `harness check`'s gate on the spec's `patch:` targets; each ends in
patch.json and PATCH.md (docs/harness.md, "Gating pull requests").

A run of the affected tests only never touches the module's stored result or its whole run's record:
its coverage report and contexts, and the patch mutants' verdicts, are kept apart with the tree they
were measured on, and patch.json is made from what was measured on the tree as it is.
"""

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness import workflow
from harness.errors import DataError, UsageError
from harness.evaluate import patch_json
from harness.evaluate.patch import gate, patch_coverage, patch_mutation
from harness.measure import affected, coverage, per_test
from harness.measure.outcomes import OUTCOMES
from harness.measure.selected import Selected, run_selected
from harness.measure.source_state import of_project as source_state_now
from harness.publish import publish_patch
from harness.report import patch as render
from harness.run.session import RunOptions
from harness.spec.changes import Changes, changes
from harness.spec.model import ModuleSpec
from harness.spec.preflight import check_spec
from harness.spec.project import Project
from harness.store import disk, layout, outcome_log, records
from harness.store import mutation as stored
from harness.store import patch as kept

Echo = Callable[[str], None]
PASSING = ("complete", "complete_with_variance")


@dataclass(frozen=True)
class Change:
    """The change since REF's merge base (`every` file; `found`: the module's measured files only), the
    files the module measures, and the fingerprint of the tree it was found on."""

    every: Changes
    found: Changes
    measured: list[str]
    tree: str

    def lines(self) -> dict[str, frozenset[int]]:
        """Per changed measured Python file, its changed lines (what `harness mutate` mutates)."""
        return {f.path: frozenset(f.lines) for f in self.found.files if f.path.endswith(".py") and f.lines}


def change_of(project: Project, spec: ModuleSpec, ref: str | None) -> Change:
    measured = check_spec(project, spec)
    own = (project.reports_dir.strip("/"), *layout.own_files(project))  # what the harness writes
    every = changes(project.root, ref or None, leave_out=own)
    return Change(every, every.within(measured), measured, per_test.tree_stamp(project))


@dataclass(frozen=True)
class Outcome:
    """What a `--changed` command gives the command line: patch.json (None when there was nothing to
    build it from), the module's result of a whole run (None when only the affected tests ran), and
    whether the tests or the patch gate failed."""

    doc: dict | None
    result: dict | None
    failed: bool

    @property
    def code(self) -> int:
        return 1 if self.failed else 0


def run(project: Project, spec: ModuleSpec, ref: str | None, options: RunOptions, echo: Echo) -> Outcome:
    """`harness run MODULE --changed [REF]`: the affected tests (or all, saying why), then patch.json."""
    change = change_of(project, spec, ref)
    result, tests_failed = _run(project, spec, change, options, echo)
    doc = document(project, spec, change, echo)
    for line in render.affected_lines(doc) + render.check_lines(doc):
        echo(line)
    echo(f"Patch report: {project.relative(layout.files(project, spec.id).patch_report)}")
    return Outcome(doc, result, tests_failed or not doc["gate"]["passed"])


def _run(project: Project, spec: ModuleSpec, change: Change, options: RunOptions, echo: Echo):
    """Run what the change affects and keep its coverage report with the tree; (the whole run's result
    or None, whether a test failed or the session broke)."""
    selection = affected.select(project, spec.id, spec.path.digest(), change.measured)
    at = layout.files(project, spec.id)
    if selection.everything:
        echo(f"Every test runs: {selection.reason}")
        result = workflow.run_module(project, spec, options, echo)
        measured = bool(result["files"])
        report = disk.read_json(at.coverage_report, "coverage report") if measured else {"files": {}}
        ran = sum(result["tests"].values())
        facts = {"tests": ran, "of": ran, "reason": selection.reason}
        broken = result["status"] == "failed"
    else:
        echo(f"Affected tests: {selection.reason}")
        selected = run_selected(project, spec, selection, options, echo)
        record, _ = per_test.read_record(project, spec.id)
        figures = coverage.file_figures(selected.report) if selected.report["files"] else {}
        files = patch_json.module_files(record.figures if record else {}, figures, selected.ran)
        result, report = None, selected.report
        facts = _affected(selected, selection, files)
        broken = _broken(facts)
    if per_test.tree_stamp(project) == change.tree:  # else measured on a tree that is gone
        kept.keep(project, at.selected_report, change.tree, {"report": report, "affected": facts})
    return result, broken


def _affected(selected: Selected, selection: affected.Selection, files: dict) -> dict:
    """patch.json's `affected` of a run of the affected tests (`measure.selected.Selected`)."""
    measured = selected.measured
    counts = measured.outcomes.totals.counts() if measured else dict.fromkeys(OUTCOMES, 0)
    return {
        "tests": sum(counts.values()),
        "of": selection.total,
        "reason": None,
        "counts": counts,
        "failure": selected.failure,
        "files": files,
    }


def _broken(facts: dict) -> bool:
    """Whether a run of the affected tests had a test fail or error, or broke (`affected` of patch.json)."""
    counts = facts.get("counts") or {}
    return bool(facts.get("failure") or counts.get("failed") or counts.get("errors"))


def mutate(project: Project, spec: ModuleSpec, ref: str | None, options, echo: Echo, cwd: Path) -> Outcome:
    """`harness mutate MODULE --changed [REF]`: only the mutants on changed lines, judged as a whole
    `harness mutate` judges them (the same tests, the shared cache); mutation.json is left as it is."""
    change = change_of(project, spec, ref)
    entries = _mutate(project, spec, change, options, echo, cwd)
    try:
        doc = document(project, spec, change, echo)
    except DataError as err:  # no coverage of this tree yet: the mutants are all there is to show
        mutation = patch_json.mutation_part(patch_mutation(entries, change.found))
        echo(f"patch: {render.mutation_text(mutation)}")
        echo(f"Note: no patch.json: {err}")
        wanted = spec.patch.mutation if spec.patch else None
        return Outcome(None, None, wanted is not None and (mutation["score"] or 0.0) < wanted)
    for line in render.check_lines(doc):
        echo(line)
    missed = any(c["metric"] == "mutation" and not c["met"] for c in doc["gate"]["checks"])
    return Outcome(doc, None, missed and not doc["gate"]["passed"])


def _mutate(project: Project, spec: ModuleSpec, change: Change, options, echo: Echo, cwd: Path) -> list[dict]:
    """Run the mutants on the change's lines and keep their verdicts with the tree."""
    from harness.mutation import engine  # libcst and mutmut: only for mutation

    lines = change.lines()
    files = [f for f in engine.chosen_files(project, spec, change.measured, options.files, cwd) if f in lines]
    if not files:
        echo(f"Mutating {spec.id}: no changed line in a file it mutates, so no mutant")
        entries = []
    else:
        chosen = dataclasses.replace(options, files=tuple(files), changed=lines)
        entries = engine.mutate(project, spec, chosen, echo, cwd).entries
    if per_test.tree_stamp(project) == change.tree:
        kept.keep(project, layout.files(project, spec.id).selected_mutants, change.tree, entries)
    return entries


def check(
    project: Project, spec: ModuleSpec, ref: str | None, fresh: bool, workers: int | None, echo: Echo
) -> Outcome:
    """`harness check MODULE --changed [REF] [--run]`: with --run, the affected tests and (for a
    `patch: {mutation}` target) the patch's mutants first; the module's own result as `check` reads it."""
    change = change_of(project, spec, ref)
    if fresh:
        result, tests_failed = _run(project, spec, change, RunOptions(workers=workers), echo)
        if spec.patch is not None and spec.patch.mutation is not None:
            from harness import mutate as mutation  # libcst and mutmut: only for mutation

            options = mutation.options((), workers or 1, None, False, False, None, None)
            _mutate(project, spec, change, options, echo, project.root)
        doc = document(project, spec, change, echo)
    else:
        result = records.load_if_any(layout.files(project, spec.id))
        doc = document(project, spec, change, echo, publish=False)
        tests_failed = _broken(doc["affected"] or {})
    module_failed = result is not None and result["status"] not in PASSING
    return Outcome(doc, result, tests_failed or module_failed or not doc["gate"]["passed"])


def document(project: Project, spec: ModuleSpec, change: Change, echo: Echo, publish: bool = True) -> dict:
    """patch.json from what was measured on this tree, published with PATCH.md and its event (not by
    `check` without --run, which measures nothing)."""
    at = layout.files(project, spec.id)
    run = kept.kept(at.selected_report, change.tree)
    if run is not None:
        report, facts = run["report"], run["affected"]
    else:
        report, facts = _whole_report(project, spec, change, echo), None
    entries = _mutants(project, spec, change)
    covered = patch_coverage(report, change.found)
    mutation = None if entries is None else patch_mutation(entries, change.found)
    doc = patch_json.document(
        spec.id, change.every, covered, mutation, spec.patch, gate(covered, mutation, spec.patch), facts
    )
    if publish:
        publish_patch(project, spec.id, doc)
    return doc


def _whole_report(project: Project, spec: ModuleSpec, change: Change, echo: Echo) -> dict:
    """coverage.py's report of the module's last whole run, noting when it may be of another tree."""
    at = layout.files(project, spec.id)
    if not at.coverage_report.is_file():
        raise DataError(
            f"{spec.id}: no coverage of this change yet; `harness run {spec.id} --changed` measures it"
        )
    if not (per_test.on_tree(project, spec.id) or _ran_on_this_tree(project, at)):
        echo(
            f"Note: patch coverage from {spec.id}'s last whole run, which may have run on another tree"
            f" (`harness check {spec.id} --run --changed` measures this one)"
        )
    return disk.read_json(at.coverage_report, "coverage report")


def _ran_on_this_tree(project: Project, at: layout.ModuleFiles) -> bool:
    """Whether the stored whole run ran at the project's source state now: its line in the outcome log
    (the one that finished when the result did) names that state."""
    result = records.load_if_any(at)
    if result is None:
        return False
    finished = result.get("finished_at")
    logged = [line for line in outcome_log.read([at.outcomes]) if line.at == finished]
    return bool(logged) and logged[-1].state == source_state_now(project)


def _mutants(project: Project, spec: ModuleSpec, change: Change) -> list[dict] | None:
    """The verdicts of the mutants on this tree: the last `harness mutate --changed`'s, else those of
    mutation.json if it holds every changed file as it is now; None when neither has them."""
    at = layout.files(project, spec.id)
    entries = kept.kept(at.selected_mutants, change.tree)
    if entries is not None:
        return entries
    whole = stored.fresh(project, spec.id)
    if whole is None or not set(change.lines()) <= set(whole["files"]):
        return None
    return whole["mutants"]


def refuse_with(what: str, **given) -> None:
    """One line when `--changed` meets an option it cannot be combined with."""
    clashing = [f"--{name.replace('_', '-')}" for name, value in given.items() if value]
    if clashing:
        raise UsageError(f"--changed {what}; it cannot be combined with {', '.join(clashing)}")
