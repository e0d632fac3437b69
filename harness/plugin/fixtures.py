"""The harness plugin's public fixtures for Django Channels projects (see docs/plugin.md).

Django, Channels and the other test libraries are imported inside the fixtures, so a
project that uses none of them can still load the plugin.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from .config import get_config
from .connections import WebSocketClients
from .errors import PluginError
from .metrics import MetricRecorder
from .overrides import RateLimits
from .redis_handle import RedisHandle, start_session_server
from .rows import Rows, Users
from .stack import AsgiTarget, load_target
from .timetravel import TimeTravel
from .tokens import TokenFactory

__all__ = [
    "harness_asgi_app",
    "harness_channel_layer",
    "harness_jwt",
    "harness_metric",
    "harness_rate_limits",
    "harness_redis",
    "harness_rows",
    "harness_time_travel",
    "harness_users",
    "harness_ws",
]

try:
    import pytest_asyncio
except ImportError:  # the optional "channels" extra is not installed
    pytest_asyncio = None


def _async_fixture(func: Callable[..., Any]) -> Any:
    """pytest-asyncio's fixture decorator (works in strict and auto mode), or a clear failure."""
    if pytest_asyncio is not None:
        return pytest_asyncio.fixture(func)

    def unavailable() -> None:
        pytest.fail(f"{func.__name__} needs pytest-asyncio: pip install 'harness[channels]'", pytrace=False)

    unavailable.__doc__ = func.__doc__
    return pytest.fixture(name=func.__name__)(unavailable)


def _fail_on(err: PluginError) -> None:
    pytest.fail(str(err), pytrace=False)


