"""Running mutants in workers' private copies: forked from a worker's pytest server, or as a plain pytest."""

import functools
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.errors import DataError
from harness.mutation.fork import Fallback, Server
from harness.mutation.generate import Mutant
from harness.run.command import MUTANT_OPTIONS, pytest
from harness.run.processes import Running, join_all, run_group
from harness.store import disk

KILLED, SURVIVED, TIMEOUT = "killed", "survived", "timeout"


@dataclass(frozen=True)
class Job:
    """A mutant with the tests selected for it, the seconds they may take, and whether it may run forked
    (its lines never ran outside a test, so nothing the server did before forking depends on them)."""

    mutant: Mutant
    tests: tuple[str, ...]
    timeout: float
    fork: bool = False


FIRST_STAGE = 1.0  # seconds of recorded test time, at least, in a mutant's first run (`stages`)
FORK_START = 0.25  # seconds a forked child takes to start and end around its tests (session fixtures too)


def stages(tests: tuple[str, ...], durations: dict[str, float], start: float) -> list[tuple[str, ...]]:
    """A mutant's tests as runs of their own: its likeliest killers first (the head of `tests`,
    about a tenth of their recorded time and at least FIRST_STAGE seconds), then the rest if those pass.

    Plugins reorder a run's tests (pytest-django puts database tests first), so within one run the
    order given is no promise that a likely killer runs early; a run of its own is. The set of tests
    and the verdict are unchanged (the tests pass alone or in any order): a test that fails in either
    run kills the mutant, and it survives only if both pass. A survivor pays one more start-up
    (`start` seconds: a fork, or a plain pytest's), so the tests are split only when the rest would
    take longer than that.
    """
    budget = max(FIRST_STAGE, sum(durations.get(t, 0.0) for t in tests) / 10)
    spent, cut = 0.0, len(tests)
    for number, test in enumerate(tests, 1):
        spent += durations.get(test, 0.0)
        if spent >= budget:
            cut = number
            break
    rest = tests[cut:]
    if sum(durations.get(t, 0.0) for t in rest) <= start:
        return [tests]
    return [tests[:cut], rest]


def pytest_command(tests: tuple[str, ...]) -> list[str]:
    """Plain pytest of a mutant's selected tests (`MUTANT_OPTIONS`)."""
    return pytest(tests, extra=MUTANT_OPTIONS)


def server_command(paths) -> tuple[str, ...]:
    """The fast mode's server: pytest of the suites with the options of a plain run, and serve.py."""
    return tuple(pytest(paths, extra=[*MUTANT_OPTIONS, "-p", "harness.mutation.serve"]))


def failed_test(log: Path) -> str | None:
    """The node id of the first FAILED / ERROR line of pytest's short summary in `log` (captured log
    records, which also start with ERROR, come before the summary's header)."""
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    header = [n for n, line in enumerate(lines) if "short test summary info" in line]
    for line in lines[header[-1] + 1 if header else 0 :]:
        if line.startswith(("FAILED ", "ERROR ")):
            return line.split(" ", 1)[1].split(" - ", 1)[0].strip()
    return None


class Killers:
    """The tests that killed earlier mutants of a function (then of the file), tried first: with `-x` a
    mutant most often dies to the test that killed its neighbours. Only the order changes, never the set."""

    def __init__(self):
        self.lock = threading.Lock()
        self.seen: dict[tuple[str, str | None], list[str]] = {}

    def order(self, job: Job) -> tuple[str, ...]:
        with self.lock:
            first = [
                *self.seen.get((job.mutant.file, job.mutant.function), []),
                *self.seen.get((job.mutant.file, None), []),
            ]
        first = [t for t in dict.fromkeys(first) if t in job.tests]
        return (*first, *(t for t in job.tests if t not in first))

    def killed(self, job: Job, test: str | None) -> None:
        if test is None:
            return
        with self.lock:
            for key in ((job.mutant.file, job.mutant.function), (job.mutant.file, None)):
                known = self.seen.setdefault(key, [])
                if test in known:
                    known.remove(test)
                known.insert(0, test)
                del known[5:]


