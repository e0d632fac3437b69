"""Rate-limit state for the realtime layer: token buckets and counters, in Redis or in-process."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import redis.asyncio
from django.conf import settings
from django.core.signals import setting_changed
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

Clock = Callable[[], float]
_T = TypeVar("_T")

# A counter refreshes its TTL on every change; a process that dies holding slots frees them within this.
COUNTER_TTL_SECONDS = 3600
# A bucket left alone this long is full again anyway, so Redis may forget it (never sooner than this).
BUCKET_MIN_TTL_SECONDS = 60
# While Redis is unreachable, the fallback serves; Redis is tried again after this many clock seconds.
REDIS_RETRY_COOLDOWN = 5.0
# A token short by float rounding only (0.1 s x 10/s = 0.9999999999999964) still counts as whole.
_TOKEN_EPSILON = 1e-9
# What "Redis is unreachable" looks like; any other Redis error is a bug and propagates.
REDIS_DOWN_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError)


def loop_clock() -> float:
    """The running event loop's time (which `looptime` fast-forwards); `time.monotonic()` outside a loop."""
    try:
        return asyncio.get_running_loop().time()
    except RuntimeError:
        return time.monotonic()


def connection_key(kind: str, ident: str) -> str:
    """Connection counter of one user (`kind="user"`) or one anonymous address (`kind="ip"`)."""
    return f"ws:conn:{kind}:{ident}"


def message_key(kind: str, ident: str) -> str:
    """Message token bucket of one user or one anonymous address."""
    return f"ws:msg:{kind}:{ident}"


def room_key(group: str) -> str:
    """Member counter of one channel-layer group."""
    return f"ws:room:{group}"


@dataclass(frozen=True)
class RateDecision:
    """One token-bucket answer: whether the message may pass, else how long until a token is back."""

    allowed: bool
    retry_after: float


def take_token(
    tokens: float | None, ts: float | None, rate: float, burst: float, now: float
) -> tuple[RateDecision, float, float]:
    """One bucket step on plain numbers: `(decision, tokens, ts)` after it. The Lua script mirrors this.

    A clock that went backwards (a new virtual clock, another process) refills nothing and is adopted.
    """
    if tokens is None or ts is None:
        tokens, ts = burst, now
    tokens = min(burst, tokens + max(0.0, now - ts) * rate)
    if tokens >= 1 - _TOKEN_EPSILON:
        return RateDecision(True, 0.0), tokens - 1, now
    return RateDecision(False, (1 - tokens) / rate), tokens, now


class Backend(Protocol):
    """What the limiter needs from a store; both backends answer identically for the same calls."""

    async def hit(self, key: str, rate: float, burst: float, now: float) -> RateDecision: ...
    async def acquire(self, key: str, limit: int) -> bool: ...
    async def release(self, key: str) -> None: ...
    async def count(self, key: str) -> int: ...
    async def aclose(self) -> None: ...
    def close_nowait(self) -> None: ...


class MemoryBackend:
    """In-process buckets and counters; atomic because no method awaits before it is done."""

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}
        self._counters: Counter[str] = Counter()

    async def hit(self, key: str, rate: float, burst: float, now: float) -> RateDecision:
        tokens, ts = self._buckets.get(key, (None, None))
        decision, tokens, ts = take_token(tokens, ts, float(rate), float(burst), now)
        self._buckets[key] = (tokens, ts)
        return decision

    async def acquire(self, key: str, limit: int) -> bool:
        if self._counters[key] >= limit:
            return False
        self._counters[key] += 1
        return True

    async def release(self, key: str) -> None:
        if self._counters[key] <= 1:
            del self._counters[key]
        else:
            self._counters[key] -= 1

    async def count(self, key: str) -> int:
        return self._counters.get(key, 0)

    async def aclose(self) -> None:
        self.close_nowait()

    def close_nowait(self) -> None:
        self._buckets.clear()
        self._counters.clear()


_BUCKET_LUA = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local allowed = 0
local retry_after = 0
if tokens >= 1 - tonumber(ARGV[5]) then
  tokens = tokens - 1
  allowed = 1
else
  retry_after = (1 - tokens) / rate
end
-- %.17g keeps every bit of the double, so Redis and the in-process backend stay in lockstep.
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'ts', string.format('%.17g', now))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {allowed, string.format('%.17g', retry_after)}
"""

_ACQUIRE_LUA = """
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= tonumber(ARGV[1]) then
  return 0
end
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""

_RELEASE_LUA = """
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n <= 1 then
  redis.call('DEL', KEYS[1])
  return 0
end
redis.call('DECR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
return n - 1
"""


