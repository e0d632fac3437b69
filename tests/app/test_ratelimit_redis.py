"""The Redis backend on a private redis-server: parity with in-process, NOSCRIPT, outage fallback."""

import asyncio
import gc
import logging
import os
import random
import warnings

import pytest
import redis
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.testing import WebsocketCommunicator

from harness.plugin.redis_server import RedisServer, RedisServerError, find_redis_server
from target_app.realtime import ratelimit, ratelimit_backends
from target_app.realtime.middleware_ratelimit import RateLimitMiddleware
from target_app.realtime.ratelimit import Limiter
from target_app.realtime.ratelimit_backends import (
    BUCKET_MIN_TTL_SECONDS,
    COUNTER_TTL_SECONDS,
    MemoryBackend,
    RateDecision,
    RedisBackend,
)
from tests.app.limits import FakeClock, assert_burst_then_refill

LOGGER = "target_app.realtime.ratelimit"


class StandInUser:
    pk = 1
    is_authenticated = True


@pytest.fixture(scope="module")
def redis_server():
    executable = find_redis_server()
    if executable is None:
        reason = "redis-server is not on PATH; these tests need a real Redis"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: install it)")
        pytest.skip(reason)
    with RedisServer(executable) as server:
        yield server


@pytest.fixture
def redis_url(redis_server):
    if not redis_server.running:
        redis_server.restart()  # a test stopped it
    redis_server.flush()
    return redis_server.url


@pytest.fixture
def inspect(redis_url):
    """A plain client to look at what the backend stored."""
    with redis.Redis.from_url(redis_url, decode_responses=True) as client:
        yield client


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
async def on_redis(redis_url, clock):
    """Redis only, no fallback: a Redis failure fails the test instead of being served in-process."""
    limiter = Limiter(RedisBackend(redis_url), clock=clock)
    yield limiter
    await limiter.aclose()


@pytest.fixture
async def resilient(redis_url, clock):
    """Redis with the in-process fallback, as `get_limiter()` builds it."""
    limiter = Limiter(RedisBackend(redis_url), MemoryBackend(), clock=clock)
    yield limiter
    await limiter.aclose()


@pytest.fixture
def in_process(clock):
    return Limiter(MemoryBackend(), clock=clock)


async def apply(limiter: Limiter, op: tuple):
    name, *args = op
    return await getattr(limiter, name)(*args)


SCRIPTS = [ratelimit_backends._BUCKET, ratelimit_backends._ACQUIRE, ratelimit_backends._RELEASE]


def random_script(seed: int, length: int) -> list[tuple]:
    """Calls over a few keys with ticks between them, including a clock that jumps back."""
    rng = random.Random(seed)
    script: list[tuple] = []
    for _ in range(length):
        roll = rng.random()
        if roll < 0.45:
            script.append(
                ("hit", rng.choice(["ws:msg:user:1", "ws:msg:ip:10.0.0.1"]), rng.choice([2, 10]), 4)
            )
        elif roll < 0.65:
            script.append(("acquire", rng.choice(["ws:conn:user:1", "ws:room:match_1"]), 3))
        elif roll < 0.8:
            script.append(("release", rng.choice(["ws:conn:user:1", "ws:room:match_1"])))
        elif roll < 0.85:
            script.append(("count", "ws:conn:user:1"))
        else:
            script.append(("tick", rng.choice([0.0, 0.001, 0.05, 0.1, 0.1, 0.37, 1.0, 3.0, -0.5])))
    return script


async def run_script(limiter: Limiter, clock: FakeClock, script: list[tuple]) -> list:
    clock.now = 1000.0
    answers = []
    for op in script:
        if op[0] == "tick":
            clock.now += op[1]
        else:
            answers.append(await apply(limiter, op))
    return answers


async def test_lua_and_in_process_give_the_same_answers(on_redis, in_process, clock):
    script = random_script(seed=20261121, length=400)
    on_redis_answers = await run_script(on_redis, clock, script)
    in_process_answers = await run_script(in_process, clock, script)
    assert on_redis_answers == in_process_answers
    # The script exercised every outcome, so equality means something.
    hits = [answer for answer in on_redis_answers if isinstance(answer, RateDecision)]
    assert {hit.allowed for hit in hits} == {True, False}
    assert any(hit.retry_after not in (0.0, 0.5, 0.1) for hit in hits)  # fractional refills
    assert {answer for answer in on_redis_answers if isinstance(answer, bool)} == {True, False}


@pytest.fixture(params=["redis", "in-process"])
async def either(request, redis_url, clock):
    """Each backend alone, behind a limiter on the test's clock."""
    limiter = Limiter(RedisBackend(redis_url) if request.param == "redis" else MemoryBackend(), clock=clock)
    yield limiter
    await limiter.aclose()


async def test_bucket_limits_are_exact_on_both_backends(either, clock):
    await assert_burst_then_refill(either, clock)