class Pool:
    """Worker threads, one per copy; each writes a mutant into its copy, runs its tests, restores the file.

    With `servers` (fork.py, one per copy), a worker's `fork` jobs run in children of its server; the
    others, and any the server hands back, run as plain pytest. `modes` counts the runs of each kind.
    `progress(job, verdict, killer)` hears of each verdict as it comes (`killer`: the test whose failure
    killed the mutant, when one did).
    """

    def __init__(
        self,
        copies: list[tuple[Path, dict, Path]],
        progress: Callable[[Job, str, str | None], None],
        logs: Path,
        servers: list[Server] | None = None,
        durations: dict[str, float] | None = None,
        startup: float = 0.0,
    ):
        self.copies, self.progress, self.logs = copies, progress, logs
        self.servers = servers or []
        self.durations = durations or {}  # recorded seconds per test: each mutant's `stages`
        self.startup = startup  # seconds a plain pytest takes beyond its tests
        self.modes = {"forked": 0, "plain": 0}
        self.reasons: dict[str, int] = {}  # why mutants of the fast mode ran plain
        self.running = Running()
        self.stopping = self.running.stopping
        self.lock = threading.Lock()
        self.verdicts: dict[str, str] = {}
        self.killed_by: dict[str, str] = {}  # mutant id -> the test whose failure killed it
        self.error: BaseException | None = None
        self.killers = Killers()

    def run(self, jobs: list[Job]) -> dict[str, str]:
        """Verdicts by mutant id. Ctrl-C / SIGTERM kill every running pytest's process group first."""
        todo: queue.SimpleQueue = queue.SimpleQueue()
        for job in jobs:
            todo.put(job)
        threads = [
            threading.Thread(target=self._work, args=(n, todo), daemon=True) for n in range(len(self.copies))
        ]
        join_all(threads, self.stop)
        if self.error:
            raise self.error
        return self.verdicts

    def stop(self) -> None:
        self.running.stop_all()
        for server in self.servers:
            server.stop()

    def _work(self, number: int, todo: queue.SimpleQueue) -> None:
        try:
            self._work_on(number, todo)
        finally:
            if self.servers:
                self.servers[number].close()

    def _work_on(self, number: int, todo: queue.SimpleQueue) -> None:
        copy, env, log = self.copies[number]
        while not self.stopping.is_set():
            try:
                job = todo.get_nowait()
            except queue.Empty:
                return
            try:
                verdict = self._judge(number, copy, env, log, job)
            except BaseException as err:  # handed to the main thread, which stops the others
                self.error = err
                self.stopping.set()
                return
            if verdict is None:
                return
            with self.lock:
                self.verdicts[job.mutant.id] = verdict
                killer = self.killed_by.get(job.mutant.id)
            self.progress(job, verdict, killer)

    def _judge(self, number: int, copy: Path, env: dict, log: Path, job: Job) -> str | None:
        refused = self._refusal(number, job)  # before the mutant is written: it may start the server
        target = copy / job.mutant.file
        original = target.read_bytes()
        target.write_bytes(job.mutant.text.encode("utf-8"))
        tests = self.killers.order(job)
        try:
            code = refused or self._forked(number, job, original, tests, log)
            if isinstance(code, Fallback) and not self.stopping.is_set():
                self._count("plain", code)
                code = self._staged(
                    tests,
                    job.timeout,
                    self.startup,
                    lambda stage, left: self._pytest(number, copy, env, log, stage, left),
                )
        finally:
            target.write_bytes(original)
        if code == 1:
            killer = failed_test(log)
            self.killers.killed(job, killer)
            if killer is not None:
                with self.lock:
                    self.killed_by[job.mutant.id] = killer
        if code in (0, 1, None) or self.stopping.is_set():
            return {0: SURVIVED, 1: KILLED, None: TIMEOUT}[code] if not self.stopping.is_set() else None
        # Any other status (collection error, internal error, crash) counts as a kill only if the
        # same tests pass without the mutant; otherwise the harness, not the mutant, is at fault.
        control_log = log.with_suffix(".control.log")
        control = self._pytest(number, copy, env, control_log, job.tests, job.timeout)
        if control == 0:
            return KILLED
        if self.stopping.is_set():
            return None
        kept = self.logs / f"mutant-{job.mutant.id}.log"
        both = log.read_bytes() + b"\n--- the same tests without the mutant ---\n" + control_log.read_bytes()
        disk.atomic_write(kept, both)
        raise DataError(
            f"pytest exited {code} on mutant {job.mutant.id} and {control} without it; see {kept}"
        )

    def _refusal(self, number: int, job: Job) -> Fallback | None:
        if not self.servers:
            return Fallback("")  # the plain mode
        if not job.fork:
            return Fallback("its lines ran outside any test (at import or collection)")
        return None if self.servers[number].ready() else Fallback("no server")

    def _forked(self, number: int, job: Job, original: bytes, tests, log: Path) -> int | Fallback | None:
        """The exit status of the job's tests in children of the worker's server (None: timeout), or
        a Fallback: the server gave it back, or ended otherwise than passed / failed / timed out
        (which the plain run then judges, with its control run)."""
        mutant, original_text = job.mutant, original.decode("utf-8")
        code = self._staged(
            tests,
            job.timeout,
            FORK_START,
            lambda stage, left: self.servers[number].run(
                mutant.file, original_text, mutant.text, stage, left, log
            ),
        )
        if isinstance(code, Fallback):
            return code
        if code in (0, 1, None):
            self._count("forked")
            return code
        return Fallback(f"its forked run ended with status {code}")

    def _staged(self, tests, timeout: float, start: float, run) -> int | Fallback | None:
        """`run(stage, seconds left)` for each of the `stages` of `tests` until one does not pass (0):
        its result, or 0. The stages share the mutant's one time limit (None: it ran past it)."""
        deadline, code = time.monotonic() + timeout, 0
        for stage in stages(tests, self.durations, start):
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            code = run(stage, left)
            if code != 0:
                break
        return code

    def _count(self, mode: str, fallback: Fallback | None = None) -> None:
        with self.lock:
            self.modes[mode] += 1
            if fallback and fallback.reason:
                self.reasons[fallback.reason] = self.reasons.get(fallback.reason, 0) + 1

    def _pytest(self, number: int, copy: Path, env: dict, log: Path, tests, timeout: float) -> int | None:
        """pytest's exit status, or None when it ran past `timeout` seconds."""
        register = functools.partial(self.running.register, number)
        return run_group(pytest_command(tests), copy, env, log, timeout, register)
