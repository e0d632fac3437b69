"""Module 6.6: RateLimitMiddleware's lifecycle in the test stack, in-process and on Redis (and its outage)."""

import functools
import logging

from suites.realtime_checks import Clock, assert_error, join
from target_app.realtime import ratelimit, ratelimit_backends

LOGGER = "target_app.realtime.ratelimit"


async def assert_too_many(client, per: str, limit: int) -> None:
    """Refused before the consumer ran: accept, too_many_connections naming the limit, close 4029."""
    assert client.accepted
    frames = await client.expect_close(4029)
    assert len(frames) == 1, frames  # no connection_established: the consumer never ran
    assert_error(frames[0], "too_many_connections")
    assert frames[0]["message"] == f"at most {limit} connections per {per}"
    await client.disconnect()


async def held(key: str) -> int:
    return await ratelimit.get_limiter().count(key)


def logged(caplog) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage().split(" (")[0]) for r in caplog.records if r.name == LOGGER]


class TestMiddlewareLifecycle:
    """Bypass, passthrough, counting and release of connections, and the per-address key."""

    async def test_bypass_when_rate_limiting_disabled(self, harness_ws, harness_rate_limits, cast, match):
        """With WS_RATE_ENABLED off, neither connections nor messages are limited or counted."""
        harness_rate_limits(rate_enabled=False, conn_per_user=1, msg_rate=1, msg_burst=1)
        path = f"/ws/match/{match.pk}/"
        tabs = [await join(harness_ws, path, user=cast.alice) for _ in range(3)]
        for stamp in range(30):
            await tabs[0].send_json({"type": "ping", "timestamp": stamp})
        for stamp in range(30):
            assert await tabs[0].receive_json() == {"type": "pong", "data": {"timestamp": stamp}}
        assert await held(f"ws:conn:user:{cast.alice.pk}") == 0
        assert await held(f"ws:room:match_{match.pk}") == 0

    async def test_passthrough_under_limits(self, harness_ws, cast, match):
        """Under the limits every frame reaches the consumer and every answer the client, in order."""
        client = await join(harness_ws, f"/ws/match/{match.pk}/", user=cast.alice)
        frames = [{"type": "ping", "timestamp": "a"}, {"type": "subscribe"}, {"type": "ping"}]
        for frame in frames:
            await client.send_json(frame)
        assert await client.receive_json() == {"type": "pong", "data": {"timestamp": "a"}}
        subscribed = await client.receive_json()
        assert subscribed["type"] == "subscribed"
        assert (subscribed["data"]["match_id"], subscribed["data"]["state"]) == (match.pk, "scheduled")
        assert await client.receive_json() == {"type": "pong", "data": {"timestamp": None}}
        assert await held(f"ws:conn:user:{cast.alice.pk}") == 1

    async def test_connection_counting_and_release(
        self, harness_ws, harness_rate_limits, harness_channel_layer, cast, match
    ):
        """The third connection over a limit of two is refused before the consumer; a leaver frees a slot."""
        harness_rate_limits(conn_per_user=2)
        path = f"/ws/match/{match.pk}/"
        first, _second = [await join(harness_ws, path, user=cast.alice) for _ in range(2)]
        await assert_too_many(await harness_ws.connect(path, user=cast.alice), "user", 2)
        assert len(harness_channel_layer.groups[f"match_{match.pk}"]) == 2  # the refused one never joined
        assert await held(f"ws:conn:user:{cast.alice.pk}") == 2
        await join(harness_ws, path, user=cast.bob)  # counted per user
        await first.disconnect()
        assert await held(f"ws:conn:user:{cast.alice.pk}") == 1
        await join(harness_ws, path, user=cast.alice)
        assert await held(f"ws:conn:user:{cast.alice.pk}") == 2

    async def test_anonymous_clients_limited_per_ip(self, harness_ws, harness_rate_limits, match):
        """Anonymous clients count per address until they leave; another address has its own count."""
        harness_rate_limits(conn_per_ip=2)
        path, here = f"/ws/match/{match.pk}/", {"client": ("198.51.100.7", 40000)}
        # Each reaches the consumer (close 4001) and holds its slot until it completes the close.
        anonymous = [await harness_ws.connect(path, scope=here) for _ in range(2)]
        for client in anonymous:
            frames = await client.expect_close(4001)
            assert [frame["code"] for frame in frames] == ["missing"]
        assert await held("ws:conn:ip:198.51.100.7") == 2
        await assert_too_many(await harness_ws.connect(path, scope=here), "address", 2)
        elsewhere = await harness_ws.connect(path, scope={"client": ("198.51.100.8", 40000)})
        assert [frame["code"] for frame in await elsewhere.expect_close(4001)] == ["missing"]
        await anonymous[0].disconnect()
        assert await held("ws:conn:ip:198.51.100.7") == 1


