"""target_app served for real by `python -m target_app serve` in a subprocess, with seeded data.

The served tests' library: `serve()` starts one on a free loopback port, `ServedApp` connects real
clients (`suites.served.client.Client`) and sends plain HTTP; `tests/app/conftest.py` and the module
suites' fixtures start them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import http.client
import json
import os
import secrets
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from harness.plugin.redis_server import RedisServer, find_redis_server, free_port
from suites.served.client import FRAME_TIMEOUT, Client
from suites.served.coverage import coverage_env
from suites.served.leaks import JWT_SHAPE
from suites.served.process import ProcessStats, read_stats

REPO_ROOT = Path(__file__).resolve().parents[2]
SEED_SCRIPT = Path(__file__).with_name("seed.py")

# The production stack's origin validator admits this (ALLOWED_HOSTS defaults to localhost,127.0.0.1).
ORIGIN = "http://localhost"
SIGNING_KEY = f"served-tests-{secrets.token_hex(32)}"  # 64+ bytes: long enough for HS512 too
ARENAS = 100  # isolated tournaments seeded per server: one per test that sends frames or changes state
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
POLL_SECONDS = 0.05
# Settings the server must not inherit from whoever runs the tests (nor any WS_* limit).
SCRUBBED_ENV = (
    "REDIS_URL",
    "ALLOWED_HOSTS",
    "TARGET_APP_DB",
    "TARGET_APP_SECRET_KEY",
    "TARGET_APP_INTROSPECTION",
    "FORWARDED_ALLOW_IPS",
    "COVERAGE_PROCESS_START",
)


@dataclass(frozen=True)
class Member:
    """A user of the served app and a valid token for it."""

    id: int
    token: str


@dataclass(frozen=True)
class Arena:
    """A tournament of its own with one scheduled match and its own organizer, participants and spectator."""

    tournament: int
    match: int
    users: dict[str, Member]

    @property
    def match_path(self) -> str:
        return f"/ws/match/{self.match}/"

    @property
    def tournament_path(self) -> str:
        return f"/ws/tournament/{self.tournament}/"


@dataclass
class ServedApp:
    """target_app served by `python -m target_app serve` on a free loopback port, with seeded data."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    demo: dict  # `python -m target_app init`'s JSON
    demo_tokens: dict[str, str]  # demo role → token (the spectator's from `python -m target_app token`)
    inactive: Member
    arenas: Iterator[Arena] = field(repr=False)
    db_path: Path | None = None  # the server's SQLite file (tests change rows behind its back)
    crowd: list[Member] = field(default_factory=list, repr=False)  # spectators of no match, for load
    env: dict[str, str] = field(default_factory=dict, repr=False)  # the server's environment
    signing_key: str = field(default=SIGNING_KEY, repr=False)  # the server's JWT key, to forge tokens

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws_url(self, path: str, token: str | None = None) -> str:
        query = f"?token={token}" if token is not None else ""
        return f"ws://127.0.0.1:{self.port}{path}{query}"

    def arena(self) -> Arena:
        """A fresh isolated tournament, never handed out before on this server."""
        arena = next(self.arenas, None)
        if arena is None:
            pytest.fail("all seeded arenas are used; seed more: serve(arenas=...)")
        return arena

    @asynccontextmanager
    async def connect(
        self,
        path: str,
        token: str | None = None,
        *,
        origin: str | None = ORIGIN,
        headers: dict[str, str] | None = None,
    ) -> AsyncIterator[Client]:
        """A real client connection; the handshake must succeed (the app's answer comes as frames)."""
        async with connect(
            self.ws_url(path, token),
            origin=origin,
            additional_headers=headers,
            open_timeout=FRAME_TIMEOUT,
            close_timeout=FRAME_TIMEOUT,
            ping_interval=None,
        ) as ws:
            yield Client(ws)

    async def refusal(self, path: str, token: str | None = None, **connect) -> tuple[list[dict], int | None]:
        """Connect, and read every frame up to the server's close: (frames, close code).

        For connections the server must refuse after accepting (an `error` frame, then the close);
        one it keeps open fails the test when the read times out. `connect` as for `connect()`.
        """
        async with self.connect(path, token, **connect) as client:
            return await client.until_closed()

    @asynccontextmanager
    async def join(self, path: str, token: str) -> AsyncIterator[Client]:
        """Connect and receive `connection_established` (kept in `client.welcome`)."""
        async with self.connect(path, token) as client:
            client.welcome = await client.expect("connection_established")
            yield client

    async def http(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body: object = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, object]:
        """One plain HTTP request; returns (status, the body parsed as JSON, or its text if not JSON)."""
        return await asyncio.to_thread(self._http, method, path, token, body, raw, headers or {})

    def _http(self, method, path, token, body, raw, extra_headers):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=FRAME_TIMEOUT)
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        headers.update(extra_headers)
        payload = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        try:
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            content = response.read()
        finally:
            connection.close()
        is_json = response.getheader("Content-Type", "").startswith("application/json")
        return response.status, json.loads(content) if is_json else content.decode(errors="replace")

    def set_user(self, user_id: int, **fields: object) -> None:
        """Change a user's row behind the server's back (`is_staff=0`), as an admin in another tool would."""
        assignments = ", ".join(f"{name} = ?" for name in fields)
        with contextlib.closing(sqlite3.connect(self.db_path, timeout=FRAME_TIMEOUT)) as db, db:
            db.execute(f"UPDATE auth_user SET {assignments} WHERE id = ?", (*fields.values(), user_id))

    def log(self) -> str:
        """Everything the server printed so far (stdout and stderr)."""
        return self.log_path.read_text(errors="replace")

    async def wait_for_log(self, text: str, count: int = 1, timeout: float = FRAME_TIMEOUT) -> str:
        """The log once `text` appears in it `count` times (for what the server does after a client left)."""
        deadline = time.monotonic() + timeout
        while (log := self.log()).count(text) < count:
            if time.monotonic() > deadline:
                pytest.fail(f"{text!r} not logged {count} times within {timeout}s:\n{log}")
            await asyncio.sleep(POLL_SECONDS)
        return log

    def alive(self) -> bool:
        return self.process.poll() is None

    def stats(self) -> ProcessStats:
        """The server process's RSS, peak RSS, open file descriptors and threads, from /proc."""
        return read_stats(self.process.pid)

    async def runtime(self) -> dict:
        """`GET /api/debug/runtime`: the server's tasks, consumers, threads and objects (served with
        `TARGET_APP_INTROSPECTION=1` in `serve(env=...)`)."""
        status, counts = await self.http("GET", "/api/debug/runtime")
        assert status == 200, f"/api/debug/runtime answered {status}: serve with TARGET_APP_INTROSPECTION=1"
        return counts


