"""Rounds: the test files that record a metric judged on K repetitions (`repeat: K`) run again after the
run's own repetitions, each round a pytest session of its own, until the metric has its K."""

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path

from harness.run import progress
from harness.run.session import RunOptions, Session, run_session
from harness.spec.model import Step, Suite
from harness.store import layout


def again(
    root: Path,
    rounds: Sequence[Sequence[Suite]],
    first: int,
    sources: tuple[str, ...],
    work: Path,
    options: RunOptions,
    echo: Callable[[str], None],
    steps: tuple[Step, ...],
    log_file: Path,
) -> list[Session]:
    """Each round's suites as a session under `work/round-<n>` (n from `first`, the repetition it is:
    the run's own repetitions come before it), with the options of the session (not its shard: a round
    runs what it names) and under coverage as it was, so that what is measured is measured alike; that
    coverage data is dropped. Each round's pytest output is added to `log_file`, the session's log."""
    once, sessions = dataclasses.replace(options, shard=None), []
    for number, suites in enumerate(rounds, first):
        where = layout.round_dir(work, number)
        display = progress.for_run(options.quiet, options.verbose)
        session = run_session(root, suites, sources, where, once, echo, display, steps=steps)
        with log_file.open("ab") as log:  # scratch: the run's log, stored when it is published
            log.write(session.log_file.read_bytes() if session.log_file.is_file() else b"")
        for data in where.glob(".coverage*"):
            data.unlink()
        sessions.append(session)
    return sessions
