"""Step 3, security: attempts to get around the rate limits of the served app, all refused as documented.

A client cannot choose the address it is counted under (X-Forwarded-For and friends are ignored unless
the server is told which proxies to trust), cannot hold more connections than allowed however it
spreads or recycles them, cannot refill its message bucket by reconnecting, and a Redis outage in the
middle of a flood still leaves it limited (docs/protocol.md, "When Redis goes away").
"""

import asyncio
import contextlib
import time

import pytest

from suites.served.app import ServedApp, start_redis
from suites.served.flood import bucket_allows, flood
from suites.served.raw import RawSocket

RATE, BURST, CLOSE_AFTER, CONN_PER_USER = 10, 20, 5, 3  # the spec's defaults
SPOOFED = {
    "X-Forwarded-For": "203.0.113.9",
    "Forwarded": "for=198.51.100.2",
    "X-Real-IP": "198.51.100.3",
    "X-Client-IP": "198.51.100.4",
}


@pytest.fixture(scope="module")
def app(serving) -> ServedApp:
    return serving(arenas=12)


async def _log_lines_for(app: ServedApp, marker: str) -> list[str]:
    """The server's log lines that name `marker` (a path or query only this test used)."""
    log = await app.wait_for_log(marker)
    return [line for line in log.splitlines() if marker in line]


@pytest.mark.parametrize("header", SPOOFED)
async def test_a_forwarding_header_does_not_choose_the_client_address(app, header):
    marker = f"spoof-{header.lower()}"
    raw = await RawSocket.open(
        app.port,
        f"/ws/match/1/?{marker}",
        headers={header: SPOOFED[header], "Origin": "http://localhost"},
    )
    assert raw.status == 101
    assert await raw.close_code() == 4001  # anonymous: counted under the address the TCP connection has
    await raw.aclose()
    status, _ = await app.http("GET", f"/api/health?{marker}-http", headers={header: SPOOFED[header]})
    assert status == 200
    for line in await _log_lines_for(app, marker) + await _log_lines_for(app, f"{marker}-http"):
        assert line.split()[1].startswith("127.0.0.1:"), line  # uvicorn logs scope["client"]
        assert SPOOFED[header].split("=")[-1] not in line, line


@pytest.fixture(scope="module")
def proxied(serving) -> ServedApp:
    """A server told that 127.0.0.1 is its reverse proxy."""
    return serving(arenas=1, env={"FORWARDED_ALLOW_IPS": "127.0.0.1"})


async def test_behind_a_named_proxy_its_forwarded_address_is_the_one_counted(proxied):
    chain = "198.51.100.7, 203.0.113.9"  # a client's own claim, then what the proxy appended
    status, _ = await proxied.http("GET", "/api/health?behind-proxy", headers={"X-Forwarded-For": chain})
    assert status == 200
    (line,) = await _log_lines_for(proxied, "behind-proxy")
    assert line.split()[1].startswith("203.0.113.9:"), line  # the right-most address not trusted


async def test_a_fourth_connection_is_refused_whichever_room_it_targets(app):
    arena, elsewhere = app.arena(), app.arena()
    user = arena.users["participant1"]
    rooms = [arena.match_path, arena.tournament_path, elsewhere.match_path, elsewhere.tournament_path]
    async with contextlib.AsyncExitStack() as held:
        clients = [
            await held.enter_async_context(app.join(path, user.token)) for path in rooms[:CONN_PER_USER]
        ]
        frames, code = await app.refusal(rooms[3], user.token)
        assert code == 4029 and [frame["code"] for frame in frames] == ["too_many_connections"]
        async with app.join(rooms[3], arena.users["participant2"].token) as someone_else:
            await someone_else.ping_pong()  # the limit is the user's, not the room's
        for client in clients:
            await client.ping_pong()


