"""Child processes in their own process groups: started, waited for with a time limit, and stopped with
everything they started (servers and workers a test leaves behind must not outlive the harness)."""

import contextlib
import functools
import os
import signal
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path


def stop(proc: subprocess.Popen, grace: float = 0.0, leader_first: bool = False) -> None:
    """End `proc` and every process of its group (it was started with `start_new_session`), and reap it.

    With `grace`, SIGTERM first (to the whole group; with `leader_first` to `proc` alone, which then
    stops its own children) and up to `grace` seconds to end; then SIGKILL to the whole group.
    """
    if grace and proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if leader_first:
                proc.send_signal(signal.SIGTERM)
            else:
                os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(grace)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


class Running:
    """The processes some threads are running, by slot: `stop_all` (from any thread) kills each one's
    group, and any process registered after it is killed at once."""

    def __init__(self):
        self.lock = threading.Lock()
        self.procs: dict[int, subprocess.Popen] = {}
        self.stopping = threading.Event()

    def register(self, slot: int, proc: subprocess.Popen | None) -> None:
        """`proc` runs in `slot` (None: the slot's process finished)."""
        with self.lock:
            if proc is None:
                self.procs.pop(slot, None)
                return
            self.procs[slot] = proc
            if self.stopping.is_set():  # started just as everything was told to stop
                _kill(proc)

    def stop_all(self) -> None:
        with self.lock:
            self.stopping.set()
            for proc in self.procs.values():
                _kill(proc)


def _kill(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def run_group(cmd, cwd: Path, env: dict, log: Path, timeout: float | None, register=None) -> int | None:
    """Run `cmd` in its own process group, output to `log`; None if it ran past `timeout`.

    However it ends (done, timed out, interrupted), the whole group is killed afterwards: servers or
    workers the tests started and left behind must not outlive the run. `register(proc)` is told of it
    while it runs (and `register(None)` once it is gone).
    """
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        if register:
            register(proc)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        finally:
            stop(proc)
            if register:
                register(None)


def run_interruptibly(runs: list[tuple[list[str], Path, dict, Path]]) -> list[int | None]:
    """`run_group` of each `(cmd, cwd, env, log)` at once, each in a thread: Ctrl-C / SIGTERM reach the
    main thread, which then kills every group. The exit statuses, in order.

    Run from the main thread directly, a signal arriving between the start of a process and the
    `try` that kills it would leave pytest running on into a copy that is about to be removed.
    """
    running = Running()
    done: dict[int, int | None] = {}

    def run(number: int) -> None:
        cmd, cwd, env, log = runs[number]
        done[number] = run_group(cmd, cwd, env, log, None, functools.partial(running.register, number))

    threads = [threading.Thread(target=run, args=(number,)) for number in range(len(runs))]
    join_all(threads, running.stop_all)
    return [done.get(number) for number in range(len(runs))]


def join_all(threads: list[threading.Thread], stop_all: Callable[[], None]) -> None:
    """Start the threads and wait for them in short steps (so Ctrl-C and SIGTERM reach the main
    thread); however the wait ends, `stop_all()` and wait for every thread to finish."""
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.2)
    finally:
        stop_all()
        for thread in threads:
            thread.join()
