"""Work done beside the main process at the end of a run: forked children where that is safe, else inline.

The end of a run writes files that nothing else in the run reads (coverage.py's XML and HTML, the chart
SVGs); on a machine with a spare core they are written while the main process evaluates and renders.
A fork costs milliseconds and its child has everything imported already. It is used on Linux only and
only while the process runs a single thread (forking a threaded process can deadlock the child); in
any other case each job runs inline, at once, with the same result.
"""

import contextlib
import os
import pickle
import signal
import sys
import threading
from collections.abc import Callable

from harness.errors import DataError


class Jobs:
    """Jobs started for one run; `wait()` before using what they write, `cancel()` when the run stops."""

    def __init__(self, fork: bool | None = None):
        self.fork = fork  # None: decide per job (Linux, one thread)
        self._children: list[tuple[int, int]] = []  # (pid, read end of the pipe carrying its error)
        self._error: BaseException | None = None

    def start(self, work: Callable, *args) -> None:
        """Run `work(*args)` in a forked child, or inline now; its exception is raised by `wait()`."""
        if not self._can_fork():
            try:
                work(*args)
            except Exception as err:
                self._error = self._error or err
            return
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()  # else the child could write the parent's buffered output a second time
        reader, writer = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover  (the child: coverage.py does not save data from os._exit)
            os.close(reader)
            _child(writer, work, args)
        os.close(writer)
        self._children.append((pid, reader))

    def wait(self) -> None:
        """Wait for every job; raise the first one's exception (a child's is carried back pickled)."""
        children, self._children = self._children, []
        for pid, reader in children:
            with os.fdopen(reader, "rb") as pipe:
                payload = pipe.read()
            _, status = os.waitpid(pid, 0)
            if self._error is None and (payload or status):
                self._error = _unpickled(payload, status)
        error, self._error = self._error, None
        if error is not None:
            raise error

    def cancel(self) -> None:
        """Stop every child still running (the run was interrupted or failed) and reap it."""
        children, self._children = self._children, []
        for pid, reader in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(reader)
        self._error = None

    def _can_fork(self) -> bool:
        if self.fork is not None:
            return self.fork
        return sys.platform == "linux" and threading.active_count() == 1

    def __enter__(self) -> "Jobs":
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.wait()
        else:
            self.cancel()


def _child(writer: int, work: Callable, args: tuple) -> None:  # pragma: no cover  (runs in the child)
    """Do the work and leave without running the parent's exit handlers; an exception goes up the pipe."""
    code = 0
    try:
        work(*args)
    except BaseException as err:
        code = 1
        try:
            payload = pickle.dumps(err)
            pickle.loads(payload)  # some exceptions pickle but cannot be rebuilt: then send their text
        except Exception:
            payload = pickle.dumps(DataError(f"{type(err).__name__}: {err}"))
        with contextlib.suppress(OSError), os.fdopen(writer, "wb") as pipe:
            pipe.write(payload)
    finally:
        os._exit(code)


def _unpickled(payload: bytes, status: int) -> BaseException:
    if payload:
        with contextlib.suppress(Exception):
            return pickle.loads(payload)
    return DataError(f"a background job of the run ended with wait status {status}")