@dataclass(frozen=True)
class _Script:
    name: str
    source: str

    @property
    def sha(self) -> str:
        return hashlib.sha1(self.source.encode()).hexdigest()


_BUCKET = _Script("bucket", _BUCKET_LUA)
_ACQUIRE = _Script("acquire", _ACQUIRE_LUA)
_RELEASE = _Script("release", _RELEASE_LUA)


async def _close_on_loop_shutdown(client: redis.asyncio.Redis) -> AsyncIterator[None]:
    # An async generator is the one hook asyncio gives into loop shutdown: `shutdown_asyncgens()`
    # (asyncio.run, asyncio.Runner, pytest-asyncio, uvicorn) closes it, which closes the client on its
    # loop; and when it is dropped while its loop lives, asyncio schedules the same close there.
    try:
        yield
    finally:
        await client.aclose()


class RedisBackend:
    """Buckets and counters in Redis, each update one Lua script (EVALSHA; SCRIPT LOAD on NOSCRIPT).

    asyncio clients belong to one event loop, so the client is made per loop and closed with it.
    """

    def __init__(self, url: str, *, socket_timeout: float = 1.0) -> None:
        self.url = url
        self.socket_timeout = socket_timeout
        self.script_loads = 0
        self._loaded: set[str] = set()
        self._client: redis.asyncio.Redis | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closer: AsyncIterator[None] | None = None

    async def hit(self, key: str, rate: float, burst: float, now: float) -> RateDecision:
        ttl_ms = math.ceil(max(BUCKET_MIN_TTL_SECONDS, 2 * burst / rate) * 1000)
        args = (repr(float(rate)), repr(float(burst)), repr(float(now)), ttl_ms, repr(_TOKEN_EPSILON))
        allowed, retry_after = await self._eval(_BUCKET, key, *args)
        return RateDecision(bool(allowed), float(retry_after))

    async def acquire(self, key: str, limit: int) -> bool:
        return bool(await self._eval(_ACQUIRE, key, int(limit), COUNTER_TTL_SECONDS))

    async def release(self, key: str) -> None:
        await self._eval(_RELEASE, key, COUNTER_TTL_SECONDS)

    async def count(self, key: str) -> int:
        client = await self._connection()
        return int(await client.get(key) or 0)

    async def aclose(self) -> None:
        closer, self._closer, self._client, self._loop = self._closer, None, None, None
        if closer is not None:
            await closer.aclose()  # type: ignore[attr-defined]

    def close_nowait(self) -> None:
        """Drop the client without awaiting (from sync code, e.g. a `setting_changed` receiver).

        Dropping the closer generator is enough: asyncio finalizes it on its loop, closing the client.
        """
        self._closer, self._client, self._loop = None, None, None

    async def _connection(self) -> redis.asyncio.Redis:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self.close_nowait()
            self._client = redis.asyncio.Redis.from_url(
                self.url,
                socket_timeout=self.socket_timeout,
                socket_connect_timeout=self.socket_timeout,
                # One immediate retry replaces a pooled connection that a Redis restart broke.
                retry=Retry(NoBackoff(), 1),
            )
            self._loop = loop
            self._closer = _close_on_loop_shutdown(self._client)
            await anext(self._closer)
        return self._client

    async def _eval(self, script: _Script, key: str, *args: Any) -> Any:
        client = await self._connection()
        if script.name not in self._loaded:
            await self._load(client, script)
        try:
            return await client.evalsha(script.sha, 1, key, *args)
        except NoScriptError:
            # SCRIPT FLUSH or a Redis restart forgot it: load again, once, and retry.
            await self._load(client, script)
            return await client.evalsha(script.sha, 1, key, *args)

    async def _load(self, client: redis.asyncio.Redis, script: _Script) -> None:
        await client.script_load(script.source)
        self.script_loads += 1
        self._loaded.add(script.name)


