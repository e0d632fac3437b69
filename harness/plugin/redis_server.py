"""A private, throwaway `redis-server` on a free loopback port, for fixtures and tests."""

from __future__ import annotations

import ipaddress
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

__all__ = ["RedisServer", "RedisServerError", "find_redis_server"]

_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 5.0
_POLL_INTERVAL = 0.01
_PORT_ATTEMPTS = 5


class RedisServerError(Exception):
    """`redis-server` is missing, would not start, or did not answer PING in time."""


def find_redis_server() -> str | None:
    """Path of `redis-server` on PATH, or None."""
    return shutil.which("redis-server")


def _loopback_host(host: str) -> str:
    try:
        address = ipaddress.ip_address(host)
    except ValueError as err:
        raise RedisServerError(f"host must be a loopback IP address, got {host!r}") from err
    if not address.is_loopback:
        raise RedisServerError(f"host must be a loopback IP address, got {host!r}")
    return str(address)


def free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class RedisServer:
    """One `redis-server` process: no persistence, loopback only, torn down without leftovers."""

    def __init__(self, executable: str | None = None, host: str = "127.0.0.1") -> None:
        self.executable = executable
        self.host = _loopback_host(host)
        self.port: int = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._workdir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"redis://{host}:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> RedisServer:
        """Start on a free port (or the port of an earlier start) and wait until PING answers."""
        if self.running:
            return self
        executable = self.executable or find_redis_server()
        if executable is None:
            raise RedisServerError(
                "redis-server not found on PATH; install Redis (e.g. apt install redis-server)"
            )
        if self.port:
            self._launch(executable, self.port)
            return self
        for _ in range(_PORT_ATTEMPTS):
            try:
                self._launch(executable, free_port(self.host))
                return self
            except _PortTaken:
                # Another process took the port between probing and binding; try a fresh one.
                self.port = 0
        raise RedisServerError(f"no free port for redis-server after {_PORT_ATTEMPTS} tries")

    def stop(self) -> None:
        """Terminate the server and wait for it; safe to call twice."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None

    def restart(self) -> None:
        """Start again on the same port, as a Redis that went away and came back."""
        self.stop()
        self.start()

    def flush(self) -> None:
        """Drop all keys and all cached Lua scripts."""
        client = redis.Redis(host=self.host, port=self.port, socket_timeout=_STOP_TIMEOUT)
        try:
            client.flushall()
            client.script_flush()
        finally:
            client.close()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _launch(self, executable: str, port: int) -> None:
        self._workdir = tempfile.TemporaryDirectory(prefix="harness-redis-")
        log_path = Path(self._workdir.name) / "redis.log"
        command = [
            executable,
            "--port", str(port),
            "--bind", self.host,
            "--save", "",
            "--appendonly", "no",
            "--dir", self._workdir.name,
            "--logfile", str(log_path),
            "--daemonize", "no",
        ]  # fmt: skip
        try:
            self._process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        except OSError as err:
            self.stop()
            raise RedisServerError(f"cannot run {executable}: {err}") from err
        self.port = port
        self._wait_for_ping(log_path)

    def _wait_for_ping(self, log_path: Path) -> None:
        # No client-side retries: the loop below is the retry, and it must notice an exited server quickly.
        client = redis.Redis(
            host=self.host,
            port=self.port,
            socket_timeout=0.5,
            socket_connect_timeout=0.5,
            retry=Retry(NoBackoff(), 0),
        )
        deadline = time.monotonic() + _START_TIMEOUT
        try:
            while time.monotonic() < deadline:
                if not self.running:
                    self._fail_exited(log_path)
                try:
                    if client.ping():
                        return
                except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError):
                    pass
                time.sleep(_POLL_INTERVAL)
        finally:
            client.close()
        self.stop()
        raise RedisServerError(
            f"redis-server on port {self.port} did not answer PING within {_START_TIMEOUT:g}s"
        )

    def _fail_exited(self, log_path: Path) -> None:
        log = log_path.read_text(errors="replace") if log_path.exists() else ""
        port = self.port
        self.stop()
        if "Address already in use" in log:
            raise _PortTaken(f"redis-server could not bind {self.host}:{port}: address already in use")
        last = log.strip().splitlines()[-1] if log.strip() else "no log output"
        raise RedisServerError(f"redis-server exited on start (port {port}): {last}")


class _PortTaken(RedisServerError):
    """The chosen port was bound by someone else before redis-server got it."""