@_async_fixture
async def harness_channel_layer(settings: Any) -> AsyncIterator[Any]:
    """A fresh InMemoryChannelLayer for this test, flushed afterwards.

    CHANNEL_LAYERS is overridden for the test, so `get_channel_layer()` anywhere in the
    app returns this layer; groups and messages never leak into the next test.
    """
    from channels import DEFAULT_CHANNEL_LAYER
    from channels.layers import channel_layers, get_channel_layer

    settings.CHANNEL_LAYERS = {DEFAULT_CHANNEL_LAYER: {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    channel_layers.backends.clear()
    layer = get_channel_layer()
    yield layer
    await layer.flush()
    channel_layers.backends.clear()


@pytest.fixture(scope="session")
def _harness_asgi_target(request: pytest.FixtureRequest) -> AsgiTarget:
    """Internal: what `harness_asgi_factory` names, imported once per session; use harness_asgi_app."""
    try:
        return load_target(get_config(request.config).asgi_factory)
    except PluginError as err:
        error = err
    # Failing outside the except block keeps the report to one line, with no chained traceback.
    _fail_on(error)


@pytest.fixture
def harness_asgi_app(_harness_asgi_target: AsgiTarget, harness_channel_layer: Any) -> Any:
    """The test ASGI stack: the production application minus its origin validators, per test.

    `harness_asgi_factory` names the production application (`module:attribute`): a
    zero-argument factory, called for every test, or a module-level application.
    Every `channels.security.websocket.OriginValidator` layer (what
    `AllowedHostsOriginValidator` returns) is removed, on copies, so clients without an
    Origin header get in. Everything else (auth, rate limits, routing) stays as in
    production. Uses `harness_channel_layer`.
    """
    try:
        return _harness_asgi_target.test_stack()
    except PluginError as err:
        error = err
    _fail_on(error)


@pytest.fixture
def harness_jwt(request: pytest.FixtureRequest) -> TokenFactory:
    """Mints JWTs the app must accept or refuse: valid, expired, malformed, wrong key, alg none, unknown user.

    `valid(user, ttl=3600)`, `expired(user)`, `malformed()`, `wrong_key(user)`,
    `alg_none(user)`, `unknown_user()`; `decode(token)` reads one back.
    `user` is a user object or its primary key. Key: the Django setting named by
    `harness_jwt_key_setting` (else SECRET_KEY); claim: `harness_jwt_user_claim`;
    algorithm: `harness_jwt_algorithm`. Claims: the user claim, `iat`, `exp`
    (from `time.time()`, so `harness_time_travel` moves them).
    """
    return TokenFactory(get_config(request.config))


@pytest.fixture
def _harness_ws_order(request: pytest.FixtureRequest) -> None:
    """Internal: makes the test's database fixture outlive harness_ws."""
    # Set the test's database fixture up before harness_ws so it is torn down after the
    # clients disconnect: consumers may still touch the database while disconnecting.
    for name in ("transactional_db", "db"):
        if name in request.fixturenames:
            request.getfixturevalue(name)


@_async_fixture
async def harness_ws(
    request: pytest.FixtureRequest,
    _harness_ws_order: None,
    _harness_asgi_target: AsgiTarget,
    harness_asgi_app: Any,
    harness_jwt: TokenFactory,
) -> AsyncIterator[WebSocketClients]:
    """Opens WebSocket clients against the test stack; every one is disconnected at teardown.

        client = await harness_ws.connect("/ws/room/1/", user=alice, origin="http://localhost")
        assert client.accepted
        await client.send_json({"type": "ping"})
        assert (await client.receive_json())["type"] == "pong"
        await client.expect_close(4008, timeout=60)     # frames before the close are returned
        await client.assert_nothing_received(5)         # 5 s of event-loop time

    connect() takes `user=` (a token, or a session cookie with `harness_ws_auth =
    session`) or `token=`; `headers=`, `origin=`, `scope=`; `production=True` (the
    production application built now, origin check included) or `application=`.
    Timeouts are event-loop time. Teardown disconnects even after timeouts or consumer
    exceptions, swallows CancelledError, cancels tasks the consumers left running, and
    reports consumer exceptions the test never saw.
    """
    config = get_config(request.config)
    clients = WebSocketClients(
        harness_asgi_app,
        harness_jwt.valid,
        config.token_query_param,
        production=_harness_asgi_target.production,
        auth=config.ws_auth,
    )
    clients._remember_tasks()
    yield clients
    errors = await clients._close_all()
    if errors:
        described = "; ".join(f"{client.path}: {error!r}" for client, error in errors)
        raise AssertionError(
            f"harness_ws: the application raised and the test never saw it: {described}"
        ) from errors[0][1]


@pytest.fixture
def harness_rows(transactional_db: None) -> Rows:
    """Creates committed rows of any model: `harness_rows.create(Model, **fields)` (`acreate` in async code).

    Uses `transactional_db`, so consumers running in executor threads see the rows;
    pytest-django empties the tables after the test.
    """
    return Rows()


@pytest.fixture
def harness_users(harness_rows: Rows) -> Users:
    """Creates committed users of `get_user_model()`: `harness_users.create("alice", is_staff=True)`.

    Usernames default to user1, user2, ...; `acreate` is the async twin. Users
    without a `password=` get an unusable one (fast). Removed after the test.
    """
    return Users(harness_rows)


@pytest.fixture
def harness_time_travel() -> Iterator[TimeTravel]:
    """Moves `time.time()`/`datetime.now()` with time-machine: `harness_time_travel.shift(3600)`.

    For wall-clock expiry such as JWT `exp`; event-loop timers are untouched (use
    looptime for those). Time returns to normal after the test.
    """
    travel = TimeTravel()
    yield travel
    travel._stop()


@pytest.fixture
def harness_rate_limits(request: pytest.FixtureRequest, settings: Any) -> RateLimits:
    """Overrides rate-limit settings for one test: `harness_rate_limits(conn_per_user=1, msg_rate=5)`.

    Short names get the `harness_rate_limit_prefix` (default `WS_`) and are upper-cased;
    attribute style works too (`harness_rate_limits.msg_burst = 2`). Only existing
    settings can be set; the originals come back after the test.
    """
    return RateLimits(settings, get_config(request.config).rate_limit_prefix)


@pytest.fixture(scope="session")
def harness_metric(request: pytest.FixtureRequest) -> MetricRecorder:
    """Records a figure the test measured, for the harness: `harness_metric("ws_connect_ms", samples, "ms")`.

    `value` is one number or a list/tuple of samples (floats; p95/p99 are taken from them later).
    Each call appends `("harness_metric", '{"name": ..., "unit": ..., "values": [...]}')` to the
    running test's `user_properties` (JUnit XML shows them as properties). Session-scoped, so
    module- and class-scoped fixtures may record too: what they record lands on the test whose
    setup or teardown ran them. Calling it outside a test, or with a value that is not finite
    numbers, fails with FixtureUsageError.
    """
    return MetricRecorder(request.config)


@pytest.fixture(scope="session")
def _harness_redis_server() -> Iterator[Any]:
    """Internal: the session's redis-server, started on first use; use harness_redis."""
    server = start_session_server()
    yield server
    server.stop()


@pytest.fixture
def harness_redis(request: pytest.FixtureRequest, _harness_redis_server: Any) -> Iterator[RedisHandle]:
    """A private redis-server for the session, empty at the start of each test.

    `harness_redis.url` is also put in the Django setting named by
    `harness_redis_url_setting` (default REDIS_URL) for the test. `down()` stops the
    server and `up()` brings it back on the same port. Skipped when redis-server is
    not installed, failed instead when the environment has CI=true.
    """
    handle = RedisHandle(_harness_redis_server)
    handle._reset()
    if _django_configured():
        settings = request.getfixturevalue("settings")
        setattr(settings, get_config(request.config).redis_url_setting, handle.url)
    yield handle
    handle._reset()


def _django_configured() -> bool:
    try:
        from django.conf import settings
    except ImportError:
        return False
    return settings.configured