class TestRedisBackedMiddleware:
    """With REDIS_URL set the counters live in Redis; while it is down the in-process fallback serves.

    Real time throughout (the loop clock moves with the wall clock): Redis answers over a real socket.
    """

    async def test_counts_live_in_redis_when_configured(self, harness_ws, harness_redis, cast, match):
        """An open connection is one INCR in Redis under ws:conn:user:<pk>; leaving deletes the key."""
        redis = harness_redis.client()
        client = await join(harness_ws, f"/ws/match/{match.pk}/", user=cast.alice)
        assert redis.get(f"ws:conn:user:{cast.alice.pk}") == b"1"
        assert redis.get(f"ws:room:match_{match.pk}") == b"1"
        assert 0 < redis.ttl(f"ws:conn:user:{cast.alice.pk}") <= ratelimit_backends.COUNTER_TTL_SECONDS
        await client.disconnect()
        assert redis.exists(f"ws:conn:user:{cast.alice.pk}", f"ws:room:match_{match.pk}") == 0

    async def test_redis_fallback_when_redis_is_down(
        self, harness_ws, harness_redis, harness_rate_limits, cast, match, caplog, monkeypatch
    ):
        """Redis down: connections still get in, limits hold in-process, and the switch is logged once."""
        clock = Clock(1000.0)
        monkeypatch.setattr(
            ratelimit, "build_limiter", functools.partial(ratelimit.build_limiter, clock=clock)
        )
        harness_rate_limits(conn_per_user=1)
        harness_redis.down()
        path = f"/ws/match/{match.pk}/"
        client = await join(harness_ws, path, user=cast.alice)
        await assert_too_many(await harness_ws.connect(path, user=cast.alice), "user", 1)
        await client.send_json({"type": "ping", "timestamp": 1})
        assert await client.receive_json() == {"type": "pong", "data": {"timestamp": 1}}
        assert ratelimit.get_limiter().degraded
        clock.now += ratelimit.REDIS_RETRY_COOLDOWN  # Redis is tried again, and is still down
        await join(harness_ws, path, user=cast.bob)
        assert ratelimit.get_limiter().degraded
        assert logged(caplog) == [(logging.WARNING, "Redis unreachable")]  # once, not per retry
        await client.disconnect()
        assert await held(f"ws:conn:user:{cast.alice.pk}") == 0
        await join(harness_ws, path, user=cast.alice)  # the fallback slot was given back

    async def test_redis_used_again_after_cooldown(
        self, harness_ws, harness_redis, cast, match, caplog, monkeypatch
    ):
        """Redis back: it serves again after the 5 s cooldown; slots granted in-process go back there."""
        clock = Clock(1000.0)
        # The process-wide limiter, built as usual but reading this clock instead of the loop's.
        monkeypatch.setattr(
            ratelimit, "build_limiter", functools.partial(ratelimit.build_limiter, clock=clock)
        )
        path, redis = f"/ws/match/{match.pk}/", harness_redis.client()
        harness_redis.down()
        alice = await join(harness_ws, path, user=cast.alice)
        harness_redis.up()
        clock.now += ratelimit.REDIS_RETRY_COOLDOWN - 0.01
        await join(harness_ws, path, user=cast.bob)  # inside the cooldown: still in-process
        assert redis.get(f"ws:conn:user:{cast.bob.pk}") is None
        assert ratelimit.get_limiter().degraded
        clock.now += 0.01
        await join(harness_ws, path, user=cast.carol)
        assert redis.get(f"ws:conn:user:{cast.carol.pk}") == b"1"
        assert not ratelimit.get_limiter().degraded
        assert logged(caplog) == [
            (logging.WARNING, "Redis unreachable"),
            (logging.INFO, "Redis is reachable again; rate limits are served from Redis"),
        ]
        await alice.disconnect()  # its slot was granted in-process and is given back there
        assert redis.get(f"ws:conn:user:{cast.alice.pk}") is None
        assert await ratelimit.get_limiter().fallback.count(f"ws:conn:user:{cast.alice.pk}") == 0
