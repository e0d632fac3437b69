"""Rate limits for the realtime layer: the limiter (Redis, else in-process), its keys and room slots."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from django.conf import settings
from django.core.signals import setting_changed
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from target_app.realtime.ratelimit_backends import Backend, MemoryBackend, RateDecision, RedisBackend

logger = logging.getLogger(__name__)

Clock = Callable[[], float]
_T = TypeVar("_T")

# While Redis is unreachable, the fallback serves; Redis is tried again after this many clock seconds.
REDIS_RETRY_COOLDOWN = 5.0
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
