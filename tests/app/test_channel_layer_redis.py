"""target_app's Redis channel layer on a private Redis: storms wait for the pool, idle receives are quiet."""

import asyncio

import pytest
import redis

from suites.served.app import start_redis
from target_app.realtime.layers import BoundedRedisChannelLayer


@pytest.fixture(scope="module")
def redis_server():
    server = start_redis()
    yield server
    server.stop()


@pytest.fixture
async def layer(redis_server):
    redis_server.flush()
    layer = BoundedRedisChannelLayer(hosts=[redis_server.url])
    yield layer
    await layer.flush()


@pytest.fixture
def inspect(redis_server):
    with redis.Redis.from_url(redis_server.url) as client:
        yield client


async def test_a_join_and_leave_storm_waits_for_pooled_connections(layer, inspect):
    # channels_redis's own pool raised "Too many connections" past 100 concurrent calls.
    channels = [f"specific.storm!{n}" for n in range(300)]
    await asyncio.gather(*(layer.group_add("match_1", channel) for channel in channels))
    assert inspect.zcard("asgi:group:match_1") == 300
    await asyncio.gather(*(layer.group_discard("match_1", channel) for channel in channels))
    assert inspect.keys("asgi:*") == []
    assert inspect.info("clients")["connected_clients"] <= layer.pool_size + 1  # + inspect


async def test_an_idle_receive_outlasts_its_blocking_pops_without_an_error(layer):
    # redis-py 8's default 5 s socket timeout raced channels_redis's 5 s blocking pop: every idle
    # receive failed. Shortened here to keep the test fast.
    layer.brpop_timeout = 0.2
    channel = await layer.new_channel()
    receiving = asyncio.create_task(layer.receive(channel))
    await asyncio.sleep(0.7)  # three blocking pops came back empty meanwhile
    assert not receiving.done()
    await layer.send(channel, {"type": "score_updated", "data": {"sequence": 1}})
    assert await asyncio.wait_for(receiving, 2) == {"type": "score_updated", "data": {"sequence": 1}}


@pytest.mark.parametrize("delay", [0, 0.0005, 0.001, 0.002, 0.003, 0.005])
async def test_a_receive_cancelled_as_it_starts_ends(redis_server, delay):
    # Channels cancels a consumer's channel receive when the consumer ends. With a socket timeout,
    # Python 3.11's wait_for (around each send) dropped a cancellation landing as the send completed:
    # a quarter of these receives never ended, and their consumers stayed alive for good.
    for _ in range(8):
        layer = BoundedRedisChannelLayer(hosts=[redis_server.url])  # a fresh pool: the receive connects
        receiving = asyncio.create_task(layer.receive(await layer.new_channel()))
        await asyncio.sleep(delay)
        receiving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(receiving), 1)
        await layer.flush()


def test_hosts_given_as_host_and_port_get_the_same_pool(redis_server):
    layer = BoundedRedisChannelLayer(hosts=[("127.0.0.1", redis_server.port)])
    pool = layer.create_pool(0)
    assert isinstance(pool, redis.asyncio.BlockingConnectionPool)
    assert pool.max_connections == layer.pool_size
    assert pool.connection_kwargs["socket_timeout"] is None
