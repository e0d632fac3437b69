"""pytest plugin of the fast mode (`-p harness.mutation.serve`): collect once, run each mutant in a fork.

The server is a plain pytest of the module's suites started by `fork.py`. After collection it runs
no test: it reads mutants from a pipe, and for each one forks a child that swaps the mutated
functions' code in (`swap.py`), keeps the mutant's tests as `python -m pytest <node ids>` would have
them (in the requested order, then through every plugin's `pytest_collection_modifyitems`, as that
run calls it on its items) and returns to pytest's own test loop and exit. The parent waits, kills
the child's process group (on timeout, and afterwards for what it left running) and answers with
the exit status.
"""

import contextlib
import ctypes
import gc
import json
import linecache
import os
import select
import signal
import sys
import threading
import time

import pytest

from harness.mutation import swap
from harness.mutation.fork import ENV

_PR_SET_PDEATHSIG = 1
_CHILD = object()
_channel: tuple[int, int] | None = None


def pytest_configure(config) -> None:
    # Taken out of the environment so the tests (and what they start) see the environment of a plain run.
    global _channel
    value = os.environ.pop(ENV, None)
    if value:
        reads, writes = value.split(",")
        _channel = (int(reads), int(writes))


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session):
    """In the server: serve until the pipe closes (True: pytest's loop never runs). In a child: None,
    so pytest's own loop runs the mutant's tests and the process ends as a plain pytest ends."""
    if _channel is None:
        return None
    return None if _Server(session, *_channel).serve() is _CHILD else True


class _Server:
    def __init__(self, session, reads: int, writes: int):
        self.session, self.reads, self.writes = session, reads, writes
        self.child: int | None = None
        self.known: dict[str, tuple[list, bool]] = {}
        self.items = {item.nodeid: item for item in session.items}
        self.sigterm = signal.getsignal(signal.SIGTERM)

    def serve(self):
        """_CHILD in a forked child; None in the server when the harness closes the pipe (or is gone)."""
        problem = self._problem()
        if not problem:
            signal.signal(signal.SIGTERM, self._terminate)
            gc.collect()  # the garbage of start-up and collection is finalized here, outside any child
        self.inbox = os.fdopen(self.reads, "rb")
        try:
            self._send({"unavailable": problem} if problem else {"ready": len(self.session.items)})
            for line in [] if problem else self.inbox:
                reply = self._judge(json.loads(line))
                if reply is _CHILD:
                    return _CHILD
                self._send(reply)
        except BrokenPipeError:
            pass  # the harness stopped listening: end the session as if the pipe had closed
        self.inbox.close()
        signal.signal(signal.SIGTERM, self.sigterm)
        return None

    def _problem(self) -> str | None:
        if self.session.testsfailed:
            return f"{self.session.testsfailed} error(s) while collecting the suites"
        if not hasattr(os, "fork"):
            return "this platform has no fork()"
        if _threads() > 1:
            return f"threads run after collection ({_thread_names()}); forking is not safe"
        return None

    def _judge(self, request: dict):
        missing = [t for t in request["tests"] if t not in self.items]
        if missing:
            return {"fallback": f"the server did not collect {missing[0]}"}
        try:
            found = self._swaps(request["file"], request["original"], request["mutant"])
        except swap.NotSwappable as err:
            return {"fallback": str(err)}
        if _threads() > 1:
            return {"fallback": f"a thread started in the server ({_thread_names()})"}
        sys.stdout.flush()
        sys.stderr.flush()
        # What exists now is never collected in the children, so their collections do not write to
        # (and copy) every page of the heap they share with the server (as the gc docs advise for
        # fork). The garbage of this request goes first: frozen, it would never be freed.
        gc.collect()
        gc.freeze()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            self._become_child(parent, request, found)
            return _CHILD
        return {"exit": self._wait(pid, request["timeout"])}

    def _swaps(self, path: str, original: str, mutant: str) -> list:
        if path not in self.known:
            self.known[path] = (swap.live_functions(path), swap.imported(path))
        functions, imported = self.known[path]
        if not functions and not imported:
            return []  # never imported here: the child imports the mutated file from disk
        return swap.matches(swap.plan(path, original, mutant), functions)

    def _become_child(self, parent: int, request: dict, found: list) -> None:
        os.setpgid(0, 0)
        _die_with(parent)
        signal.signal(signal.SIGTERM, self.sigterm)
        self.inbox.close()
        os.close(self.writes)
        config = self.session.config
        _redirect_output(config, request["log"])
        swap.apply(found)
        for name in {request["file"], *(func.__code__.co_filename for func, _ in found)}:
            linecache.cache.pop(name, None)
        items = [self.items[t] for t in dict.fromkeys(request["tests"])]
        config.args = list(request["tests"])
        config.hook.pytest_collection_modifyitems(session=self.session, config=config, items=items)
        self.session.items = items
        self.session.testscollected = len(items)

    def _wait(self, pid: int, timeout: float) -> int | None:
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)  # as the child does: the group exists before either goes on
        self.child = pid
        try:
            ended = _ended(pid, timeout)
        finally:
            _kill_group(pid)
            _, status = os.waitpid(pid, 0)
            self.child = None
        return os.waitstatus_to_exitcode(status) if ended else None

    def _terminate(self, signum, frame) -> None:
        if self.child:
            _kill_group(self.child)
        os._exit(128 + signum)

    def _send(self, message: dict) -> None:
        data = (json.dumps(message) + "\n").encode("utf-8")
        while data:
            data = data[os.write(self.writes, data) :]


def _thread_names() -> str:
    """The threads other than the main one, by name (those C code started have none Python knows)."""
    names = ", ".join(t.name for t in threading.enumerate() if t is not threading.main_thread())
    return names or "not started by Python"


def _threads() -> int:
    """Threads of this process: the kernel's count where it tells (threads that C code started too)."""
    with contextlib.suppress(OSError):
        return len(os.listdir("/proc/self/task"))
    return threading.active_count()


def _ended(pid: int, timeout: float) -> bool:
    """Whether child `pid` exits within `timeout` seconds (it is not reaped)."""
    try:
        handle = os.pidfd_open(pid)
    except (AttributeError, OSError):
        return _poll(pid, timeout)
    try:
        return bool(select.select([handle], [], [], timeout)[0])
    finally:
        os.close(handle)


def _poll(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            return True
        time.sleep(0.005)
    return False


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _die_with(parent: int) -> None:
    """Linux: the child is killed if the server dies (e.g. SIGKILL) rather than run on unwatched."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(70)


def _redirect_output(config, log: str) -> None:
    """The child's stdout and stderr, and the descriptors pytest's capture restores them to, go to `log`."""
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    targets = {1, 2}
    capman = config.pluginmanager.getplugin("capturemanager")
    capturing = getattr(capman, "_global_capturing", None)
    for stream in (getattr(capturing, "out", None), getattr(capturing, "err", None)):
        saved = getattr(stream, "targetfd_save", None)
        if isinstance(saved, int):
            targets.add(saved)
    for target in targets:
        os.dup2(fd, target)
    os.close(fd)
    if capturing is not None:
        capman.read_global_capture()  # what an earlier child, killed mid-test, left in the shared files