async def test_keys_are_namespaced_with_ttls(on_redis, inspect):
    await on_redis.hit("ws:msg:user:7", 10, 20)
    await on_redis.acquire("ws:conn:user:7", 3)
    await on_redis.acquire("ws:room:match_7", 3)
    assert sorted(inspect.keys("*")) == ["ws:conn:user:7", "ws:msg:user:7", "ws:room:match_7"]
    assert 0 < inspect.pttl("ws:msg:user:7") <= BUCKET_MIN_TTL_SECONDS * 1000
    assert 0 < inspect.ttl("ws:conn:user:7") <= COUNTER_TTL_SECONDS
    await on_redis.release("ws:conn:user:7")
    await on_redis.release("ws:conn:user:7")
    assert inspect.exists("ws:conn:user:7") == 0  # released to zero: gone, not negative


async def test_scripts_load_once(on_redis, redis_url):
    for _ in range(20):
        await on_redis.hit("ws:msg:user:1", 10, 20)
        await on_redis.acquire("ws:conn:user:1", 3)
        await on_redis.release("ws:conn:user:1")
    assert on_redis.primary.script_loads == 3


async def test_script_flush_mid_run_is_survived(on_redis, in_process, clock, inspect):
    calls = [("hit", "ws:msg:user:1", 10, 2), ("acquire", "ws:conn:user:1", 2), ("release", "ws:conn:user:1")]
    for op in calls * 2:
        assert await apply(on_redis, op) == await apply(in_process, op)
    assert on_redis.primary.script_loads == 3

    inspect.script_flush()
    assert not any(inspect.script_exists(*(script.sha for script in SCRIPTS)))

    for op in calls * 2:
        assert await apply(on_redis, op) == await apply(in_process, op)
    assert on_redis.primary.script_loads == 6  # each script reloaded once, on its NOSCRIPT
    assert all(inspect.script_exists(*(script.sha for script in SCRIPTS)))
    assert await on_redis.hit("ws:msg:user:1", 10, 2) == await in_process.hit("ws:msg:user:1", 10, 2)


