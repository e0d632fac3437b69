"""What a session (or the shards combined) measured: outcomes, coverage figures, per-step figures, and,
if it broke, why. coverage.py's reports are made in the run's work directory (`out/`)."""

from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import DataError
from harness.measure import coverage, metrics
from harness.measure.metrics import Measurement
from harness.measure.outcomes import Outcomes, read_records
from harness.measure.repetitions import Repeated, lowest_figures, lowest_step_files, lowest_totals
from harness.run.background import Jobs
from harness.spec import git
from harness.store import disk, shards
from harness.store.shards import StoredShard


@dataclass(frozen=True)
class Measured:
    """What a session (or the shards combined) measured: outcomes, coverage and why it broke, if it did."""

    started_at: str
    finished_at: str
    commit: str | None
    options: dict
    outcomes: Outcomes
    failure: str | None
    files: dict[str, dict] | None = None  # per-file figures (coverage.file_figures); None without coverage
    totals: dict | None = None  # the overall figures (coverage.totals)
    branch: bool = False  # whether branch coverage was measured
    step: int | None = None
    shards: int | None = None
    # Per step number: per-file figures of that step's own tests (coverage.py's per-test contexts).
    step_files: dict[int, dict[str, dict]] = field(default_factory=dict)
    # Each repetition's tests and coverage (`harness run --repeat`; a plain run's one, its tests alone),
    # the replays, the source state. With repetitions the figures above are the lowest repetition's.
    repeated: Repeated | None = None
    # The figures tests recorded (`harness_metric`), repetition by repetition (a metric's `repeat: K`
    # takes the first K): the run's own repetitions (one, or N with `--repeat N`), then each round's.
    metrics: tuple[Measurement, ...] = ()


@dataclass(frozen=True)
class Session:
    """What there is to measure: the pytest processes (as `Process.as_dict` gives them), the coverage data,
    the work directory, and what the module measures (`sources`, for messages; `steps`: the step numbers
    to give figures of, in a module run). For the figures tests record: `earlier` are the processes of
    each of the run's repetitions before this session's (`--repeat N`: the first N-1), `rounds` those
    of each round of the tests that record a metric judged on more repetitions than the run had
    (`repeat: K`; `metrics.measure` says which of their samples count)."""

    root: Path
    processes: list[dict]
    data_file: Path
    work: Path
    sources: tuple[str, ...]
    steps: tuple[int, ...] = ()
    earlier: tuple[tuple[dict, ...], ...] = ()
    rounds: tuple[tuple[dict, ...], ...] = ()

    @property
    def out(self) -> Path:
        return self.work / "out"

    @classmethod
    def of_shards(
        cls, root: Path, done: list[StoredShard], work: Path, sources: tuple[str, ...], steps: tuple[int, ...]
    ) -> "Session":
        """The shards of a split as one run's session: their coverage data combined into `work`, every
        shard's processes, and each round's processes of every shard that had one."""
        data = [s.data_file for s in done if s.data_file.is_file()]
        if data:
            roots = tuple(s.meta["root"] for s in done if s.meta.get("root"))
            coverage.combine(root, data, work / ".coverage", roots)
        processes = [p for s in done for p in s.processes]
        return cls(root, processes, work / ".coverage", work, sources, steps, rounds=shards.repetitions(done))


