"""harness_asgi_app and harness_ws on a generated project: origin stripping, frames, closes."""

from __future__ import annotations

TESTS = """
import pytest
import proj_asgi
from channels.security.websocket import OriginValidator


async def test_test_stack_lets_clients_without_origin_in(harness_ws, harness_asgi_app):
    client = await harness_ws.connect("/ws/echo/")
    assert client.accepted
    await client.send_json({"n": 1})
    assert await client.receive_json() == {"type": "echo", "data": {"n": 1}}
    inner = harness_asgi_app.application_mapping["websocket"]
    assert not isinstance(inner, OriginValidator)


async def test_production_stack_still_validates_origin(harness_ws):
    production = proj_asgi.build_application()
    assert isinstance(production.application_mapping["websocket"], OriginValidator)
    refused = await harness_ws.connect("/ws/echo/", application=production)
    assert (refused.accepted, refused.close_code) == (False, 1000)
    assert await refused.expect_close(1000) == []
    allowed = await harness_ws.connect("/ws/echo/", application=production, origin="http://localhost")
    assert allowed.accepted


async def test_text_binary_and_invalid_frames(harness_ws):
    client = await harness_ws.connect("/ws/echo/")
    await client.send_bytes(b"\\x00\\x01")
    assert await client.receive_frame() == b"\\x00\\x01"
    await client.send_text('{"a": [1, 2]}')
    assert await client.receive_frame() == '{"type": "echo", "data": {"a": [1, 2]}}'
    await client.send_bytes(b"raw")
    with pytest.raises(AssertionError, match="expected a JSON text frame, got binary"):
        await client.receive_json()


async def test_expect_close_collects_the_error_frame_sent_after_accept(harness_ws):
    client = await harness_ws.connect("/ws/whoami/")
    assert client.accepted
    assert await client.expect_close(4001) == [{"type": "error", "code": "missing"}]
    assert client.closed and client.close_code == 4001
    with pytest.raises(AssertionError, match="cannot send, the server closed with code 4001"):
        await client.send_json({"type": "ping"})


async def test_expect_close_reports_the_wrong_code(harness_ws):
    client = await harness_ws.connect("/ws/whoami/")
    with pytest.raises(AssertionError, match="expected close code 4003, got 4001"):
        await client.expect_close(4003)


async def test_assert_nothing_received(harness_ws):
    client = await harness_ws.connect("/ws/echo/")
    await client.assert_nothing_received(0.05)
    await client.send_json({"n": 2})
    with pytest.raises(AssertionError, match="expected nothing for 0.05 s, received"):
        await client.assert_nothing_received(0.05)


async def test_group_messages_reach_every_client(harness_ws, harness_channel_layer):
    first = await harness_ws.connect("/ws/echo/")
    second = await harness_ws.connect("/ws/echo/")
    await first.send_json({"type": "shout", "text": "hi"})
    assert await first.receive_json() == {"type": "room", "text": "hi"}
    assert await second.receive_json() == {"type": "room", "text": "hi"}
    assert len(harness_channel_layer.groups["room"]) == 2


async def test_connect_builds_the_scope(harness_ws):
    client = await harness_ws.connect(
        "/ws/echo/?x=1",
        token="t.o.k",
        headers={"X-Test": "yes"},
        origin="http://localhost",
        scope={"client": ("10.0.0.9", 5)},
    )
    assert client.scope["query_string"] == b"x=1&token=t.o.k"
    assert client.scope["headers"] == [(b"x-test", b"yes"), (b"origin", b"http://localhost")]
    assert client.scope["client"] == ("10.0.0.9", 5)
    header = await harness_ws.connect("/ws/echo/", token="abc", token_via="header")
    assert header.scope["query_string"] == b""
    assert header.scope["headers"] == [(b"authorization", b"Bearer abc")]


async def test_explicit_disconnect_swallows_cancelled_error(harness_ws):
    client = await harness_ws.connect("/ws/heartbeat/")
    await client.disconnect()
    await client.disconnect()  # idempotent
    assert proj_asgi.EVENTS[-2:] == ["heartbeat-cancelled", ("heartbeat-disconnect", 1000)] or \\
        proj_asgi.EVENTS[-2:] == [("heartbeat-disconnect", 1000), "heartbeat-cancelled"]
"""


def test_test_stack_and_client_api(project, assert_no_leaks):
    result = project.run(TESTS)
    result.assert_outcomes(passed=9)
    assert_no_leaks(result)


STRICT_MODE_TESTS = """
import pytest


@pytest.mark.asyncio
async def test_fixtures_work_in_strict_mode(harness_ws):
    client = await harness_ws.connect("/ws/echo/")
    await client.send_json({"mode": "strict"})
    assert await client.receive_json() == {"type": "echo", "data": {"mode": "strict"}}
"""


def test_async_fixtures_work_in_pytest_asyncio_strict_mode(project):
    project.configure(mode="strict")
    result = project.run(STRICT_MODE_TESTS)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["asyncio: mode=Mode.STRICT*"])
