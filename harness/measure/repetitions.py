"""One repetition of a module's tests, read back: each test's outcome and run order from the session's
records, each file's covered lines and branches from its coverage data; and the repetitions merged.

`harness run --repeat N` runs the tests N times, each repetition in its own session with its own records
files and coverage data file. The merged data is coverage.py's combination of the N data files, equal to
one run that appended them all: the published figures come from it, with no test run again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import DataError
from harness.measure.coverage import combine, file_figures, json_report, split_percents, step_figures, totals
from harness.run.bisect import Reproduction
from harness.run.records import iter_records

FAILING = ("failed", "errors")
PERCENTS = ("percent", "lines_percent", "branches_percent")


@dataclass(frozen=True)
class Attempt:
    """A failed attempt of a test that pytest-rerunfailures ran again."""

    outcome: str  # failed | errors
    message: str
    details: str = ""


@dataclass(frozen=True)
class TestRun:
    """One test in one repetition: its final outcome, where it ran, and the attempts that failed before."""

    __test__ = False  # not a pytest test class, whatever its name

    outcome: str  # passed | failed | errors | skipped
    message: str = ""
    details: str = ""
    process: str = "1"  # the pytest process that ran it: `<invocation number>`, `/<xdist worker>` after
    reruns: tuple[Attempt, ...] = ()

    @property
    def failed(self) -> bool:
        return self.outcome in FAILING

    @property
    def passed_after_failing(self) -> bool:
        """Failed, ran again and passed: a flaky test, never a plain pass."""
        return self.outcome == "passed" and bool(self.reruns)


@dataclass(frozen=True)
class FileCoverage:
    """One file's coverage in one repetition, as coverage.py reports it (multi-line statements joined)."""

    statements: frozenset[int]
    executed: frozenset[int]
    branches: frozenset[tuple[int, int]]  # every branch arc coverage.py knows of; the exit as a negative
    taken: frozenset[tuple[int, int]]
    percent: float
    lines_percent: float
    branches_percent: float | None

    def figures(self) -> dict:
        """The figures a target is checked against (`harness.evaluate.targets.shortfalls`)."""
        return {
            "percent": self.percent,
            "lines_percent": self.lines_percent,
            "branches_percent": self.branches_percent,
        }


@dataclass(frozen=True)
class Repetition:
    """Everything one repetition measured."""

    number: int
    tests: Mapping[str, TestRun]
    order: Mapping[str, tuple[str, ...]]  # process -> node ids in the order they ran there
    files: Mapping[str, FileCoverage] = field(default_factory=dict)
    seed: int | None = None  # the seed that shuffled it (the harness's, else pytest-randomly's)
    # What the report shows of a file, the overall and each step's files (`harness.measure.coverage`'s
    # figures), from this repetition's data alone: the gate takes the lowest repetition's.
    figures: Mapping[str, dict] = field(default_factory=dict)
    totals: dict | None = None
    step_files: Mapping[int, Mapping[str, dict]] = field(default_factory=dict)

    def before(self, test: str) -> tuple[str, ...]:
        """The tests that ran before `test` in the same process: what may have left state behind."""
        run = self.tests.get(test)
        ran = self.order.get(run.process, ()) if run else ()
        return ran[: ran.index(test)] if test in ran else ()


@dataclass(frozen=True)
class Repeated:
    """What a run's tests did beside its figures: each repetition (a run without --repeat has one, of its
    tests alone), what replaying the tests that failed in one and passed in another found (by test), and
    the source state they ran at (`harness.measure.source_state`)."""

    repetitions: tuple[Repetition, ...]
    state: str
    reproductions: Mapping[str, Reproduction] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return len(self.repetitions)


def read_repetition(
    number: int,
    root: Path,
    records: Sequence[Path],
    data_file: Path,
    out_dir: Path,
    steps: Sequence[int] = (),
    report: dict | None = None,
) -> Repetition:
    """A repetition from its records files (one per pytest process, in order) and its coverage data file
    (coverage.py's JSON reports, each step's too, in `out_dir`: `report` when they are made already)."""
    tests, order, seed = read_tests(records)
    report = report or json_report(root, data_file, out_dir, tuple(steps))
    files = covered_files(report)
    figures, overall = file_figures(report), totals(report)
    per_step = step_figures(out_dir, list(steps)) if steps else {}
    return Repetition(number, tests, order, files, seed, figures, overall, per_step)


def plain(records: Sequence[Path]) -> Repetition:
    """A run's only repetition, its tests alone: what a run without --repeat records of its outcomes."""
    tests, order, seed = read_tests(records)
    return Repetition(1, tests, order, seed=seed)


