"""Module 6.7 step 3 on a real redis-server: limits kept in Redis by Lua scripts, and its outages."""

import asyncio
import logging
import socket
import time

import pytest
from channels.layers import channel_layers, get_channel_layer
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from suites.realtime_checks import (
    StillClock,
    assert_too_many_connections,
    error,
    heartbeat_tasks,
    join,
    match_path,
    ping,
    pong,
    rate_limited,
    room_count,
)
from target_app.realtime import consumers, ratelimit, utils
from target_app.realtime.ratelimit import connection_key, message_key, room_key
from target_app.realtime.ratelimit_backends import RedisBackend

pytestmark = pytest.mark.looptime

LOGGER = "target_app.realtime.ratelimit"
REDIS_COOLDOWN = 5.0  # seconds of loop time before an unreachable Redis is tried again


@pytest.fixture
async def redis(harness_redis):
    """The private redis-server behind the limiter, a client to inspect it, and virtual time held still."""
    clock = StillClock()
    clock.hold()
    client = harness_redis.client()
    client.config_resetstat()
    yield harness_redis, client, clock
    await clock.release()


def commands(client) -> dict[str, int]:
    """Calls per command since the test began (SCRIPT LOAD is `script|load`)."""
    return {
        name.removeprefix("cmdstat_"): stats["calls"] for name, stats in client.info("commandstats").items()
    }


def settled(read, expected: int, seconds: float = 5.0) -> int:
    """`read()` once it equals `expected`, else its value after `seconds` of real time: Redis drops a
    connection once it reads the client's close, soon after the close returns, not before."""
    deadline = time.monotonic() + seconds
    while (value := read()) != expected and time.monotonic() < deadline:
        time.sleep(0.005)
    return value


def warnings_of(caplog, level=logging.WARNING) -> list[str]:
    return [
        record.getMessage() for record in caplog.records if record.name == LOGGER and record.levelno == level
    ]


