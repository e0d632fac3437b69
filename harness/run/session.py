"""Runs a module's suites in `python -m pytest` subprocesses under pytest-cov, one per selection."""

import functools
import json
import os
import re
import subprocess
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from harness.run import processes
from harness.run.command import PLUGIN
from harness.run.command import pytest as pytest_command
from harness.run.env import (
    ORDER_ENV,
    READS_DIR,
    READS_ENV,
    RECORDS_ENV,
    SELECT_ENV,
    SHARD_ENV,
    SHUFFLE_ENV,
    STEPS_ENV,
    TEST_CONTEXTS_ENV,
)
from harness.run.explain import explain
from harness.run.progress import Silent
from harness.run.records import iter_records
from harness.run.steps import step_paths

_SUMMARY_WORDS = ("passed", "failed", "error", "skipped", "no tests ran", "deselected")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # colour codes, when a project runs pytest with --color=yes
_STOP_GRACE = 10  # seconds pytest gets to finish after SIGTERM before it is killed
# pytest's closing line: counts (`1 failed, 4 passed, 1 deselected, 9 subtests passed`), then the time.
_COUNTS = re.compile(r"(?P<counts>no tests ran|\d+ [a-z ]+?(?:, \d+ [a-z ]+?)*) (?P<time>in \d.*)")
_OUTCOME_COUNT = re.compile(r"\d+ (?:failed|passed|skipped)")  # deselected follows these in pytest's order


@dataclass(frozen=True)
class RunOptions:
    """How to run: xdist workers, a shard (index, count), extra pytest args, what the user sees."""

    workers: int | str | None = None  # "auto" until `harness.run.workers.resolve` makes it a count
    shard: tuple[int, int] | None = None
    pytest_args: tuple[str, ...] = ()
    verbose: bool = False
    quiet: bool = False
    reruns: int = 0  # a failed test runs again up to this many times (pytest-rerunfailures)

    def as_dict(self) -> dict:
        """What a result and a shard record keep of the options."""
        kept = {"workers": self.workers, "pytest_args": list(self.pytest_args)}
        return {**kept, "reruns": self.reruns} if self.reruns else kept


@dataclass(frozen=True)
class Invocation:
    """Suites that share one `-k` / `-m` selection and so run in one pytest process."""

    paths: tuple[str, ...]
    k: str | None = None
    markers: str | None = None


@dataclass(frozen=True)
class Process:
    """One pytest process: how it ended and the files it left."""

    invocation: Invocation
    exit_code: int
    records: Path
    error: str | None  # pytest's own explanation when it did not run the tests through (status 2-5)
    summary: str = ""  # pytest's closing line, e.g. "31 passed, 1 skipped in 4.12s"
    # Per step number, the suite paths whose tests it takes from this process (`steps.step_paths`).
    steps: tuple[tuple[int, tuple[str, ...]], ...] = ()

    def as_dict(self) -> dict:
        """The process as plain data: what measuring it needs, and what a shard record keeps."""
        return {
            "paths": list(self.invocation.paths),
            "k": self.invocation.k,
            "markers": self.invocation.markers,
            "exit_code": self.exit_code,
            "error": self.error,
            "records": str(self.records),
            "steps": [[number, list(paths)] for number, paths in self.steps],
        }


@dataclass(frozen=True)
class Session:
    """What the pytest processes left behind."""

    processes: tuple[Process, ...]
    data_file: Path
    log_file: Path

    @property
    def exit_codes(self) -> tuple[int, ...]:
        return tuple(p.exit_code for p in self.processes)

    @property
    def summaries(self) -> tuple[str, ...]:
        return tuple(p.summary for p in self.processes)

    def process_dicts(self) -> list[dict]:
        """Each process as the plain dict the measure stage and a stored shard read."""
        return [process.as_dict() for process in self.processes]


def plan(suites) -> list[Invocation]:
    """Group suites by selection, keeping the order in which selections first appear."""
    groups: dict[tuple, list[str]] = {}
    for suite in suites:
        groups.setdefault((suite.k, suite.markers), []).append(suite.path)
    return [Invocation(tuple(paths), k, m) for (k, m), paths in groups.items()]