async def test_a_reconnect_storm_never_holds_more_than_the_limit_and_leaves_nothing(app, redis_client):
    arena = app.arena()
    user = arena.users["spectator"]
    key = f"ws:conn:user:{user.id}"
    admitted = refused = 0
    highest = 0

    async def cycle(index: int) -> None:
        nonlocal admitted, refused, highest
        async with app.connect(arena.match_path, user.token) as client:
            frame = await client.recv()
            highest = max(highest, int(redis_client.get(key) or 0))
            if frame["type"] == "connection_established":
                admitted += 1
                if index % 2:
                    client.ws.transport.abort()  # gone without a close handshake
            else:
                assert frame["code"] == "too_many_connections", frame
                assert await client.close_code() == 4029
                refused += 1

    for wave in range(10):  # ten waves of five at once: two over the limit each time
        await asyncio.gather(*(cycle(wave * 5 + n) for n in range(5)))
    # Each attempt was admitted or refused 4029; the count never passed the limit (sampled as each
    # attempt was answered), and a wave found slots the previous one gave back.
    assert admitted + refused == 50 and admitted >= CONN_PER_USER and refused > 0
    assert highest <= CONN_PER_USER
    await _until(lambda: redis_client.get(key) is None, "the user's connection count to go")


async def test_reconnecting_does_not_refill_the_message_bucket(app):
    arena = app.arena()
    user = arena.users["participant2"]
    async with app.join(arena.match_path, user.token) as client:
        for index in range(BURST + CLOSE_AFTER):
            await client.send({"type": "ping", "timestamp": index})
        frames, code = await client.until_closed()
        closed_at = time.monotonic()
    assert code == 4029 and [f["type"] for f in frames].count("pong") >= BURST
    async with app.join(arena.match_path, user.token) as again:  # a new connection, the same bucket
        for index in range(3):
            await again.send({"type": "ping", "timestamp": index})
        answers = [await again.recv() for _ in range(3)]
        elapsed = time.monotonic() - closed_at
    pongs = sum(frame["type"] == "pong" for frame in answers)
    assert pongs <= 1 + elapsed * RATE < 3, (answers, elapsed)  # what refilled since, not a new burst
    assert any(frame.get("code") == "rate_limited" for frame in answers), answers


@pytest.fixture
def outage_redis():
    """A redis-server this test alone uses, and stops."""
    server = start_redis()
    yield server
    server.stop()


@pytest.fixture
def outage_app(serving, outage_redis) -> ServedApp:
    return serving(arenas=1, redis_url=outage_redis.url)


async def test_a_redis_outage_during_a_flood_still_limits_it(outage_app, outage_redis):
    app = outage_app
    arena = app.arena()
    async with app.join(arena.tournament_path, arena.users["organizer"].token) as bystander:
        flooding = asyncio.create_task(
            flood([(app, arena.match_path)] * 2, arena.users["spectator"].token, 10_000, 2.5)
        )
        await asyncio.sleep(1.0)
        outage_redis.stop()
        result = await flooding
        await bystander.ping_pong()  # an open connection stays served through the outage
    # Redis's bucket, then a fresh one in-process (the fallback never saw Redis's): two bursts at most.
    low, high = result.window()
    assert BURST <= result.admitted <= max(bucket_allows(BURST, RATE, (low, high))) + BURST
    assert result.other_answers == [] and result.refused
    for session in result.sessions:
        refusals = [frame for _, _, _, frame in session.answered if frame.get("code") == "rate_limited"]
        assert session.close_code in (4029, 1000) and (len(refusals) == CLOSE_AFTER) == (
            session.close_code == 4029
        )
    # A new connection cannot join its group while Redis is down: accepted, told, closed 1011.
    assert {frame["code"] for frame in result.refused_connections} <= {"too_many_connections", "unavailable"}
    frames, code = await app.refusal(arena.match_path, arena.users["participant1"].token)
    assert code == 1011 and [frame["code"] for frame in frames] == ["unavailable"]
    log = app.log()
    assert log.count("Redis unreachable (") == 1, log  # the switch to in-process, logged once
    assert app.alive()


async def _until(condition, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout}s for {what}")
        await asyncio.sleep(0.02)
