"""Module 6.8's servers: target_app served for real on a private Redis, one set per test file."""

from collections.abc import Callable, Iterator

import pytest
import redis

from harness.plugin.redis_server import RedisServer
from suites.served.app import ServedApp, check_log, serve, serve_replica, start_redis, stop


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    """A redis-server of this test file's own, on a free loopback port."""
    server = start_redis()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def serving(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer
) -> Iterator[Callable[..., ServedApp]]:
    """Starts target_app as production runs it: `python -m target_app serve`, REDIS_URL on this file's
    Redis (channel layer and limits). `serving(env={...}, crowd=N, arenas=N, redis_url=...)`;
    `serving(replica_of=app)` starts a second process on `app`'s database and Redis.

    Every server is stopped when the file is done, and the file fails if a server's log holds a
    traceback or a token.
    """
    started: list[ServedApp] = []

    def start(*, redis_url: str | None = None, replica_of: ServedApp | None = None, **options) -> ServedApp:
        workdir = tmp_path_factory.mktemp("served")
        if replica_of is not None:  # another process on that server's database and Redis
            app = serve_replica(replica_of, workdir)
        else:
            app = serve(workdir, redis_url or redis_server.url, nodeid=request.node.nodeid, **options)
        started.append(app)
        return app

    yield start
    for app in started:
        stop(app.process)
    for app in started:
        check_log(app)


@pytest.fixture(scope="module")
def redis_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A plain client of this file's Redis, to look at what the servers keep there."""
    with redis.Redis.from_url(redis_server.url, decode_responses=True) as client:
        yield client
