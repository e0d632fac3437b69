"""The harness side of the fast mode: per worker, one long-lived pytest (serve.py) that forks per mutant."""

import contextlib
import json
import os
import select
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.mutation.serve import ENV

FALLBACK = "fallback"  # what `Server.run` returns when the mutant must run as a plain pytest instead
REPLY_MARGIN = 30.0  # seconds the server may take beyond a mutant's timeout before it counts as broken
STOP_GRACE = 5.0  # seconds a stopped server gets to kill its child's process group itself


@dataclass(frozen=True)
class FastMode:
    """The server's pytest command, how long it may take to start, and where its notes go."""

    command: tuple[str, ...]
    start_timeout: float
    note: Callable[[str], None]
    restarts: int = 3


class Server:
    """One worker's server: started on first use, restarted (up to `restarts` times) if it breaks."""

    def __init__(self, mode: FastMode, copy: Path, env: dict, log: Path):
        self.mode, self.copy, self.env, self.log = mode, copy, env, log
        self.proc: subprocess.Popen | None = None
        self.requests = self.replies = -1
        self.buffer = b""
        self.starts = 0
        self.disabled = False
        self.stopped = False

    def run(self, file: str, original: str, mutant: str, tests, timeout: float, log: Path):
        """The exit status of the mutant's tests in a forked child (None: timeout), or FALLBACK."""
        if self.proc is None:
            return FALLBACK
        request = {
            "file": str(self.copy / file),
            "original": original,
            "mutant": mutant,
            "tests": list(tests),
            "timeout": timeout,
            "log": str(log),
        }
        reply = self._ask(request, timeout + REPLY_MARGIN)
        if reply is None:
            self._end(f"server of {self.copy} stopped answering; restarting it", graceful=False)
            return FALLBACK
        return reply.get("exit", FALLBACK)

    def ready(self) -> bool:
        """Start the server if it is not running; only while the copy holds the original tree, which
        the server imports (a mutant written at that moment would become its "original")."""
        if self.proc is not None:
            return True
        if self.disabled or self.stopped or self.starts > self.mode.restarts:
            return False
        self.starts += 1
        reply = self._start()
        if self.stopped:
            self._end(None, graceful=False)
            return False
        if reply is not None and "ready" in reply:
            return True
        reason = (reply or {}).get("unavailable") or f"it did not start; see {self.log}"
        self.mode.note(f"  fast mode off for {self.copy.parent.name}: {reason}; plain runs")
        self.disabled = True
        self._end(None, graceful=False)
        return False

    def _start(self) -> dict | None:
        requests_in, self.requests = os.pipe()
        self.replies, replies_out = os.pipe()
        env = {**self.env, ENV: f"{requests_in},{replies_out}"}
        with self.log.open("a", encoding="utf-8") as out:
            self.proc = subprocess.Popen(
                self.mode.command,
                cwd=self.copy,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                pass_fds=(requests_in, replies_out),
            )
        os.close(requests_in)
        os.close(replies_out)
        return self._read(self.mode.start_timeout)

    def _ask(self, request: dict, timeout: float) -> dict | None:
        data = (json.dumps(request) + "\n").encode("utf-8")
        try:
            while data:
                data = data[os.write(self.requests, data) :]
        except OSError:
            return None
        return self._read(timeout)

    def _read(self, timeout: float) -> dict | None:
        """The next reply line, or None if the server closed the pipe or took longer than `timeout`."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.replies], [], [], left)[0]:
                return None
            chunk = os.read(self.replies, 1 << 16)
            if not chunk:
                return None
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return json.loads(line)

    def close(self) -> None:
        """End the server: its pipe closed, it finishes its pytest session; killed if it does not."""
        self._end(None, graceful=True)

    def stop(self) -> None:
        """From another thread: no more starts; the running child's process group and the server die.
        The worker's pending read then sees the pipe close and gives up the mutant."""
        self.stopped = True
        if self.proc is not None:
            _terminate(self.proc)

    def _end(self, note: str | None, graceful: bool) -> None:
        proc, self.proc = self.proc, None
        for fd in (self.requests, self.replies):
            with contextlib.suppress(OSError):
                os.close(fd)  # a graceful server sees its requests end and finishes its session
        self.requests = self.replies = -1
        self.buffer = b""
        if note and not self.stopped:
            self.mode.note(f"  {note}")
        if proc is None:
            return
        if graceful:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(REPLY_MARGIN)
        _terminate(proc)


def _terminate(proc: subprocess.Popen) -> None:
    """SIGTERM first (serve.py then kills its child's process group), then the server's whole group."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(STOP_GRACE)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
