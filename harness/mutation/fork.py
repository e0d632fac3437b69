"""The harness side of the fast mode: per worker, one long-lived pytest (serve.py) that forks per mutant."""

import contextlib
import json
import os
import select
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.run import processes

ENV = "HARNESS_MUTATION_SERVE"  # "<fd of requests>,<fd of replies>": the pipes serve.py talks over
REPLY_MARGIN = 30.0  # seconds the server may take beyond a mutant's timeout before it counts as broken
STOP_GRACE = 5.0  # seconds a stopped server gets to kill its child's process group itself


@dataclass(frozen=True)
class Fallback:
    """What `Server.run` returns when the mutant must run as a plain pytest instead, and why."""

    reason: str


@dataclass(frozen=True)
class FastMode:
    """The server's pytest command, how long it may take to start, and where its notes go."""

    command: tuple[str, ...]
    start_timeout: float
    note: Callable[[str], None]
    restarts: int = 3


@contextlib.contextmanager
def servers(mode: FastMode | None, copies: list[tuple[Path, dict, Path]]) -> Iterator[list["Server"]]:
    """A server per (copy, env, log), launched at once (they collect while the mapping run runs) and
    stopped, with whatever child they are running, however the block ends."""
    started = [Server(mode, copy, env, log) for copy, env, log in copies] if mode else []
    try:
        for server in started:
            server.launch()
        yield started
    finally:
        for server in started:
            server.stop()


class Server:
    """One worker's server. `ready` and `launch` only while the copy holds the original tree: the
    server imports it (a mutant written then would become its "original"). Relaunched (up to
    `restarts` times) if it breaks; switched off, with a note, if it cannot serve at all."""

    def __init__(self, mode: FastMode, copy: Path, env: dict, log: Path):
        self.mode, self.copy, self.env, self.log = mode, copy, env, log
        self.proc: subprocess.Popen | None = None
        self.requests = self.replies = -1
        self.buffer = b""
        self.deadline = 0.0
        self.serving = False
        self.launches = 0
        self.off = False

    def launch(self) -> None:
        if self.proc is not None or self.off or self.launches > self.mode.restarts:
            return
        self.launches += 1
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
        self.deadline = time.monotonic() + self.mode.start_timeout

    def ready(self) -> bool:
        """Whether the server serves: launched if need be, its collection waited for."""
        self.launch()
        if self.proc is None or self.serving:
            return self.serving
        reply = self._read(self.deadline - time.monotonic())
        self.serving = reply is not None and "ready" in reply
        if not self.serving and not self.off:
            reason = (reply or {}).get("unavailable") or f"it did not start; see {self.log}"
            self.mode.note(f"  fast mode off for {self.copy.parent.name}: {reason}; plain runs")
            self.off = True
            self._end(graceful=False)
        return self.serving

    def run(self, file: str, original: str, mutant: str, tests, timeout: float, log: Path):
        """The exit status of the mutant's tests in a forked child (None: timeout), or a Fallback."""
        if not self.serving:
            return Fallback("no server")
        request = {
            "file": str(self.copy / file),
            "original": original,
            "mutant": mutant,
            "tests": list(tests),
            "timeout": timeout,
            "log": str(log),
        }
        reply = self._ask(request, timeout + REPLY_MARGIN)
        if reply is None:  # it died or hangs: the mutant runs plain, the next one gets a new server
            if not self.off:
                self.mode.note(f"  the server of {self.copy.parent.name} stopped answering; see {self.log}")
            self._end(graceful=False)
            return Fallback("the server stopped answering")
        if "exit" in reply:
            return reply["exit"]
        return Fallback(reply.get("fallback", "the server refused it"))

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
        """End the server: if serving, its pipe closed it finishes its pytest session (killed if it
        does not); if still collecting (no job needed it), at once."""
        self._end(graceful=self.serving)

    def stop(self) -> None:
        """End it now, from any thread: the worker's pending read then sees the pipe close."""
        self.off = True
        if self.proc is not None:
            processes.stop(self.proc, grace=STOP_GRACE, leader_first=True)

    def _end(self, graceful: bool) -> None:
        proc, self.proc, self.serving = self.proc, None, False
        for fd in (self.requests, self.replies):
            with contextlib.suppress(OSError):
                os.close(fd)  # a server waiting for requests sees them end and finishes its session
        self.requests = self.replies = -1
        self.buffer = b""
        if proc is None:
            return
        if graceful:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(REPLY_MARGIN)
        processes.stop(proc, grace=STOP_GRACE, leader_first=True)
