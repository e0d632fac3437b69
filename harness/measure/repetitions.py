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
from harness.measure.coverage import combine, json_report, split_percents
from harness.measure.outcomes import iter_records

FAILING = ("failed", "errors")


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

    def before(self, test: str) -> tuple[str, ...]:
        """The tests that ran before `test` in the same process: what may have left state behind."""
        run = self.tests.get(test)
        ran = self.order.get(run.process, ()) if run else ()
        return ran[: ran.index(test)] if test in ran else ()


def read_repetition(
    number: int, root: Path, records: Sequence[Path], data_file: Path, out_dir: Path
) -> Repetition:
    """A repetition from its records files (one per pytest process, in order) and its coverage data file."""
    tests, order, seed = read_tests(records)
    return Repetition(number, tests, order, read_coverage(root, data_file, out_dir), seed)


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


def read_coverage(root: Path, data_file: Path, out_dir: Path) -> dict[str, FileCoverage]:
    """Each file's lines and branches covered in one repetition (coverage.py's JSON report, in `out_dir`)."""
    report = json_report(root, data_file, out_dir)
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