def measure(
    session: Session,
    started: str,
    options: dict,
    step: int | None,
    shards: int | None = None,
    jobs: Jobs | None = None,
    early: dict | None = None,
    repeated: Repeated | None = None,
) -> Measured:
    """Outcomes, coverage figures (per step too), recorded figures and, if the session broke, why.

    coverage.py's XML and HTML reports are written by a job of `jobs` (without jobs, inline), unless
    `early` is the JSON report `EarlyReports` made with them. With `repeated` repetitions, the session's
    data file is their merged data (the reports a reader opens) and each file, step and the overall
    is judged by its lowest repetition's figures.
    """
    outcomes = read_records(tuple(Path(p["records"]) for p in session.processes))
    ran = outcomes.totals.passed + outcomes.totals.failed
    if early is None and jobs is not None and session.data_file.is_file():  # written while figures are made
        jobs.start(coverage.write_artifacts, session.root, session.data_file, session.out)
    report, problem = _coverage_report(session, ran, early)
    if report is None and jobs is not None:
        jobs.cancel()  # no figures, so no XML or HTML either (and their job's error would be the same)
    elif report is not None and jobs is None and early is None:
        coverage.write_artifacts(session.root, session.data_file, session.out)
    codes = [(p["exit_code"], p["error"]) for p in session.processes]
    failure = failure_reason(codes, outcomes.totals.counts(), problem)
    files, overall, step_files = _figures(session, report, failure, repeated)
    return Measured(
        started_at=started,
        finished_at=disk.now(),
        commit=git.commit(session.root),
        options=options,
        outcomes=outcomes,
        failure=failure,
        files=files,
        totals=overall,
        branch=bool(report and report["meta"]["branch_coverage"]),
        step=step,
        shards=shards,
        step_files=step_files,
        repeated=repeated,
        metrics=_metrics(session),
    )


def _figures(session: Session, report: dict | None, failure: str | None, repeated: Repeated | None):
    """Per-file, overall and per-step figures; of repetitions, each the lowest repetition's (the gate's)."""
    if report is None:
        return None, None, {}
    stepped = bool(session.steps) and not failure
    if repeated is not None and repeated.count > 1 and not failure:
        reps = repeated.repetitions
        return lowest_figures(reps), lowest_totals(reps), lowest_step_files(reps) if stepped else {}
    steps = coverage.step_figures(session.out, list(session.steps)) if stepped else {}
    return coverage.file_figures(report), coverage.totals(report), steps


def _metrics(session: Session) -> tuple[Measurement, ...]:
    """The figures of each repetition in order: the run's earlier ones, the session's own, each round's."""
    runs = (*session.earlier, session.processes, *session.rounds)
    return tuple(metrics.measure(processes) for processes in runs)


class EarlyReports:
    """coverage.py's reports (JSON, each step's, XML, HTML), made while the last pytest process reports
    and exits, its coverage data saved (about a second for thousands of tests, otherwise spent waiting).

    `take` gives the JSON report only if the data file is still as it was then; otherwise, or if making
    them failed, the run makes them after pytest exits as it would without this (and reports why not).
    Without `artifacts`, the JSON reports alone (a repetition's, read by `harness.measure.repetitions`).
    """

    def __init__(self, root: Path, out: Path, steps: tuple[int, ...], artifacts: bool = True):
        self.root, self.out, self.steps, self.artifacts = root, out, steps, artifacts
        self.report: dict | None = None
        self.stamp: tuple | None = None

    def __call__(self, data_file: Path) -> None:
        stamp = _file_stamp(data_file)
        if stamp is None:
            return
        try:
            report = coverage.json_report(self.root, data_file, self.out, self.steps)
            if self.artifacts:
                coverage.write_artifacts(self.root, data_file, self.out)
        except Exception:  # made again after pytest exits, which reports any error
            return
        self.report, self.stamp = report, stamp

    def take(self, data_file: Path) -> dict | None:
        if self.report is None or _file_stamp(data_file) != self.stamp:
            return None
        return self.report


def _file_stamp(path: Path) -> tuple | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _coverage_report(session: Session, ran: int, early: dict | None):
    """coverage.py's JSON report (and each step's), or None and why it is missing or measured nothing.

    `early` is the report if it was already made (`EarlyReports`)."""
    source, tests = ", ".join(session.sources), f"{ran} test{'s' if ran != 1 else ''}"
    hint = (
        f"the code the tests ran is not the code under `{source}` (imported from another path, e.g. an"
        " installed copy?) or `source` names the wrong code"
    )
    if not session.data_file.is_file():
        return None, f"coverage.py recorded no data for `{source}` although {tests} ran: {hint}"
    try:
        report = early or coverage.json_report(session.root, session.data_file, session.out, session.steps)
    except DataError as err:
        return None, f"coverage.py measured nothing under `{source}` ({err}): {hint}"
    if coverage.executed_nothing(report):
        return report, f"coverage.py measured no line under `{source}` although {tests} ran: {hint}"
    return report, None


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