# -- starting and stopping --------------------------------------------------------------------------


def _server_env(db: Path, redis_url: str | None, extra: dict[str, str]) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in SCRUBBED_ENV and not key.startswith("WS_")
    }
    env.update(extra)
    env.update(
        TARGET_APP_DB=str(db),
        JWT_SIGNING_KEY=SIGNING_KEY,
        TARGET_APP_LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")])),
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def _run(command: list[str], env: dict[str, str]) -> str:
    """The command's output; a non-zero exit fails the test with its stderr."""
    result = subprocess.run(command, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        pytest.fail(f"`{' '.join(command[1:])}` exited {result.returncode}: {result.stderr.strip()}")
    return result.stdout


def _run_json(command: list[str], env: dict[str, str]) -> dict:
    return json.loads(_run(command, env))


def _cli_token(username: str, db: Path, env: dict[str, str]) -> str:
    return _run([sys.executable, "-m", "target_app", "token", username, "--db", str(db)], env).strip()


def _healthy(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        connection.request("GET", "/api/health")
        response = connection.getresponse()
        return response.status == 200 and json.loads(response.read()) == {"status": "ok"}
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def _wait_ready(process: subprocess.Popen[bytes], port: int) -> bool:
    """True once `GET /api/health` answers; False if the server exited first."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if _healthy(port):
            return True
        try:
            process.wait(POLL_SECONDS)  # the pause between polls, cut short if the server dies
        except subprocess.TimeoutExpired:
            continue
        return False
    stop(process)
    pytest.fail(f"target_app serve did not answer /api/health within {START_TIMEOUT:g}s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _launch(db: Path, env: dict[str, str], log_path: Path) -> tuple[subprocess.Popen[bytes], int]:
    for _ in range(3):  # a free port can be taken between probing and binding; then try another
        port = free_port("127.0.0.1")  # the plugin's probe, as for its redis-server
        command = [sys.executable, "-m", "target_app", "serve", "--db", str(db), "--port", str(port)]
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                command,
                env=env,
                cwd=REPO_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if _wait_ready(process, port):
            return process, port
        if "address already in use" not in log_path.read_text(errors="replace").lower():
            break
    log = log_path.read_text(errors="replace")
    pytest.fail(f"target_app serve exited {process.returncode}; its log:\n{log}")


def serve(
    workdir: Path,
    redis_url: str | None = None,
    *,
    env: dict[str, str] | None = None,
    arenas: int = ARENAS,
    crowd: int = 0,
    nodeid: str = "",
) -> ServedApp:
    """Initialise and seed a database in `workdir`, then serve it; fails the test if it never answers.

    `env` adds to the server's environment (e.g. `{"WS_ROOM_MAX": "500"}`, as a deployment sizes its
    limits); `crowd` seeds that many more users, spectators of no match. `nodeid` is the test that
    starts the server: when the session is measured, every target_app process started here is too,
    under that test's steps (suites.served.coverage).
    """
    db = workdir / "target_app.sqlite3"
    env = {**_server_env(db, redis_url, env or {}), **coverage_env(workdir, nodeid)}
    demo = _run_json([sys.executable, "-m", "target_app", "init", "--db", str(db)], env)
    seeded = _run_json([sys.executable, str(SEED_SCRIPT), str(arenas), str(crowd)], env)
    arena_iter = (
        Arena(item["tournament"], item["match"], {role: Member(**u) for role, u in item["users"].items()})
        for item in seeded["arenas"]
    )
    demo_tokens = {role: seeded["tokens"][user["username"]] for role, user in demo["users"].items()}
    # One demo token comes from the app's own command, so the tests show it mints tokens the server takes.
    demo_tokens["spectator"] = _cli_token(demo["users"]["spectator"]["username"], db, env)
    process, port = _launch(db, env, workdir / "server.log")
    return ServedApp(
        process=process,
        port=port,
        log_path=workdir / "server.log",
        demo=demo,
        demo_tokens=demo_tokens,
        inactive=Member(**seeded["inactive"]),
        arenas=arena_iter,
        db_path=db,
        crowd=[Member(**member) for member in seeded["crowd"]],
        env=env,
    )


def serve_replica(app: ServedApp, workdir: Path) -> ServedApp:
    """Another `serve` process on `app`'s database and Redis, as a second replica behind a balancer.

    It shares `app`'s users, tokens and arenas (an arena handed out by one is not handed out again).
    """
    process, port = _launch(app.db_path, app.env, workdir / "server.log")
    return dataclasses.replace(app, process=process, port=port, log_path=workdir / "server.log")


def stop_checked(app: ServedApp) -> None:
    """Stop the server, then fail if its log holds a traceback or anything shaped like a JWT."""
    stop(app.process)
    check_log(app)


def check_log(app: ServedApp) -> None:
    """Fail if the server's log holds a traceback or anything shaped like a JWT."""
    log = app.log()
    if "Traceback" in log:
        pytest.fail(f"the served app logged a traceback:\n{log[log.index('Traceback') :]}")
    if token := JWT_SHAPE.search(log):
        line = log[log.rfind("\n", 0, token.start()) + 1 : log.find("\n", token.end())]
        pytest.fail(f"the served app logged a token: {line}")


def start_redis() -> RedisServer:
    """A private redis-server; skips without one, except under CI where that is a failure."""
    if find_redis_server() is None:
        reason = "redis-server is not on PATH; the served Redis tests need a private one"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: a missing redis-server fails the run)")
        pytest.skip(reason)
    return RedisServer().start()