class TestRedisBackend:
    """With REDIS_URL set, counters and buckets live in Redis, updated by Lua scripts run with EVALSHA."""

    async def test_counts_live_in_redis_until_disconnect(self, harness_ws, redis, cast, match):
        _, client, _ = redis
        alice = await join(harness_ws, match, cast.alice)
        conn, room = connection_key("user", str(cast.alice.pk)), room_key(utils.match_group(match.pk))
        assert (client.get(conn), client.get(room)) == (b"1", b"1")
        # A process that dies holding slots frees them within the hour (docs/protocol.md).
        assert 3590 < client.ttl(conn) <= 3600 and 3590 < client.ttl(room) <= 3600
        assert client.ttl(conn) > 0 and client.ttl(room) > 0  # a crashed process's slots expire
        assert await ping(alice, 1) == pong(1)
        bucket = client.hgetall(message_key("user", str(cast.alice.pk)))
        assert float(bucket[b"tokens"]) == 19  # the default burst of 20, one taken
        await alice.disconnect()
        assert client.exists(conn, room) == 0

    async def test_limits_are_shared_through_redis(self, harness_ws, redis, harness_rate_limits, cast, match):
        _, client, _ = redis
        harness_rate_limits(conn_per_user=2)
        conn = connection_key("user", str(cast.alice.pk))
        client.set(conn, 2)  # two connections held by another server process
        await assert_too_many_connections(await harness_ws.connect(match_path(match), user=cast.alice))
        client.set(conn, 1)
        await join(harness_ws, match, cast.alice)
        assert client.get(conn) == b"2"

    async def test_message_limits_hold_on_redis(self, harness_ws, redis, harness_rate_limits, cast, match):
        harness_rate_limits(msg_rate=10, msg_burst=2, rate_close_after=2)
        alice = await join(harness_ws, match, cast.alice)
        assert [await ping(alice, n) for n in range(3)] == [pong(0), pong(1), rate_limited(0.1)]
        await alice.send_json({"type": "ping"})
        assert await alice.expect_close(4029) == [rate_limited(0.1)]

    async def test_scripts_are_loaded_once_and_run_with_evalsha(self, harness_ws, redis, cast, match):
        _, client, _ = redis
        for _ in range(2):
            alice = await join(harness_ws, match, cast.alice)
            for n in range(5):
                assert await ping(alice, n) == pong(n)
            await alice.disconnect()
        calls = commands(client)
        assert calls["script|load"] == 3  # bucket, acquire, release: once each
        assert calls["evalsha"] == 2 * (2 + 5 + 2)  # per connection: 2 acquires, 5 hits, 2 releases
        assert "eval" not in calls

    async def test_script_flush_is_survived_by_reloading_each_script_once(
        self, harness_ws, redis, cast, match, caplog
    ):
        _, client, _ = redis
        caplog.set_level(logging.INFO, logger=LOGGER)
        alice = await join(harness_ws, match, cast.alice)
        assert await ping(alice, 1) == pong(1)
        await (await join(harness_ws, match, cast.bob)).disconnect()
        assert commands(client)["script|load"] == 3  # acquire, bucket, release
        client.script_flush()
        for n in range(3):
            assert await ping(alice, n) == pong(n)
        await join(harness_ws, match, cast.carol)
        await alice.disconnect()
        assert client.exists(connection_key("user", str(cast.alice.pk))) == 0
        assert client.get(connection_key("user", str(cast.carol.pk))) == b"1"
        assert commands(client)["script|load"] == 3 + 3  # each reloaded once, on its first NOSCRIPT
        assert caplog.records == []  # NOSCRIPT is not an outage

    async def test_outage_falls_back_in_process_with_the_same_limits_logged_once(
        self, harness_ws, redis, harness_rate_limits, cast, match, caplog
    ):
        server, _, _ = redis
        caplog.set_level(logging.INFO, logger=LOGGER)
        harness_rate_limits(conn_per_user=1, msg_rate=10, msg_burst=3, rate_close_after=5)
        alice = await join(harness_ws, match, cast.alice)
        server.down()
        answers = [await ping(alice, n) for n in range(4)]
        assert answers == [pong(0), pong(1), pong(2), rate_limited(0.1)]  # a fresh in-process bucket
        await join(harness_ws, match, cast.bob)
        await assert_too_many_connections(await harness_ws.connect(match_path(match), user=cast.bob))
        assert len(warnings_of(caplog)) == 1 and "Redis unreachable" in warnings_of(caplog)[0]
        assert warnings_of(caplog, logging.INFO) == []

    async def test_retries_while_redis_stays_down_are_not_logged_again(
        self, harness_ws, redis, cast, match, caplog
    ):
        server, _, clock = redis
        caplog.set_level(logging.INFO, logger=LOGGER)
        alice = await join(harness_ws, match, cast.alice)
        server.down()
        for n in range(3):
            assert await ping(alice, n) == pong(n)
            await clock.advance(REDIS_COOLDOWN)  # the next frame tries Redis again, and fails again
        assert len(warnings_of(caplog)) == 1
        assert warnings_of(caplog, logging.INFO) == []

    async def test_redis_is_used_again_after_the_cooldown_logged_once(
        self, harness_ws, redis, cast, match, caplog
    ):
        server, client, clock = redis
        caplog.set_level(logging.INFO, logger=LOGGER)
        alice = await join(harness_ws, match, cast.alice)
        server.down()
        assert await ping(alice, 1) == pong(1)
        server.up()
        await clock.advance(1)
        assert await ping(alice, 2) == pong(2)
        assert client.keys("*") == []  # inside the cooldown Redis is not asked
        await clock.advance(REDIS_COOLDOWN)
        assert await ping(alice, 3) == pong(3)
        assert client.exists(message_key("user", str(cast.alice.pk))) == 1
        assert len(warnings_of(caplog)) == 1
        (back,) = warnings_of(caplog, logging.INFO)
        assert "reachable again" in back

    async def test_slot_taken_during_the_outage_is_given_back_in_process(
        self, harness_ws, redis, harness_rate_limits, cast, match
    ):
        server, client, clock = redis
        harness_rate_limits(conn_per_user=1)
        server.down()
        bob = await join(harness_ws, match, cast.bob)
        server.up()
        await clock.advance(REDIS_COOLDOWN + 1)
        await join(harness_ws, match, cast.alice)  # Redis again
        assert client.get(connection_key("user", str(cast.alice.pk))) == b"1"
        await bob.disconnect()
        assert await ratelimit.get_limiter().fallback.count(connection_key("user", str(cast.bob.pk))) == 0
        await join(harness_ws, match, cast.bob)
        assert client.get(connection_key("user", str(cast.bob.pk))) == b"1"

    async def test_disconnect_while_redis_is_down_is_clean_and_logged_once(
        self, harness_ws, redis, harness_rate_limits, cast, match, caplog
    ):
        server, _, _ = redis
        caplog.set_level(logging.INFO, logger=LOGGER)
        harness_rate_limits(conn_per_user=1)
        alice = await join(harness_ws, match, cast.alice)
        server.down()
        await alice.disconnect()  # the release finds Redis gone: the key's TTL frees it there
        assert len(warnings_of(caplog)) == 1
        await join(harness_ws, match, cast.alice)  # served in-process meanwhile
        second = await harness_ws.connect(match_path(match), user=cast.alice)
        await assert_too_many_connections(second)
        assert len(warnings_of(caplog)) == 1

    async def test_connection_opened_while_redis_is_down_is_admitted(
        self, harness_ws, redis, cast, match, caplog
    ):
        server, _, _ = redis
        caplog.set_level(logging.INFO, logger=LOGGER)
        server.down()
        alice = await join(harness_ws, match, cast.alice)
        assert await ping(alice, 1) == pong(1)
        await alice.disconnect()
        assert len(warnings_of(caplog)) == 1

    async def test_nothing_is_stored_in_redis(
        self, harness_ws, harness_redis, harness_rate_limits, cast, match
    ):
        """With WS_RATE_ENABLED=False (step 3's disabled switch) Redis is never written."""
        harness_rate_limits(rate_enabled=False)
        client = await join(harness_ws, match, cast.alice)
        assert await ping(client, 1) == pong(1)
        await client.disconnect()
        assert harness_redis.client().keys("*") == []


