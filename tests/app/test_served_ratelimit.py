"""Rate limits on the served app, in-process and on Redis: 4029 for a fourth connection and for a flood."""

import time
from contextlib import AsyncExitStack

import pytest
import redis
from websockets.exceptions import ConnectionClosed

CONN_PER_USER, MSG_RATE, MSG_BURST, CLOSE_AFTER = 3, 10, 20, 5  # the settings' defaults


@pytest.fixture
def redis_client(served_redis):
    client = redis.Redis.from_url(served_redis.url)
    yield client
    client.close()


async def _refused_for_too_many(app, path: str, token: str) -> None:
    async with app.connect(path, token) as client:
        await client.expect_error("too_many_connections")
        assert await client.close_code() == 4029


async def _join_once_released(app, path: str, token: str) -> None:
    """Connect until admitted: the server gives a slot back just after the client sees the close."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        async with app.connect(path, token) as client:
            frame = await client.recv()
            if frame["type"] == "connection_established":
                await client.ping_pong()
                return
            assert frame["type"] == "error" and frame["code"] == "too_many_connections", frame
    pytest.fail("the closed connection's slot was never given back")


async def test_a_fourth_connection_of_a_user_closes_4029(any_served):
    arena = any_served.arena()
    user = arena.users["participant1"]
    async with AsyncExitStack() as stack:
        held = [
            await stack.enter_async_context(any_served.join(path, user.token))
            for path in (arena.match_path, arena.tournament_path, arena.match_path)
        ]
        await _refused_for_too_many(any_served, arena.tournament_path, user.token)
        for client in held:
            await client.ping_pong()
        async with any_served.join(arena.match_path, arena.users["participant2"].token) as other_user:
            await other_user.ping_pong()
        await held.pop().ws.close()
        await _join_once_released(any_served, arena.match_path, user.token)


async def _flood(client, count: int) -> None:
    """Send `count` pings back to back, stopping early if the server has closed."""
    try:
        for index in range(count):
            await client.send({"type": "ping", "timestamp": index})
    except ConnectionClosed:
        pass


async def test_a_message_flood_is_dropped_then_closed_4029(any_served):
    arena = any_served.arena()
    async with any_served.join(arena.match_path, arena.users["spectator"].token) as client:
        started = time.monotonic()
        await _flood(client, MSG_BURST + CLOSE_AFTER + 10)
        answers, code = await client.until_closed()
        elapsed = time.monotonic() - started
    pongs = [a for a in answers if a["type"] == "pong"]
    errors = answers[len(pongs) :]
    # The whole burst passes; the bucket refills at MSG_RATE a second, so a slow run may earn more.
    assert MSG_BURST <= len(pongs) <= MSG_BURST + int(elapsed * MSG_RATE), answers
    assert [p["data"]["timestamp"] for p in pongs] == list(range(len(pongs)))
    # Then each frame is dropped with rate_limited; the CLOSE_AFTER-th violation also closes.
    assert [e["type"] for e in errors] == ["error"] * CLOSE_AFTER, answers
    assert [e["code"] for e in errors] == ["rate_limited"] * CLOSE_AFTER
    assert all(0 < e["data"]["retry_after"] <= 1 / MSG_RATE for e in errors), errors
    assert code == 4029
    async with any_served.join(arena.match_path, arena.users["participant1"].token) as other_user:
        await other_user.ping_pong()


async def test_limits_are_kept_in_redis(served_on_redis, redis_client):
    arena = served_on_redis.arena()
    user = arena.users["participant1"]
    evalsha_before = _calls(redis_client, "evalsha")
    async with AsyncExitStack() as stack:
        for _ in range(CONN_PER_USER):
            client = await stack.enter_async_context(served_on_redis.join(arena.match_path, user.token))
        await client.ping_pong()
        assert redis_client.get(f"ws:conn:user:{user.id}") == str(CONN_PER_USER).encode()
        assert redis_client.hget(f"ws:msg:user:{user.id}", "tokens") is not None
    assert _calls(redis_client, "evalsha") > evalsha_before


async def test_a_script_flush_is_survived(served_on_redis, redis_client):
    arena = served_on_redis.arena()
    user = arena.users["organizer"]
    async with AsyncExitStack() as stack:
        for path in (arena.match_path, arena.tournament_path):
            await stack.enter_async_context(served_on_redis.join(path, user.token))
        loads_before = _calls(redis_client, "script|load")
        redis_client.script_flush()
        client = await stack.enter_async_context(served_on_redis.join(arena.match_path, user.token))
        await client.ping_pong()
        await _refused_for_too_many(served_on_redis, arena.match_path, user.token)
    # The acquire and bucket scripts came back with SCRIPT LOAD after NOSCRIPT.
    assert _calls(redis_client, "script|load") >= loads_before + 2


def _calls(client: redis.Redis, command: str) -> int:
    return client.info("commandstats").get(f"cmdstat_{command}", {}).get("calls", 0)