def read_tests(records: Sequence[Path]) -> tuple[dict[str, TestRun], dict[str, tuple[str, ...]], int | None]:
    """Each test's run, each process's order and the shuffle seed, from a session's records files."""
    tests: dict[str, TestRun] = {}
    order: dict[str, list[str]] = {}
    seed = None
    for number, path in enumerate(records, 1):
        for _, record in iter_records(path):
            event = record.get("event")
            if event == "order" and seed is None:
                seed = record.get("shuffle_seed", record.get("randomly_seed"))
            elif event == "test":
                nodeid, run = _test_run(path, number, record)
                tests[nodeid] = run
                if not record.get("collection"):
                    order.setdefault(run.process, []).append(nodeid)
    return tests, {process: tuple(ids) for process, ids in order.items()}, seed


def _test_run(path: Path, number: int, record: dict) -> tuple[str, TestRun]:
    try:
        worker = record.get("worker")
        nodeid = record["nodeid"]
        run = TestRun(
            outcome=record["outcome"],
            message=record.get("message", ""),
            details=record.get("details", ""),
            process=f"{number}/{worker}" if worker else str(number),
            reruns=tuple(_attempt(attempt) for attempt in record.get("reruns", ())),
        )
    except (KeyError, TypeError) as err:
        raise DataError(f"{path}: a test record lacks {err}") from err
    # A collection error is named as `harness.measure.outcomes` names it.
    return (f"{nodeid} (collection)" if record.get("collection") else nodeid), run


def _attempt(attempt: dict) -> Attempt:
    return Attempt(attempt["outcome"], attempt["message"], attempt.get("details", ""))


def covered_files(report: dict) -> dict[str, FileCoverage]:
    """Each file's lines and branches covered, from coverage.py's JSON report of a repetition."""
    return {path: _file_coverage(data) for path, data in report["files"].items()}


def _file_coverage(data: dict) -> FileCoverage:
    executed, missing = frozenset(data["executed_lines"]), frozenset(data["missing_lines"])
    taken = frozenset(tuple(arc) for arc in data.get("executed_branches", ()))
    missed = frozenset(tuple(arc) for arc in data.get("missing_branches", ()))
    percents = split_percents(data["summary"])
    return FileCoverage(
        statements=executed | missing,
        executed=executed,
        branches=taken | missed,
        taken=taken,
        percent=data["summary"]["percent_covered"],
        lines_percent=percents["lines_percent"],
        branches_percent=percents["branches_percent"],
    )


def merge(root: Path, data_files: Sequence[Path], dest: Path) -> Path:
    """Combine the repetitions' coverage data into `dest` (each repetition's own file is kept)."""
    missing = [str(path) for path in data_files if not path.is_file()]
    if missing:
        raise DataError(f"no coverage data from a repetition: {', '.join(missing)}")
    combine(root, list(data_files), dest)
    return dest


def lowest_figures(reps: Sequence[Repetition]) -> dict[str, dict]:
    """Per file, the figures of the repetition that covered it least, its percent, line percent and
    branch percent each the lowest of any repetition: what the gate judges a file by, so that a target
    met only when a timer fired first is not met."""
    return _lowest([{**{p: c.figures() for p, c in rep.files.items()}, **rep.figures} for rep in reps])


def lowest_totals(reps: Sequence[Repetition]) -> dict | None:
    """The overall figures of the repetition with the lowest overall percent."""
    known = [rep.totals for rep in reps if rep.totals is not None]
    return dict(min(known, key=lambda t: t["percent"])) if known else None


def lowest_step_files(reps: Sequence[Repetition]) -> dict[int, dict[str, dict]]:
    """Per step, `lowest_figures` of that step's own tests."""
    steps = sorted({number for rep in reps for number in rep.step_files})
    return {number: _lowest([rep.step_files.get(number, {}) for rep in reps]) for number in steps}


def _lowest(per_rep: Sequence[Mapping[str, dict]]) -> dict[str, dict]:
    lowest: dict[str, dict] = {}
    for path in sorted({path for figures in per_rep for path in figures}):
        present = [figures[path] for figures in per_rep if path in figures]
        absent = len(present) < len(per_rep)  # a repetition that did not report the file covered none of it
        worst = dict(min(present, key=lambda f: f["percent"]))
        lowest[path] = {**worst, **{key: _least([f[key] for f in present], absent) for key in PERCENTS}}
    return lowest


def _least(values: list, absent: bool) -> float | None:
    known = [v for v in values if v is not None]
    if not known:
        return None
    return 0.0 if absent else min(known)
