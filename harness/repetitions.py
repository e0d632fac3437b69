"""`harness run --repeat N [--shuffle]`: the repetitions of a run's tests, each a session of its own, read
back and merged; the replays of the tests that failed in one repetition and passed in another; for a run
without --repeat, its one repetition of tests alone (what the outcome log and reruns need); for
`harness combine`, the shards' tests as one run's; the rounds a `repeat: K` metric asks for beyond them;
and the run's line for the outcome log.

Orchestration beside `workflow.run_module`, which hands it one session's run (`run_one`); the analysis
is `harness.evaluate.stability`'s, the figures `harness.measure.session.measure`'s.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.errors import DataError
from harness.evaluate.metrics import repeats
from harness.evaluate.outcome_history import from_repetitions
from harness.evaluate.stability import suspects
from harness.measure.metrics import files_recording, tests_recording
from harness.measure.repetitions import Repeated, Repetition, merge, plain, read_repetition
from harness.measure.session import EarlyReports, Measured
from harness.run.bisect import reproduce
from harness.run.order import new_seed, order_env
from harness.run.replay import pytest_replay
from harness.run.rounds import again
from harness.run.session import RunOptions, Session
from harness.spec.model import MetricTarget, Step
from harness.store import layout
from harness.store.outcome_log import RunOutcomes

Echo = Callable[[str], None]
# One session: (repetition number, its work directory, the environment that orders it, what to call
# while its last pytest exits) -> what it left.
RunOne = Callable[[int, Path, dict, Callable | None], Session]
SOUND = (0, 1, 5)  # pytest's exit statuses of a session that ran its tests through


@dataclass(frozen=True)
class Plan:
    """How often and in which order: `count` repetitions, each shuffled by a fresh seed with `shuffle`;
    `seed` orders a single run (the replay of one repetition)."""

    count: int = 1
    shuffle: bool = False
    seed: int | None = None

    def seed_of(self, number: int) -> int | None:
        if self.seed is not None:
            return self.seed
        return new_seed() if self.shuffle else None


@dataclass(frozen=True)
class Ran:
    """The sessions of a run: the one measured (the last repetition's, or the one that broke), the coverage
    data the figures come from (merged over repetitions), every pytest log, the data with per-test
    contexts (repetition 1's), the repetitions, and every repetition's session in order (the measured
    one last: the recorded figures of a metric judged on K repetitions are K of theirs)."""

    session: Session
    data_file: Path
    logs: tuple[Path, ...]
    contexts_data: Path
    repeated: Repeated
    sessions: tuple[Session, ...]


def run(
    root: Path, work: Path, plan: Plan, state: str, run_one: RunOne, steps, pytest_args, echo: Echo
) -> Ran:
    """Run the tests `plan.count` times (once: in `work` itself) and read what each repetition did."""
    if plan.count == 1:
        session = run_one(1, work, order_env(seed=plan.seed_of(1)), None)
        rep = plain([p.records for p in session.processes])
        once = (session.data_file, (session.log_file,), session.data_file, Repeated((rep,), state))
        return Ran(session, *once, (session,))
    sessions, reps = [], []
    for number in range(1, plan.count + 1):
        echo(f"Repetition {number} of {plan.count}")
        # Its JSON report is made while its last pytest reports and exits, as a single run's is.
        early = EarlyReports(root, layout.repetition_report_dir(work, number), tuple(steps), artifacts=False)
        order = order_env(seed=plan.seed_of(number))
        session = run_one(number, layout.repetition_dir(work, number), order, early)
        sessions.append(session)
        rep = _read(root, number, session, work, steps, early.take(session.data_file))
        if rep is None:  # it broke: measured alone, it ends the run as Failed with pytest's own words
            logs = tuple(s.log_file for s in sessions)
            broke = Repeated(tuple(reps), state)
            return Ran(session, session.data_file, logs, session.data_file, broke, tuple(sessions))
        reps.append(rep)
    merged = merge(root, [s.data_file for s in sessions], layout.merged_data(work))
    found = _replay(root, work, reps, pytest_args, echo)
    logs, repeated = tuple(s.log_file for s in sessions), Repeated(tuple(reps), state, found)
    return Ran(sessions[-1], merged, logs, sessions[0].data_file, repeated, tuple(sessions))


def _read(root: Path, number: int, session: Session, work: Path, steps, report) -> Repetition | None:
    """The repetition, or None when its session did not run through or left no coverage to read
    (`report`: its JSON report, when made already)."""
    if any(code not in SOUND for code in session.exit_codes) or not session.data_file.is_file():
        return None
    records = [p.records for p in session.processes]
    try:
        out = layout.repetition_report_dir(work, number)
        return read_repetition(number, root, records, session.data_file, out, steps, report)
    except DataError:  # no measured file: `measure` says why, as it does for a single run
        return None


def _replay(root: Path, work: Path, reps, pytest_args, echo: Echo) -> dict:
    """Replay each test that failed in one repetition and passed in another, in the order it failed in."""
    found = suspects(reps)
    if not found:
        return {}
    fails = pytest_replay(root, layout.replay_dir(work), pytest_args)
    results = {}
    for test, before in found:
        echo(f"Replaying {test} after the {len(before)} test(s) that ran before it")
        results.update(reproduce([(test, before)], fails))
        echo(f"  {results[test].note}")
    return results


def rounds(
    root: Path, own: Sequence[MetricTarget], steps: tuple[Step, ...], sessions: Sequence[Session], sources,
    work: Path, options: RunOptions, echo: Echo,
) -> tuple[tuple[dict, ...], ...]:  # fmt: skip
    """`repeat: K`: the test files that recorded a metric judged on K repetitions (`own` targets, and
    each of `steps`' own) run as many more times as K asks beyond the run's own repetitions (`sessions`:
    one, or N with `--repeat N`); round i runs only those of metrics with K >= i. Each round's processes
    count the samples of the tests that recorded in the run itself (a shard's own, though a round runs
    whole files)."""
    wanted = repeats(own, steps)
    processes = sessions[-1].process_dicts()
    if not wanted or any(p["exit_code"] not in SOUND for p in processes):
        return ()
    first = len(sessions) + 1
    rounds_of = [
        files_recording(processes, [name for name, k in wanted.items() if k >= number])
        for number in range(first, max(wanted.values()) + 1)
    ]
    if not rounds_of or not rounds_of[0]:
        return ()
    names = ", ".join(sorted(wanted))
    echo(f"Repeating {len(rounds_of[0])} test file(s) up to {len(rounds_of)} more time(s) for {names}")
    counted = tests_recording(processes, wanted)
    log = sessions[-1].log_file
    done = again(root, rounds_of, first, sources, work, options, echo, steps, log)
    return tuple(tuple({**p, "counted": counted} for p in s.process_dicts()) for s in done)


def of_shards(states: Sequence[str | None], processes: Sequence[dict], echo: Echo) -> Repeated:
    """The shards' tests as one run's (each test ran in one shard only), at the first shard's state."""
    found = list(dict.fromkeys(state or "" for state in states))
    if len(found) > 1:
        echo(f"Note: the shards ran at {len(found)} source states; the outcome log keys them by the first's")
    return Repeated((plain([Path(p["records"]) for p in processes]),), found[0])


def outcome_record(measured: Measured, run: str | None) -> RunOutcomes | None:
    """The run's line for the outcome log: each test's outcome over its repetitions, at its source state."""
    repeated = measured.repeated
    if repeated is None or not repeated.repetitions:
        return None
    return from_repetitions(repeated.repetitions, repeated.state, measured.finished_at, run or "")