async def test_redis_restart_between_calls_is_invisible(resilient, redis_server, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    assert await resilient.acquire("ws:conn:user:1", 3)
    redis_server.restart()  # the pooled connection is now dead, the scripts and keys gone
    assert await resilient.acquire("ws:conn:user:1", 3)
    assert await resilient.count("ws:conn:user:1") == 1  # counted in the new (empty) Redis
    assert not resilient.degraded and caplog.records == []
    assert resilient.primary.script_loads == 2  # acquire again after NOSCRIPT


async def test_outage_switches_to_in_process_once_and_back(resilient, redis_server, clock, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    assert (await resilient.hit("ws:msg:user:1", 10, 3)).allowed
    redis_server.stop()

    answers = []
    for _ in range(50):
        answers.append((await resilient.hit("ws:msg:user:1", 10, 3)).allowed)
        clock.now += 0.5  # crosses the 5 s cooldown several times: retries fail quietly
    assert resilient.degraded
    assert all(answers)  # served in-process: a fresh bucket, refilled by the ticks
    warnings = [r for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "Redis unreachable" in warnings[0].getMessage()

    # Same limits while degraded: the fallback enforces the burst.
    assert [(await resilient.hit("ws:msg:user:2", 10, 3)).allowed for _ in range(4)] == [True] * 3 + [False]

    redis_server.restart()
    clock.now += 1  # inside the cooldown: Redis is not asked yet
    await resilient.hit("ws:msg:user:3", 10, 3)
    assert resilient.degraded
    clock.now += 5
    assert (await resilient.hit("ws:msg:user:1", 10, 3)).allowed
    assert not resilient.degraded
    back = [r for r in caplog.records if r.name == LOGGER and r.levelno == logging.INFO]
    assert len(back) == 1 and "reachable again" in back[0].getMessage()
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1


async def test_slot_taken_during_outage_is_released_in_process(resilient, redis_server, clock, inspect):
    assert await resilient.acquire("ws:conn:user:1", 2)  # in Redis
    redis_server.stop()
    assert await resilient.acquire("ws:conn:user:1", 2)  # in-process
    redis_server.restart()
    clock.now += 10
    assert await resilient.acquire("ws:conn:user:1", 2)  # Redis again (restarted empty)
    assert inspect.get("ws:conn:user:1") == "1"
    await resilient.release("ws:conn:user:1")  # the in-process slot first
    assert await resilient.fallback.count("ws:conn:user:1") == 0
    assert inspect.get("ws:conn:user:1") == "1"
    await resilient.release("ws:conn:user:1")
    assert inspect.exists("ws:conn:user:1") == 0


class EchoConsumer(AsyncWebsocketConsumer):
    channel_layer_alias = "no-channel-layer-in-these-tests"

    def __init__(self, *, log: list) -> None:
        super().__init__()
        self.log = log

    async def receive(self, text_data=None, bytes_data=None):
        await self.send(text_data=text_data)

    async def disconnect(self, code):
        self.log.append(("disconnect", code))


async def test_live_connection_survives_redis_going_away(
    resilient, redis_server, clock, caplog, settings, inspect
):
    settings.WS_MSG_RATE, settings.WS_MSG_BURST, settings.WS_RATE_CLOSE_AFTER = 10, 5, 3
    caplog.set_level(logging.INFO, logger=LOGGER)
    log: list = []
    inner = RateLimitMiddleware(EchoConsumer.as_asgi(log=log), limiter=resilient)

    async def app(scope, receive, send):
        return await inner({**scope, "user": StandInUser(), "client": ("192.0.2.1", 1)}, receive, send)

    communicator = WebsocketCommunicator(app, "/ws/match/1/")
    try:
        assert (await communicator.connect())[0]
        assert inspect.get("ws:conn:user:1") == "1"
        await communicator.send_to(text_data="before")
        assert await communicator.receive_from() == "before"

        redis_server.stop()
        for n in range(20):
            clock.now += 0.2
            await communicator.send_to(text_data=f"during {n}")
            assert await communicator.receive_from() == f"during {n}"
        assert resilient.degraded
    finally:
        await communicator.disconnect()
    assert log == [("disconnect", 1000)]  # closed by the client, not by the middleware
    warnings = [r for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING]
    assert len(warnings) == 1


async def test_slot_released_in_redis_when_the_inner_app_raises(resilient, inspect):
    async def crashing(scope, receive, send):
        await receive()
        await send({"type": "websocket.accept"})
        raise RuntimeError("consumer bug")

    middleware = RateLimitMiddleware(crashing, limiter=resilient)

    async def app(scope, receive, send):
        return await middleware({**scope, "user": StandInUser(), "client": ("192.0.2.1", 1)}, receive, send)

    communicator = WebsocketCommunicator(app, "/ws/")
    await communicator.connect()
    assert inspect.get("ws:conn:user:1") == "1"
    with pytest.raises(RuntimeError, match="consumer bug"):
        await communicator.wait()
    assert inspect.exists("ws:conn:user:1") == 0


async def test_a_storm_of_more_calls_than_pooled_connections_waits_and_loses_no_slot(resilient, inspect):
    # 300 connections arriving and leaving at once: redis-py's plain pool raised "Too many connections"
    # past 100, which passed for an outage, and every slot released meanwhile stayed held in Redis.
    keys = [f"ws:conn:user:{n}" for n in range(300)]
    assert all(await asyncio.gather(*(resilient.acquire(key, 3) for key in keys)))
    assert int(inspect.get("ws:conn:user:299")) == 1
    await asyncio.gather(*(resilient.release(key) for key in keys))
    assert not resilient.degraded
    assert inspect.keys("ws:*") == []
    assert inspect.info("clients")["connected_clients"] <= ratelimit_backends.POOL_SIZE + 1  # + inspect


def leaked_sockets(caught: list[warnings.WarningMessage]) -> list[str]:
    """ResourceWarnings about network connections (not, say, a stray event loop's own self-pipe)."""
    messages = [str(w.message) for w in caught if "unclosed" in str(w.message)]
    network = ("Connection", "transport", "family=2", "family=10")
    return [m for m in messages if any(word in m for word in network)]


def run_in_own_loop(coro) -> None:
    """asyncio.run() without touching the thread's current loop (pytest-asyncio keeps one there)."""
    with asyncio.Runner(loop_factory=asyncio.new_event_loop) as runner:
        runner.run(coro)


def test_limiter_never_closed_is_closed_with_its_loop(redis_url):
    limiter = Limiter(RedisBackend(redis_url), MemoryBackend())

    async def use(limiter):
        assert await limiter.acquire("ws:conn:user:1", 3)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run_in_own_loop(use(limiter))
        run_in_own_loop(use(limiter))  # a second loop gets a client of its own
        del limiter
        gc.collect()
    assert leaked_sockets(caught) == []


def test_reset_as_the_loop_ends_leaves_no_connection(settings, redis_url):
    settings.REDIS_URL = redis_url

    async def use_then_reset():
        assert await ratelimit.get_limiter().acquire("ws:conn:user:1", 3)
        ratelimit.reset_limiters()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run_in_own_loop(use_then_reset())
        gc.collect()
    assert leaked_sockets(caught) == []


def test_redis_server_restarts_on_its_port(redis_server):
    port = redis_server.port
    redis_server.restart()
    assert redis_server.running and redis_server.port == port
    assert redis_server.url == f"redis://127.0.0.1:{port}/0"
    with redis.Redis.from_url(redis_server.url) as client:
        assert client.ping()
    redis_server.stop()
    redis_server.stop()  # idempotent
    assert not redis_server.running


def test_redis_server_refuses_non_loopback_hosts():
    with pytest.raises(RedisServerError, match="loopback"):
        RedisServer(host="0.0.0.0")