@pytest.fixture
async def redis_layer(redis, harness_channel_layer, settings, monkeypatch):
    """The channel layer on the same private Redis (channels_redis), as production runs with REDIS_URL."""
    server, client, clock = redis
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [server.url]},
        }
    }
    channel_layers.backends.clear()
    # Process-wide "layer is down" flag: a test that ends mid-outage must not hide the next one's warning.
    monkeypatch.setattr(consumers, "_layer_down", False)
    layer = get_channel_layer()
    yield server, client, clock, layer
    await layer.close_pools()
    channel_layers.backends.clear()


async def send_after_restart(layer, channel: str, message: dict) -> None:
    """`layer.send`, retried while pooled connections from before a Redis restart fail on first use."""
    for _ in range(5):
        try:
            await layer.send(channel, message)
            return
        except ratelimit.REDIS_DOWN_ERRORS:
            continue
    raise AssertionError("the channel layer never took the message")


def consumer_logs(caplog, level=logging.WARNING) -> list[str]:
    name = "target_app.realtime.consumers"
    return [
        record.getMessage() for record in caplog.records if record.name == name and record.levelno == level
    ]


class TestChannelLayerOnRedis:
    """Channel layer on that Redis: an outage closes no open client, refuses joins with 1011, frees rooms."""

    async def test_open_connection_waits_out_the_outage_logged_once(
        self, harness_ws, redis_layer, cast, match, caplog
    ):
        server, client, clock, layer = redis_layer
        caplog.set_level(logging.INFO)
        alice = await join(harness_ws, match, cast.alice)
        group = utils.match_group(match.pk)
        await layer.group_send(group, {"type": "match_started", "data": {}})
        assert await alice.receive_json() == {"type": "match_started", "data": {}}
        (channel,) = client.zrange(f"asgi:group:{group}", 0, -1)  # channels_redis keeps members here

        server.down()
        await clock.advance(3)  # the consumer's receive fails, waits a second, retries: three times
        assert await ping(alice, 1) == pong(1)  # still open; rate limits served in-process
        assert len(consumer_logs(caplog)) == 1 and "channel layer unreachable" in consumer_logs(caplog)[0]

        server.up()  # empty: the group is gone, the connection's own channel still works
        await clock.advance(1.5)
        notice = {"type": "error", "data": {"code": "notice", "message": "live updates are back"}}
        await send_after_restart(layer, channel.decode(), notice)
        assert await alice.receive_json() == {
            "type": "error",
            "code": "notice",
            "message": "live updates are back",
        }
        await alice.assert_nothing_received(0)
        assert len(consumer_logs(caplog)) == 1
        (back,) = consumer_logs(caplog, logging.INFO)
        assert "reachable again" in back

    async def test_connection_that_cannot_join_its_group_is_closed_1011_and_frees_its_room_slot(
        self, harness_ws, redis_layer, settings, cast, match, caplog
    ):
        server, _, _, _ = redis_layer
        settings.REDIS_URL = None  # rate limits in-process, so the room count survives the outage
        caplog.set_level(logging.INFO)
        server.down()
        alice = await harness_ws.connect(match_path(match), user=cast.alice)
        assert alice.accepted
        unavailable = error("unavailable", "live updates are unavailable; retry shortly")
        assert await alice.expect_close(1011) == [unavailable]
        assert await room_count(match) == 0  # given back before the client even left
        assert heartbeat_tasks() == []
        joining = [m for m in consumer_logs(caplog) if m.startswith("joining")]
        assert len(joining) == 1
        assert joining[0].startswith(
            f"joining {utils.match_group(match.pk)} failed: channel layer unreachable"
        )

    async def test_leaving_the_group_during_an_outage_is_logged_and_frees_the_room_slot(
        self, harness_ws, redis_layer, settings, cast, match, caplog
    ):
        server, _, _, _ = redis_layer
        settings.REDIS_URL = None
        caplog.set_level(logging.INFO)
        alice = await join(harness_ws, match, cast.alice)
        assert await room_count(match) == 1
        server.down()
        await alice.disconnect()  # raises nothing
        assert await room_count(match) == 0
        assert heartbeat_tasks() == []
        leaving = [m for m in consumer_logs(caplog) if m.startswith("leaving")]
        assert len(leaving) == 1 and leaving[0].startswith(f"leaving {utils.match_group(match.pk)} failed")