class Limiter:
    """The active backend behind one interface, reading `now` from one clock.

    With a fallback, Redis errors switch to the in-process backend (logged once) until a retry after
    `cooldown` clock seconds succeeds (logged once). A slot is released where it was acquired.
    """

    def __init__(
        self,
        primary: Backend,
        fallback: Backend | None = None,
        *,
        clock: Clock | None = None,
        cooldown: float = REDIS_RETRY_COOLDOWN,
    ) -> None:
        self.primary = primary
        self.fallback = fallback
        self.clock = clock or loop_clock
        self.cooldown = cooldown
        self._retry_at: float | None = None
        self._fallback_slots: Counter[str] = Counter()

    @property
    def degraded(self) -> bool:
        """True while the fallback serves because the primary backend was unreachable."""
        return self._retry_at is not None

    async def hit(self, key: str, rate: float, burst: float) -> RateDecision:
        """Take a token from `key`'s bucket (`rate` tokens/s, capacity `burst`)."""
        if not rate > 0:
            raise ValueError(f"message rate must be a positive number of tokens per second, got {rate!r}")
        now = self.clock()
        decision, _ = await self._serve(lambda backend: backend.hit(key, rate, burst, now))
        return decision

    async def acquire(self, key: str, limit: int) -> bool:
        """Count one more holder of `key` unless `limit` are held already."""
        acquired, backend = await self._serve(lambda backend: backend.acquire(key, limit))
        if acquired and backend is self.fallback:
            self._fallback_slots[key] += 1
        return acquired

    async def release(self, key: str) -> None:
        """Give back one slot of `key` to the backend that granted it; never below zero."""
        if self._fallback_slots[key] > 0:
            self._fallback_slots[key] -= 1
            await self.fallback.release(key)  # type: ignore[union-attr]
            return
        self._fallback_slots.pop(key, None)
        if self._waiting_to_retry():
            # Held in an unreachable Redis: the key's TTL frees it there; nothing to give back here.
            return
        try:
            await self.primary.release(key)
        except REDIS_DOWN_ERRORS as err:
            if self.fallback is None:
                raise
            self._switch_to_fallback(err)
        else:
            self._primary_answered()

    async def count(self, key: str) -> int:
        """How many slots of `key` are held in the backend serving now."""
        held, _ = await self._serve(lambda backend: backend.count(key))
        return held

    async def aclose(self) -> None:
        """Close connections and drop state (await before the event loop that used it ends)."""
        for backend in (self.primary, self.fallback):
            if backend is not None:
                await backend.aclose()

    def close_nowait(self) -> None:
        """`aclose()` for sync callers."""
        for backend in (self.primary, self.fallback):
            if backend is not None:
                backend.close_nowait()

    async def _serve(self, call: Callable[[Backend], Awaitable[_T]]) -> tuple[_T, Backend]:
        if self.fallback is None:
            return await call(self.primary), self.primary
        if self._waiting_to_retry():
            return await call(self.fallback), self.fallback
        try:
            result = await call(self.primary)
        except REDIS_DOWN_ERRORS as err:
            self._switch_to_fallback(err)
            return await call(self.fallback), self.fallback
        self._primary_answered()
        return result, self.primary

    def _waiting_to_retry(self) -> bool:
        return self._retry_at is not None and self.clock() < self._retry_at

    def _primary_answered(self) -> None:
        if self._retry_at is not None:
            self._retry_at = None
            logger.info("Redis is reachable again; rate limits are served from Redis")

    def _switch_to_fallback(self, err: BaseException) -> None:
        if not self.degraded:
            logger.warning("Redis unreachable (%s); rate limits are served in-process until it is back", err)
        self._retry_at = self.clock() + self.cooldown


def build_limiter(*, clock: Clock | None = None) -> Limiter:
    """A new limiter for the current settings: Redis with an in-process fallback, or in-process only."""
    if settings.REDIS_URL:
        return Limiter(RedisBackend(settings.REDIS_URL), MemoryBackend(), clock=clock)
    return Limiter(MemoryBackend(), clock=clock)


_limiter: Limiter | None = None


def get_limiter() -> Limiter:
    """The process-wide limiter, built from settings on first use."""
    global _limiter
    if _limiter is None:
        _limiter = build_limiter()
    return _limiter


def reset_limiters() -> None:
    """Drop the cached limiter, its connections and all in-process state (tests, settings changes)."""
    global _limiter
    limiter, _limiter = _limiter, None
    if limiter is not None:
        limiter.close_nowait()


async def close_limiters() -> None:
    """`reset_limiters()` that also awaits closing the Redis connections."""
    global _limiter
    limiter, _limiter = _limiter, None
    if limiter is not None:
        await limiter.aclose()


async def acquire_room_slot(group: str) -> bool:
    """Take one of `WS_ROOM_MAX` places in `group` (always granted when rate limiting is off)."""
    if not settings.WS_RATE_ENABLED:
        return True
    return await get_limiter().acquire(room_key(group), settings.WS_ROOM_MAX)


async def release_room_slot(group: str) -> None:
    """Give back a place taken with `acquire_room_slot`."""
    if settings.WS_RATE_ENABLED:
        await get_limiter().release(room_key(group))


def _on_setting_changed(*, setting: str, **_: Any) -> None:
    if setting == "REDIS_URL" or setting.startswith("WS_"):
        reset_limiters()


setting_changed.connect(_on_setting_changed, dispatch_uid="target_app.realtime.ratelimit")
