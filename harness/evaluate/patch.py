"""Patch coverage, patch mutation and the patch gate: the lines a change adds or edits, on plain data.

Coverage comes from coverage.py's JSON report (format 3) of the working tree, the change from
`harness.spec.changes`. A changed line counts when coverage.py calls it a statement (as diff-cover
and Codecov count it: a multi-line statement is its first line); a branch counts when it starts on a
changed statement. No I/O here.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from harness.spec.changes import Changes
from harness.spec.model import PatchTarget

SURVIVING = ("survived", "no_tests")  # what a reviewer must look at: no test noticed the mutant
STATUSES = ("killed", "survived", "timeout", "no_tests", "equivalent")


@dataclass(frozen=True)
class Figures:
    """Changed statements and branches, and how many of each ran."""

    statements: int = 0
    covered: int = 0
    branches: int = 0
    covered_branches: int = 0

    @property
    def lines_percent(self) -> float | None:
        """diff-cover's figure: changed statements that ran, of changed statements."""
        return 100.0 * self.covered / self.statements if self.statements else None

    @property
    def branches_percent(self) -> float | None:
        return 100.0 * self.covered_branches / self.branches if self.branches else None

    @property
    def percent(self) -> float | None:
        """Lines and branches together, as coverage.py's `percent_covered` counts them."""
        total = self.statements + self.branches
        return 100.0 * (self.covered + self.covered_branches) / total if total else None

    def __add__(self, other: "Figures") -> "Figures":
        return Figures(
            self.statements + other.statements,
            self.covered + other.covered,
            self.branches + other.branches,
            self.covered_branches + other.covered_branches,
        )


@dataclass(frozen=True)
class FilePatch:
    """One measured file's part of the change."""

    path: str
    changed: tuple[int, ...]  # every line the change adds or edits
    covered: tuple[int, ...]  # changed statements that ran
    missing: tuple[int, ...]  # changed statements that did not
    missing_branches: tuple[tuple[int, int], ...] = ()
    branches: int = 0
    covered_branches: int = 0

    @property
    def figures(self) -> Figures:
        statements = len(self.covered) + len(self.missing)
        return Figures(statements, len(self.covered), self.branches, self.covered_branches)


@dataclass(frozen=True)
class PatchCoverage:
    files: tuple[FilePatch, ...]

    @property
    def totals(self) -> Figures:
        return sum((f.figures for f in self.files), Figures())

    @property
    def measurable(self) -> bool:
        """Whether the change touches any statement a test could run."""
        return self.totals.statements > 0


def patch_coverage(report: dict, changes: Changes) -> PatchCoverage:
    """The change's lines and branches in each measured file (a file of `report`) it touches."""
    measured = report.get("files", {})
    files = []
    for change in changes.files:
        data = measured.get(change.path)
        if data is None or change.binary:
            continue
        files.append(_file_patch(change.path, change.lines, data))
    return PatchCoverage(tuple(files))


def _file_patch(path: str, lines: tuple[int, ...], data: dict) -> FilePatch:
    changed = set(lines)
    ran, missed = set(data.get("executed_lines", ())) & changed, set(data.get("missing_lines", ())) & changed
    statements = ran | missed
    executed = [tuple(arc) for arc in data.get("executed_branches", ()) if arc[0] in statements]
    unexecuted = [tuple(arc) for arc in data.get("missing_branches", ()) if arc[0] in statements]
    return FilePatch(
        path,
        tuple(sorted(changed)),
        tuple(sorted(ran)),
        tuple(sorted(missed)),
        tuple(sorted(unexecuted)),
        len(executed) + len(unexecuted),
        len(executed),
    )


@dataclass(frozen=True)
class PatchMutant:
    """A mutant on a changed line and its verdict (an entry of mutation.json)."""

    id: str
    file: str
    line: int
    operator: str
    function: str | None
    status: str
    diff: str


@dataclass(frozen=True)
class PatchMutation:
    mutants: tuple[PatchMutant, ...]

    def counts(self, path: str | None = None) -> dict[str, int]:
        chosen = [m for m in self.mutants if path is None or m.file == path]
        return {"mutants": len(chosen), **{s: sum(m.status == s for m in chosen) for s in STATUSES}}

    def score(self, path: str | None = None) -> float | None:
        """(killed + timeout) / (mutants - equivalent), as `harness mutate` scores; None without mutants."""
        counts = self.counts(path)
        counted = counts["mutants"] - counts["equivalent"]
        return 100.0 * (counts["killed"] + counts["timeout"]) / counted if counted else None

    @property
    def survivors(self) -> tuple[PatchMutant, ...]:
        return tuple(m for m in self.mutants if m.status in SURVIVING)


def on_changed_line(changes: Changes, file: str, line: int) -> bool:
    """Whether a mutant (its file, its first mutated line) sits on a line the change adds or edits."""
    return line in changes.lines(file)


def patch_mutation(entries: Iterable[dict], changes: Changes) -> PatchMutation:
    """The mutants (mutation.json entries) that sit on changed lines, in file and line order."""
    chosen = [e for e in entries if on_changed_line(changes, e["file"], e["line"])]
    chosen.sort(key=lambda e: (e["file"], e["line"], e["id"]))
    fields = ("id", "file", "line", "operator", "function", "status", "diff")
    return PatchMutation(tuple(PatchMutant(*(e.get(name) for name in fields)) for e in chosen))


@dataclass(frozen=True)
class Check:
    """One patch target against its figure; `figure` None: nothing to measure, or not measured."""

    metric: str  # coverage | branches | mutation
    target: float
    figure: float | None
    met: bool
    note: str = ""


@dataclass(frozen=True)
class Verdict:
    checks: tuple[Check, ...]
    warn_only: bool
    measurable: bool

    @property
    def met(self) -> bool:
        return all(c.met for c in self.checks)

    @property
    def passed(self) -> bool:
        """What the exit status follows: every target met, or the targets only warn."""
        return self.met or self.warn_only


def gate(coverage: PatchCoverage, mutation: PatchMutation | None, target: PatchTarget | None) -> Verdict:
    """The patch against the spec's `patch:` targets. A change with no measurable line meets every
    target; a mutation target without a patch mutation run (`mutation` None) is missed, as not measured."""
    if target is None:
        return Verdict((), False, coverage.measurable)
    totals, checks = coverage.totals, []
    for metric, figure, nothing in (
        ("coverage", totals.lines_percent, "no changed statement"),
        ("branches", totals.branches_percent, "no branch starts on a changed line"),
    ):
        wanted = getattr(target, metric)
        if wanted is not None:
            checks.append(
                Check(metric, wanted, figure, figure is None or figure >= wanted, _note(figure, nothing))
            )
    if target.mutation is not None:
        checks.append(_mutation_check(target.mutation, coverage, mutation))
    return Verdict(tuple(checks), target.warn_only, coverage.measurable)


def _note(figure: float | None, nothing: str) -> str:
    return nothing if figure is None else ""


def _mutation_check(wanted: float, coverage: PatchCoverage, mutation: PatchMutation | None) -> Check:
    if mutation is None:
        if not coverage.measurable:
            return Check("mutation", wanted, None, True, "no changed statement")
        return Check("mutation", wanted, None, False, "not measured (harness mutate MODULE --changed)")
    score = mutation.score()
    if score is None:
        return Check("mutation", wanted, None, True, "no mutant on the changed lines")
    return Check("mutation", wanted, score, score >= wanted)