class TestRedisBackendDirectly:
    """The store itself against the private redis-server: TTLs, counts, one connection per loop, closing."""

    @staticmethod
    def backend_clients(client) -> int:
        """Connections open to the server (the inspecting client's own among them)."""
        return len(client.client_list())

    async def test_bucket_keys_outlive_a_full_refill_and_never_less_than_a_minute(self, redis):
        server, client, _ = redis
        backend = RedisBackend(server.url)
        await backend.hit("slow", rate=0.1, burst=5, now=0.0)  # refills in 50 s: kept for 2 x 50 s
        await backend.hit("fast", rate=10, burst=3, now=0.0)  # refills in 0.3 s: kept for the minute
        assert 99_000 < client.pttl("slow") <= 100_000
        assert 59_000 < client.pttl("fast") <= 60_000
        await backend.aclose()

    async def test_an_unknown_counter_counts_zero(self, redis):
        server, _, _ = redis
        backend = RedisBackend(server.url)
        assert await backend.count(connection_key("user", "nobody")) == 0
        await backend.aclose()

    async def test_one_connection_per_loop_closed_by_aclose(self, redis):
        server, client, _ = redis
        backend = RedisBackend(server.url)
        await backend.aclose()  # never used: nothing to close, and no error
        backend.close_nowait()
        before = self.backend_clients(client)
        opened = client.info("stats")["total_connections_received"]
        for n in range(3):
            await backend.acquire("k", 10)
            assert await backend.count("k") == n + 1
        assert self.backend_clients(client) == before + 1
        assert client.info("stats")["total_connections_received"] == opened + 1  # made once, kept
        await backend.aclose()
        # A real wait: the loop's time is virtual here.
        assert settled(lambda: self.backend_clients(client), before) == before

    async def test_a_redis_that_never_answers_times_out_after_one_immediate_retry(self):
        """A silent server is down after `socket_timeout` (default 1 s), asked twice (one retry)."""
        connections = []

        async def silent(reader, writer):
            connections.append(writer)
            await reader.read()  # never answers; ends when the client hangs up

        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        backend = RedisBackend(f"redis://127.0.0.1:{port}/0", socket_timeout=0.05)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        with pytest.raises(RedisTimeoutError):
            await backend.count("k")
        assert loop.time() - t0 == pytest.approx(2 * 0.05, abs=0.04)  # its timeout, not redis-py's 5 s
        assert len(connections) == 2
        await backend.aclose()
        for writer in connections:
            writer.close()
        server.close()
        await server.wait_closed()
        assert RedisBackend(f"redis://127.0.0.1:{port}/0").socket_timeout == 1.0

    async def test_a_redis_that_never_accepts_is_down_after_the_same_timeout(self):
        """Connecting times out after `socket_timeout` too (asked twice), not after redis-py's 5 s."""
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)  # never accepted: once its queue holds one connection, SYNs go unanswered
        filler = socket.create_connection(listener.getsockname())
        host, port = listener.getsockname()
        backend = RedisBackend(f"redis://{host}:{port}/0", socket_timeout=0.05)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        try:
            with pytest.raises(RedisTimeoutError):
                await backend.count("k")
            assert loop.time() - t0 == pytest.approx(2 * 0.05, abs=0.04)
        finally:
            await backend.aclose()
            filler.close()
            listener.close()

    @staticmethod
    async def hold_the_pool(backend: RedisBackend) -> list:
        """Take every connection of the backend's pool: the documented 32 (docs/protocol.md)."""
        pool = (await backend._connection()).connection_pool
        return [await pool.get_connection() for _ in range(32)]

    @staticmethod
    async def give_back(backend: RedisBackend, held: list) -> None:
        pool = (await backend._connection()).connection_pool
        for connection in held:
            await pool.release(connection)

    async def test_a_call_beyond_the_pool_waits_for_a_connection(self, redis):
        """Busy is not down: with all 32 connections in use a call waits, and a freed one serves it."""
        server, client, clock = redis
        backend = RedisBackend(server.url)
        held = await self.hold_the_pool(backend)
        call = asyncio.ensure_future(backend.acquire("k", 10))
        await clock.advance(20)  # longer than redis-py's own default wait (20 s)
        assert not call.done()  # no 33rd connection: it waits
        await self.give_back(backend, held[:1])
        assert await asyncio.wait_for(call, timeout=1) is True
        assert client.get("k") == b"1"
        await self.give_back(backend, held[1:])
        await backend.aclose()

    async def test_a_call_beyond_the_pool_gives_up_after_30_seconds(self, redis):
        """After 30 s of waiting for a connection the call fails (then Redis counts as unreachable)."""
        server, client, clock = redis
        backend = RedisBackend(server.url)
        held = await self.hold_the_pool(backend)
        call = asyncio.ensure_future(backend.acquire("k", 10))
        await clock.advance(29.9)
        assert not call.done()
        await clock.advance(0.2)
        assert call.done()
        with pytest.raises(RedisConnectionError, match="No connection available"):
            call.result()
        assert client.get("k") is None
        await self.give_back(backend, held)
        await backend.aclose()


def test_each_event_loop_gets_its_own_client_closed_with_it(harness_redis):
    """asyncio clients belong to one loop: a backend used from a second loop makes a new client there,
    and each loop's shutdown closes its own (no connection left open once both loops are gone)."""
    backend = RedisBackend(harness_redis.url)
    inspector = harness_redis.client()
    before = len(inspector.client_list())

    async def take_a_slot() -> int:
        await backend.acquire("k", 10)
        return await backend.count("k")

    assert asyncio.run(take_a_slot()) == 1
    assert asyncio.run(take_a_slot()) == 2
    assert settled(lambda: len(inspector.client_list()), before) == before  # soon after the loops end
