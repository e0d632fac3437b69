"""Consumers wait out an unreachable channel layer, but never swallow their own cancellation."""

import asyncio
import logging

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from target_app.realtime import consumers

pytestmark = pytest.mark.looptime


@pytest.fixture(autouse=True)
def _layer_up():
    consumers._layer_down = False
    yield
    consumers._layer_down = False


async def test_an_outage_is_waited_out_and_logged_once(caplog):
    replies = [RedisConnectionError("down"), RedisConnectionError("down"), {"type": "hello"}]

    async def receive():
        reply = replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply

    loop = asyncio.get_running_loop()
    started = loop.time()
    with caplog.at_level(logging.INFO, logger=consumers.__name__):
        assert await consumers._receive_through_outages(receive) == {"type": "hello"}
    assert loop.time() - started == pytest.approx(2 * consumers.LAYER_RETRY_SECONDS)
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == [
        "channel layer unreachable",
        "channel layer reachable again",
    ]


async def test_a_cancellation_turned_into_a_redis_timeout_still_cancels():
    """redis-py's own timeout can turn a cancelled read into TimeoutError; the consumer must still end."""
    reading = asyncio.Event()

    async def receive():
        reading.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            raise RedisTimeoutError("Timeout reading from redis") from None

    task = asyncio.create_task(consumers._receive_through_outages(receive))
    await reading.wait()
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=10 * consumers.LAYER_RETRY_SECONDS)
    assert done == {task} and task.cancelled()
    assert consumers._layer_down is False  # a cancellation is not an outage
