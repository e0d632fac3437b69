"""Rate-limit stores: the token-bucket step, and buckets and counters in process or in Redis (Lua scripts)."""

from __future__ import annotations

import asyncio
import hashlib
import math
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

import redis.asyncio
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError

# A counter refreshes its TTL on every change; a process that dies holding slots frees them within this.
COUNTER_TTL_SECONDS = 3600
# A bucket left alone this long is full again anyway, so Redis may forget it (never sooner than this).
BUCKET_MIN_TTL_SECONDS = 60
# A token short by float rounding only (0.1 s x 10/s = 0.9999999999999964) still counts as whole.
_TOKEN_EPSILON = 1e-9
# Redis connections a backend keeps at most; more concurrent calls wait for one (see `RedisBackend`).
POOL_SIZE = 32
# How long a call waits for a pooled connection before Redis counts as unreachable: long, because a
# wait is the server being busy (a thousand clients leaving at once on a loaded machine took over 5 s),
# not Redis being down (then connections fail at once and go back to the pool).
POOL_WAIT_SECONDS = 30.0


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

    asyncio clients belong to one event loop, so the client is made per loop and closed with it. Its
    pool is bounded and blocking: a connect or disconnect storm waits for one of `POOL_SIZE`
    connections instead of failing with redis-py's "Too many connections", which is a
    ConnectionError and would pass for an outage (slots released then were never given back).
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
            pool = redis.asyncio.BlockingConnectionPool.from_url(
                self.url,
                max_connections=POOL_SIZE,
                timeout=POOL_WAIT_SECONDS,
                socket_timeout=self.socket_timeout,
                socket_connect_timeout=self.socket_timeout,
                # One immediate retry replaces a pooled connection that a Redis restart broke.
                retry=Retry(NoBackoff(), 1),
            )
            self._client = redis.asyncio.Redis.from_pool(pool)
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
