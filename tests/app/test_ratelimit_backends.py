"""The in-process rate-limit backend, the limiter's clock and the module-level API of ratelimit.py."""

import asyncio
import time

import pytest

from target_app.realtime import ratelimit
from target_app.realtime.ratelimit import Limiter, loop_clock
from target_app.realtime.ratelimit_backends import MemoryBackend, RateDecision, RedisBackend, take_token
from tests.app.limits import FakeClock, assert_burst_then_refill


@pytest.fixture(autouse=True)
def _fresh_limiters():
    ratelimit.reset_limiters()
    yield
    ratelimit.reset_limiters()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def test_bucket_allows_burst_then_refills_at_rate(clock):
    limiter = Limiter(MemoryBackend(), clock=clock)
    await assert_burst_then_refill(limiter, clock)
    assert await limiter.hit("ws:msg:user:1", 2, 3) == RateDecision(False, 0.5)


async def test_bucket_never_holds_more_than_burst(clock):
    limiter = Limiter(MemoryBackend(), clock=clock)
    await limiter.hit("k", 10, 2)
    clock.now += 3600
    answers = [(await limiter.hit("k", 10, 2)).allowed for _ in range(3)]
    assert answers == [True, True, False]


@pytest.mark.parametrize("rate", [0, -1])
async def test_non_positive_rate_is_a_clear_error(rate):
    with pytest.raises(ValueError, match="positive number of tokens per second"):
        await Limiter(MemoryBackend()).hit("k", rate, 5)


async def test_buckets_are_per_key(clock):
    limiter = Limiter(MemoryBackend(), clock=clock)
    assert (await limiter.hit("ws:msg:user:1", 1, 1)).allowed
    assert not (await limiter.hit("ws:msg:user:1", 1, 1)).allowed
    assert (await limiter.hit("ws:msg:user:2", 1, 1)).allowed


def test_clock_going_backwards_refills_nothing_and_is_adopted():
    decision, tokens, ts = take_token(0.0, 50.0, 10.0, 20.0, 10.0)
    assert (decision, tokens, ts) == (RateDecision(False, 0.1), 0.0, 10.0)
    # From the adopted time on, refill is normal again.
    decision, tokens, ts = take_token(tokens, ts, 10.0, 20.0, 10.1)
    assert decision.allowed and ts == 10.1


async def test_counter_refuses_over_limit_and_frees_on_release():
    limiter = Limiter(MemoryBackend())
    assert [await limiter.acquire("ws:conn:user:1", 2) for _ in range(3)] == [True, True, False]
    assert await limiter.count("ws:conn:user:1") == 2
    await limiter.release("ws:conn:user:1")
    assert await limiter.count("ws:conn:user:1") == 1
    assert await limiter.acquire("ws:conn:user:1", 2)
    assert not await limiter.acquire("ws:conn:user:1", 2)


async def test_release_never_goes_below_zero():
    limiter = Limiter(MemoryBackend())
    for _ in range(3):
        await limiter.release("ws:conn:ip:10.0.0.1")
    assert await limiter.count("ws:conn:ip:10.0.0.1") == 0
    # Extra releases did not bank credit: the limit still holds.
    assert [await limiter.acquire("ws:conn:ip:10.0.0.1", 1) for _ in range(2)] == [True, False]


@pytest.mark.looptime
async def test_default_clock_is_the_event_loop_so_virtual_time_refills():
    limiter = Limiter(MemoryBackend())
    assert limiter.clock is loop_clock
    assert [(await limiter.hit("k", 1, 1)).allowed for _ in range(2)] == [True, False]
    started = time.monotonic()
    await asyncio.sleep(1)
    assert (await limiter.hit("k", 1, 1)).allowed
    assert time.monotonic() - started < 0.5  # the second passed in loop time only


def test_loop_clock_outside_a_loop_is_monotonic():
    before = time.monotonic()
    assert before <= loop_clock() <= time.monotonic()


async def test_loop_clock_inside_a_loop_is_the_loop_time():
    loop = asyncio.get_running_loop()
    before = loop.time()
    assert before <= loop_clock() <= loop.time()


def test_get_limiter_is_cached_until_reset(settings):
    settings.REDIS_URL = None
    limiter = ratelimit.get_limiter()
    assert ratelimit.get_limiter() is limiter
    assert isinstance(limiter.primary, MemoryBackend) and limiter.fallback is None
    ratelimit.reset_limiters()
    assert ratelimit.get_limiter() is not limiter


def test_redis_url_selects_redis_with_in_process_fallback(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    limiter = ratelimit.get_limiter()
    assert isinstance(limiter.primary, RedisBackend)
    assert limiter.primary.url == "redis://127.0.0.1:1/0"
    assert isinstance(limiter.fallback, MemoryBackend)


@pytest.mark.parametrize("name", ["WS_MSG_RATE", "WS_CONN_PER_USER", "REDIS_URL"])
async def test_changing_a_rate_setting_drops_limiter_and_state(settings, name):
    settings.REDIS_URL = None
    limiter = ratelimit.get_limiter()
    assert await limiter.acquire("ws:conn:user:1", 1)
    setattr(settings, name, getattr(settings, name))
    fresh = ratelimit.get_limiter()
    assert fresh is not limiter
    assert await fresh.count("ws:conn:user:1") == 0


async def test_unrelated_setting_keeps_limiter(settings):
    limiter = ratelimit.get_limiter()
    settings.SCORE_BATCH_WINDOW_MS = 5
    assert ratelimit.get_limiter() is limiter


async def test_room_slots_enforce_ws_room_max(settings):
    settings.REDIS_URL = None
    settings.WS_ROOM_MAX = 2
    results = [await ratelimit.acquire_room_slot("match_7") for _ in range(3)]
    assert results == [True, True, False]
    assert await ratelimit.acquire_room_slot("match_8")  # rooms count apart
    await ratelimit.release_room_slot("match_7")
    assert await ratelimit.get_limiter().count("ws:room:match_7") == 1
    assert await ratelimit.acquire_room_slot("match_7")


async def test_room_slots_unlimited_when_rate_limiting_is_off(settings):
    settings.REDIS_URL = None
    settings.WS_ROOM_MAX = 1
    settings.WS_RATE_ENABLED = False
    assert [await ratelimit.acquire_room_slot("match_7") for _ in range(3)] == [True, True, True]
    await ratelimit.release_room_slot("match_7")
    assert await ratelimit.get_limiter().count("ws:room:match_7") == 0


async def test_close_limiters_drops_the_cached_limiter():
    limiter = ratelimit.get_limiter()
    await limiter.acquire("ws:conn:user:1", 1)
    await ratelimit.close_limiters()
    assert await limiter.count("ws:conn:user:1") == 0
    assert ratelimit.get_limiter() is not limiter


def test_key_names_are_namespaced():
    assert ratelimit.connection_key("user", "5") == "ws:conn:user:5"
    assert ratelimit.connection_key("ip", "10.0.0.1") == "ws:conn:ip:10.0.0.1"
    assert ratelimit.message_key("user", "5") == "ws:msg:user:5"
    assert ratelimit.room_key("match_3") == "ws:room:match_3"