def command(inv: Invocation, sources: tuple[str, ...], options: RunOptions, append: bool) -> list[str]:
    """The pytest command line of one invocation: under pytest-cov with branches, and the harness's plugin."""
    return pytest_command(
        inv.paths,
        plugins=[PLUGIN],
        cov=sources,
        branch=True,
        append=append,
        k=inv.k,
        markers=inv.markers,
        workers=options.workers,
        reruns=options.reruns,
        extra=options.pytest_args,
    )


def run_session(
    root: Path,
    suites,
    sources: tuple[str, ...],
    workdir: Path,
    options: RunOptions,
    echo: Callable[[str], None],
    progress: Silent | None = None,
    steps: tuple = (),
    while_exiting: Callable[[Path], None] | None = None,
    test_contexts: bool = False,
    selection: Path | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> Session:
    """Run every invocation, all writing one coverage data file in `workdir`.

    `steps` (the spec's) labels each test's lines with its steps, which is all per-step figures need
    (`harness.run.plugin.StepContexts`); `test_contexts` labels them with the test's node id too,
    for `harness mutate` (`harness.measure.per_test`), and records the project files each process
    imported and opened (`workdir/reads/`). `selection` (a file `harness.measure.affected` wrote) runs
    only the tests it names.
    `while_exiting(data_file)` is called once the last pytest process has finished its session (its
    coverage data saved) and while it still reports and exits. `extra_env` goes into every pytest
    process's environment (a repetition's shuffle seed, `harness.run.order.order_env`).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    data_file, log_file = workdir / ".coverage", workdir / "pytest.log"
    env = {**bytecode_env(os.environ), "COVERAGE_FILE": str(data_file)}
    env.pop(SHARD_ENV, None)
    env.pop(STEPS_ENV, None)
    # Contexts, a selection and an order are the harness's to give (an order in `extra_env`), never
    # the shell's.
    for name in (TEST_CONTEXTS_ENV, READS_ENV, SELECT_ENV, SHUFFLE_ENV, ORDER_ENV):
        env.pop(name, None)
    if test_contexts:
        env[TEST_CONTEXTS_ENV] = "1"
        env[READS_ENV] = str(workdir / READS_DIR)
    if selection is not None:
        env[SELECT_ENV] = str(selection)
    if options.shard:
        env[SHARD_ENV] = f"{options.shard[0]}/{options.shard[1]}"
    env.update(extra_env or {})
    progress = progress or Silent()
    processes, invocations = [], plan(suites)
    for number, inv in enumerate(invocations, 1):
        records = workdir / f"tests-{number}.jsonl"
        cmd = command(inv, sources, options, append=number > 1)
        echo(f"  pytest {' '.join(inv.paths)}{selection_text(inv.k, inv.markers)}")
        start = log_file.stat().st_size if log_file.is_file() else 0
        progress.start(f"pytest {number}/{len(invocations)}" if len(invocations) > 1 else "pytest")
        try:
            run_env = {**env, RECORDS_ENV: str(records)}
            own_steps = step_paths(steps, inv.k, inv.markers) if steps else []
            if steps:
                run_env[STEPS_ENV] = json.dumps(own_steps)
            last = number == len(invocations) and while_exiting is not None
            exiting = functools.partial(while_exiting, data_file) if last else None
            code, summary, deselected = _run(cmd, root, run_env, log_file, options, progress, exiting)
        finally:
            progress.stop()
        summary = with_deselected(summary, deselected)
        error = explain(code, log_file, start, root)
        echo(f"    {summary or error or f'pytest exited with status {code}'}")
        owned = tuple((number, tuple(paths)) for number, paths in own_steps)
        processes.append(Process(inv, code, records, error, summary, owned))
    return Session(tuple(processes), data_file, log_file)


def bytecode_env(environ) -> dict:
    """The environment for pytest: with PYTHONDONTWRITEBYTECODE, bytecode cached outside the project instead.

    Without a cache every pytest process (and every xdist worker) compiles every module it imports and
    rewrites the asserts of every test module and plugin again: 1-2 s of CPU per process on a Django
    project. PYTHONPYCACHEPREFIX keeps the project tree as clean as PYTHONDONTWRITEBYTECODE does.
    """
    env = dict(environ)
    if env.get("PYTHONDONTWRITEBYTECODE") and not env.get("PYTHONPYCACHEPREFIX"):
        cache = bytecode_cache(env)
        if cache is not None:
            del env["PYTHONDONTWRITEBYTECODE"]
            env["PYTHONPYCACHEPREFIX"] = str(cache)
    return env


def bytecode_cache(env) -> Path | None:
    """`$XDG_CACHE_HOME/harness/pycache` (default `~/.cache/...`); None when there is no home to put it in."""
    base = env.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # unset, or relative (which the XDG spec says to ignore)
        try:
            base = Path(env.get("HOME") or Path.home()) / ".cache"
        except (RuntimeError, KeyError):
            return None
    return Path(base) / "harness" / "pycache"


def selection_text(k: str | None, markers: str | None) -> str:
    """` -k '...' -m '...'` as a command line shows a selection; "" for none."""
    return "".join([f" -k {k!r}" if k else "", f" -m {markers!r}" if markers else ""])


def _run(
    cmd: list[str], root: Path, env: dict, log_file: Path, options: RunOptions, progress, while_exiting
) -> tuple:
    """Run one pytest process: its output to the log (and the terminal with -v), its records to progress."""
    summary: list[str] = []
    tail = _Tail(Path(env[RECORDS_ENV]))
    with log_file.open("a", encoding="utf-8") as log:
        log.write(f"$ {' '.join(cmd)}\n")
        log.flush()
        with subprocess.Popen(
            cmd,
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
            start_new_session=True,  # its own process group: xdist workers stop with it
        ) as proc:
            copier = threading.Thread(target=_copy, args=(proc.stdout, log, options.verbose, summary))
            copier.start()
            try:
                code = _follow(proc, tail, progress, while_exiting)
            except BaseException:
                # Interrupted (Ctrl-C, SIGTERM): pytest must not run on alone into a work dir that is
                # about to be removed.
                processes.stop(proc, grace=_STOP_GRACE)
                raise
            finally:
                copier.join()
    return code, summary[-1] if summary else "", tail.deselected


def with_deselected(summary: str, deselected: int | None) -> str:
    """pytest's closing line with the session plugin's count of deselected tests in it.

    Serially pytest counts them itself; an xdist controller deselects nothing (its workers do), and in a
    shard pytest also counts the tests the slicing left out. Left as it is when it is not a count line.
    """
    match = _COUNTS.fullmatch(summary)
    if deselected is None or match is None:
        return summary
    parts = [p for p in match["counts"].split(", ") if not p.endswith(" deselected") and p != "no tests ran"]
    if deselected:
        after = max((i + 1 for i, p in enumerate(parts) if _OUTCOME_COUNT.fullmatch(p)), default=0)
        parts.insert(after, f"{deselected} deselected")
    return f"{', '.join(parts) or 'no tests ran'} {match['time']}"


def _copy(stream, log, verbose: bool, summary: list[str]) -> None:
    for line in stream:
        log.write(line)
        if verbose:
            print(line, end="", flush=True)
        stripped = _ANSI.sub("", line).strip().strip("=").strip()
        if any(word in stripped for word in _SUMMARY_WORDS) and " in " in stripped:
            summary.append(stripped)


def _follow(proc: subprocess.Popen, tail: "_Tail", progress, while_exiting=None) -> int:
    """Wait for pytest, feeding the progress display from the records it writes; once its session has
    finished, call `while_exiting()` (once) while it exits."""
    while True:
        try:
            code = proc.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            progress.update(*tail.read())
            if tail.finished and while_exiting is not None:
                while_exiting()
                while_exiting = None
            continue
        progress.update(*tail.read())
        return code


class _Tail:
    """Counts finished and failed tests in a growing records file, reading only what is new."""

    def __init__(self, path: Path):
        self.path, self.offset = path, 0
        self.total: int | None = None
        self.done = self.failed = 0
        self.deselected: int | None = None  # left out by the selection (not a shard's slicing)
        self.finished = False  # the session is over: pytest reports and exits

    def read(self) -> tuple[int, int | None, int]:
        for offset, record in iter_records(self.path, self.offset):
            self.offset = offset
            if record.get("event") == "collected":
                self.total = record["count"]
            elif record.get("event") == "deselected":
                self.deselected = record["count"]
            elif record.get("event") == "session_finished":
                self.finished = True
            elif record.get("event") == "test" and not record.get("collection"):
                self.done += 1
                self.failed += record["outcome"] in ("failed", "errors")
        return self.done, self.total, self.failed
