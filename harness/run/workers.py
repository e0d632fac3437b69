"""`--workers auto`: how many pytest-xdist workers the last run says will pay off, and why (or why not)."""

import os
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from harness.run.session import RunOptions

AUTO = "auto"
# xdist sends every test's reports from its worker to the controller, which records them alone: a few
# milliseconds per test, which tests shorter than this on average do not win back.
MIN_MEAN_MS = 20.0
# A worker is a whole pytest process (imports, collection, its own test database): it needs this many
# seconds of tests to earn its start-up.
SECONDS_PER_WORKER = 5.0


@dataclass(frozen=True)
class Timing:
    """The tests of a run: how many, and the seconds they took (setup, call and teardown)."""

    tests: int
    seconds: float

    @property
    def mean_ms(self) -> float:
        return 1000.0 * self.seconds / self.tests


@dataclass(frozen=True)
class Advice:
    """A worker count (1: serial, no xdist) and the reason, in words a user reads."""

    count: int
    reason: str


def last_timing(junit: Path) -> Timing | None:
    """The tests of the run that wrote `junit` (the JUnit XML beside a report), or None."""
    try:
        cases = list(ET.parse(junit).getroot().iter("testcase"))
        seconds = sum(float(case.get("time") or 0.0) for case in cases)
    except (OSError, ET.ParseError, ValueError):
        return None
    return Timing(len(cases), seconds) if cases else None


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity, which containers and `taskset` narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def advise(timing: Timing | None, cpus: int, shards: int = 1) -> Advice:
    """The worker count that the last run's tests say pays off on `cpus` CPUs (a shard runs 1/shards)."""
    if cpus < 2:
        return Advice(1, f"{cpus} CPU available")
    if timing is None:
        return Advice(1, "no earlier run to size them from")
    seconds = timing.seconds / shards
    if timing.mean_ms < MIN_MEAN_MS:
        return Advice(
            1,
            f"the last run's tests took {timing.mean_ms:.1f} ms each on average, less than xdist spends"
            " passing each one between processes",
        )
    count = min(cpus, int(seconds // SECONDS_PER_WORKER))
    if count < 2:
        reason = f"the last run's tests took {seconds:.1f} s, too little to pay a second process's start-up"
        return Advice(1, reason)
    return Advice(count, f"the last run's {timing.tests} tests took {timing.seconds:.0f} s; {cpus} CPUs")


def resolve(options: RunOptions, junit: Path, echo: Callable[[str], None]) -> RunOptions:
    """`--workers auto` made a count (None: serial), said aloud; a count that will not pay off, noted."""
    shards = options.shard[1] if options.shard else 1
    cpus = usable_cpus()
    if options.workers == AUTO:
        advice = advise(last_timing(junit), cpus, shards)
        echo(f"Workers: {advice.count if advice.count > 1 else 'none, serial'} ({advice.reason})")
        return replace(options, workers=advice.count if advice.count > 1 else None)
    if options.workers and options.workers > 1:
        timing = last_timing(junit)
        advice = advise(timing, cpus, shards)
        if advice.count == 1 and (timing is not None or cpus < 2):
            echo(f"Note: --workers {options.workers} is likely slower than serial here: {advice.reason}")
    return options
