"""Step 1, load: one user sends 10,000 messages a minute; the token bucket admits exactly what it allows.

The flood goes over the user's three connections (`WS_CONN_PER_USER`), reopening each one the limiter
closes; once on one server and once over two `serve` processes on one Redis (`serve` itself runs one
process: docs/protocol.md, "Running"). The settings are the spec's defaults: 10 messages a second, a
burst of 20, close after 5 violations.
"""

import asyncio
import contextlib

import pytest

from suites.realtime_checks import assert_error
from suites.served.app import ServedApp
from suites.served.flood import Flood, bucket_allows, flood

PER_MINUTE = 10_000
SECONDS = 2.0
RATE, BURST, CLOSE_AFTER, CONN_PER_USER = 10, 20, 5, 3  # the spec's defaults


@pytest.fixture(scope="module")
def servers(serving) -> tuple[ServedApp, ServedApp]:
    """Two processes on one database and the file's Redis, as two replicas behind a balancer."""
    first = serving(arenas=3)
    return first, serving(replica_of=first)


async def _fourth_refused(seats: list[tuple[ServedApp, str]], token: str, fourth) -> tuple[list[dict], int]:
    """With the user's three connections open, what one more (`fourth`: server, path) gets."""
    async with contextlib.AsyncExitStack() as held:
        for app, path in seats:
            await held.enter_async_context(app.join(path, token))
        app, path = fourth
        return await app.refusal(path, token)


async def _scenario(seats, token, fourth) -> tuple[Flood, tuple[list[dict], int]]:
    refused = await _fourth_refused(seats, token, fourth)  # no frame sent: the bucket is still full
    return await flood(seats, token, PER_MINUTE, SECONDS), refused


@pytest.fixture(scope="module")
def one_server(servers) -> tuple[Flood, tuple[list[dict], int]]:
    """The flood over three connections to one server."""
    app = servers[0]
    arena = app.arena()
    seats = [(app, arena.match_path), (app, arena.tournament_path), (app, arena.match_path)]
    return asyncio.run(_scenario(seats, arena.users["spectator"].token, (app, arena.tournament_path)))


@pytest.fixture(scope="module")
def two_servers(servers) -> tuple[Flood, tuple[list[dict], int]]:
    """The flood over two connections to one process and one to the other."""
    first, second = servers
    arena = first.arena()
    seats = [(first, arena.match_path), (second, arena.match_path), (first, arena.tournament_path)]
    token = arena.users["participant1"].token
    return asyncio.run(_scenario(seats, token, (second, arena.tournament_path)))


FLOODS = ["one_server", "two_servers"]


@pytest.fixture(params=FLOODS)
def scenario(request) -> tuple[Flood, tuple[list[dict], int]]:
    """Each flood in turn (run once for the module)."""
    return request.getfixturevalue(request.param)


def test_the_flood_ran_at_ten_thousand_a_minute(scenario, harness_metric):
    result, _ = scenario
    harness_metric("messages_sent", result.sent)
    harness_metric("messages_unsent", result.unsent)  # due while the limiter had closed every connection
    harness_metric("flood_per_minute", result.per_minute, "1/min")
    assert result.per_minute >= 0.95 * PER_MINUTE
    assert result.sent >= len(result.turns) / 2


def test_the_bucket_admits_exactly_what_it_allows(scenario, harness_metric):
    result, _ = scenario
    allowed = bucket_allows(BURST, RATE, result.window())
    exact = result.admitted in allowed and not result.other_answers
    harness_metric("messages_admitted", result.admitted)
    harness_metric("messages_refused", len(result.refused))
    harness_metric("refused_over_limit", 1.0 if exact else 0.0)
    assert result.admitted in allowed, (result.admitted, allowed, result.window())
    assert result.other_answers == []  # every answer was a pong or rate_limited
    # Admitted frames are the pongs of pings, in the order they were sent on each connection.
    for session in result.sessions:
        pongs = [(n, frame) for n, _, _, frame in session.answered if frame["type"] == "pong"]
        assert [frame["data"]["timestamp"] for _, frame in pongs] == [n for n, _ in pongs]


def test_each_refusal_names_when_to_retry(scenario):
    result, _ = scenario
    assert result.refused, "the flood was never refused"
    for frame in result.refused:
        assert set(frame) == {"type", "code", "message", "data"}, frame
        assert 0 < frame["data"]["retry_after"] <= 1 / RATE, frame


def test_the_fifth_refusal_on_a_connection_closes_it_4029(scenario, harness_metric):
    result, _ = scenario
    closed = [s for s in result.sessions if s.close_code == 4029]
    harness_metric("flood_closes_4029", len(closed))
    assert closed, "no connection was closed"
    for session in result.sessions:
        refusals = [frame for _, _, _, frame in session.answered if frame.get("code") == "rate_limited"]
        if session.close_code == 4029:
            assert len(refusals) == CLOSE_AFTER and refusals[-1] == session.answers[-1][1], session
        else:  # still open when the flood ended, closed by the client
            assert session.close_code == 1000 and len(refusals) < CLOSE_AFTER, session
    # Nothing sent on a connection goes unanswered except what was sent after its close.
    for session in result.sessions:
        assert len(session.answers) <= len(session.sent)


def test_a_fourth_connection_is_refused_4029_whichever_server_it_reaches(scenario):
    result, (frames, code) = scenario
    assert code == 4029 and len(frames) == 1
    assert_error(frames[0], "too_many_connections")
    # The flood reopened its closed connections; one reopened before the server had counted the
    # close is refused the same way, and tried again.
    assert len(result.sessions) > CONN_PER_USER
    assert {frame["code"] for frame in result.refused_connections} <= {"too_many_connections"}
