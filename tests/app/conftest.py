"""Fixtures for the served tests: `python -m target_app serve` as a subprocess, real clients."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.plugin.redis_server import RedisServer
from suites.served.app import ServedApp, serve, start_redis, stop, stop_checked


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedApp]:
    """target_app served for real with in-process backends (no REDIS_URL), shared by the session."""
    app = serve(tmp_path_factory.mktemp("served"))
    yield app
    stop_checked(app)


@pytest.fixture(scope="session")
def served_redis() -> Iterator[RedisServer]:
    """A private redis-server on a free loopback port for the served Redis tests."""
    server = start_redis()
    yield server
    server.stop()


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    """A redis-server of this test alone, which it may stop."""
    server = start_redis()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def served_on_redis(
    tmp_path_factory: pytest.TempPathFactory, served_redis: RedisServer
) -> Iterator[ServedApp]:
    """target_app served for real with REDIS_URL at `served_redis`: Redis rate limits and channel layer."""
    app = serve(tmp_path_factory.mktemp("served-redis"), served_redis.url)
    yield app
    stop_checked(app)


@pytest.fixture(params=["memory", "redis"])
def any_served(request: pytest.FixtureRequest) -> ServedApp:
    """The served app once with in-process backends and once on Redis, to show both behave the same."""
    return request.getfixturevalue("served" if request.param == "memory" else "served_on_redis")


@pytest.fixture
def serve_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator:
    """A factory for a private served app (for tests that break its Redis); stopped at teardown."""
    started: list[ServedApp] = []

    def start(redis_url: str | None = None) -> ServedApp:
        workdir = tmp_path / f"app{len(started)}"
        workdir.mkdir()
        app = serve(workdir, redis_url, nodeid=request.node.nodeid)
        started.append(app)
        return app

    yield start
    for app in started:
        stop(app.process)
