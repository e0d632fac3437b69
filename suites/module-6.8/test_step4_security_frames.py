"""Step 4, security: what a hostile client sends over the wire, and every close and error code it earns.

Spoofed origins and hosts, frames too large or malformed below the protocol, a client that never
reads, and each of the protocol's frame errors: every one refused with its documented code, the server
unharmed (others served, memory bounded, nothing leaked, no traceback logged).

The server runs with `WS_ALLOWED_ORIGINS=http://localhost` (so 4003 can be earned) and a message rate
raised to 200 a second (burst 400), so one organizer can broadcast faster than a slow client reads;
the rate limits themselves are step 3's subject.
"""

import asyncio
import json

import pytest
from websockets.exceptions import InvalidStatus

from suites.realtime_checks import assert_error
from suites.served.app import ORIGIN, Arena, ServedApp
from suites.served.client import Client
from suites.served.leaks import leaks
from suites.served.process import reset_peak_rss
from suites.served.raw import CLOSE, CONTINUATION, PING, TEXT, RawSocket, encode_frame

MAX_PAYLOAD = 16384  # WS_MAX_PAYLOAD_BYTES
MAX_FRAME = 1024 * 1024  # WS_MAX_FRAME_BYTES: the largest frame the server reads
ANNOUNCEMENTS = 400  # 16 kB each: more than the kernel and the server together keep for a slow reader
PEAK_RSS_SLACK_MB = 32  # what a burst of oversized frames or a slow reader may add to the server's peak


@pytest.fixture(scope="module")
def app(serving) -> ServedApp:
    return serving(
        arenas=90,
        env={"WS_ALLOWED_ORIGINS": ORIGIN, "WS_MSG_RATE": "200", "WS_MSG_BURST": str(ANNOUNCEMENTS)},
    )


def _with_token(path: str, token: str) -> str:
    return f"{path}?token={token}"


async def _raw(app: ServedApp, arena: Arena, **headers) -> RawSocket:
    """A hand-made connection of the arena's spectator to its match, welcomed."""
    raw = await RawSocket.open(
        app.port,
        _with_token(arena.match_path, arena.users["spectator"].token),
        headers={"Origin": ORIGIN, **headers},
    )
    assert raw.status == 101
    assert json.loads((await raw.recv_frame()).payload)["type"] == "connection_established"
    return raw


# -- origin and host ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "origin",
    [
        None,
        "null",
        "http://evil.example",
        "http://localhost.evil.example",
        "http://localhost@evil.example",
        "http://evil.example#http://localhost",
        "file://",
    ],
)
async def test_an_origin_outside_allowed_hosts_is_refused_at_the_handshake(app, origin):
    arena = app.arena()
    with pytest.raises(InvalidStatus) as refused:
        async with app.connect(arena.match_path, arena.users["spectator"].token, origin=origin):
            pass
    assert refused.value.response.status_code == 403  # Channels' origin validator: no app frame at all


@pytest.mark.parametrize(
    "origin",
    [
        "http://127.0.0.1",
        "https://localhost",
        "http://localhost:8000",
        "http://localhost/",
        "HTTP://LOCALHOST",
        "ws://localhost",
    ],
)
async def test_an_allowed_host_that_is_not_an_allowed_origin_is_closed_4003(app, origin):
    arena = app.arena()
    frames, code = await app.refusal(arena.match_path, arena.users["spectator"].token, origin=origin)
    assert code == 4003 and len(frames) == 1
    assert_error(frames[0], "origin_not_allowed")


async def test_a_spoofed_host_header_changes_nothing_for_websockets(app):
    # For WebSockets the Origin is what is checked (a browser cannot forge it); Host is not a boundary.
    raw = await _raw(app, app.arena(), Host="evil.example")
    await raw.send_frame(TEXT, b'{"type": "ping", "timestamp": 1}')
    assert json.loads((await raw.recv_frame()).payload) == {"type": "pong", "data": {"timestamp": 1}}
    await raw.aclose()


# -- frames too large ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "size", [MAX_PAYLOAD + 1, MAX_FRAME], ids=["one-byte-over-the-cap", "the-frame-limit"]
)
async def test_a_frame_over_the_cap_gets_payload_too_large_and_4009(app, size):
    arena = app.arena()
    async with app.join(arena.match_path, arena.users["spectator"].token) as client:
        await client.send("x" * size)
        frames, code = await client.until_closed()
    assert code == 4009 and len(frames) == 1
    assert_error(frames[0], "payload_too_large")


# The frame that crosses the limit is sent as its header and a few bytes of what it announces: the server
# refuses it by the announced length, unread, and closes; a client still writing the rest when it does
# would meet a reset connection (EPIPE) instead of the close frame, and the test would race the server.
@pytest.mark.parametrize(
    "frames",
    [
        [encode_frame(TEXT, b"x" * 16, length=MAX_FRAME + 1)],
        [encode_frame(TEXT, b"", length=2**40)],  # only announced: the server reads none of it
        [
            encode_frame(TEXT, b"x" * 600_000, fin=False),
            encode_frame(CONTINUATION, b"x" * 16, length=600_000),
        ],
    ],
    ids=["one-byte-over-the-limit", "announced-a-terabyte", "fragments-growing-past-it"],
)
async def test_a_frame_over_the_limit_is_refused_unread_with_1009(app, frames):
    raw = await _raw(app, app.arena())
    for frame in frames:
        await raw.send(frame)
    assert await raw.close_code() == 1009  # message too big: the transport's close, no app frame
    await raw.aclose()


async def test_many_oversized_frames_at_once_keep_the_servers_memory_bounded(app, harness_metric):
    raws = [await _raw(app, app.arena()) for _ in range(10)]
    before = app.stats()
    reset_peak_rss(app.process.pid)
    await asyncio.gather(*(raw.send_frame(TEXT, b"x" * MAX_FRAME) for raw in raws))
    assert await asyncio.gather(*(raw.close_code() for raw in raws)) == [4009] * 10
    peak = (app.stats().peak_rss_kb - before.rss_kb) / 1024
    harness_metric("oversized_frames_peak_rss_mb", peak, "MB")
    assert peak <= PEAK_RSS_SLACK_MB  # ten 1 MiB frames; uvicorn's own 16 MiB limit let one add 47 MB
    for raw in raws:
        await raw.aclose()


# -- frames malformed below the protocol ---------------------------------------------------------

MALFORMED = {
    "unmasked": (encode_frame(TEXT, b'{"type": "ping"}', masked=False), 1002),
    "reserved-bits": (encode_frame(TEXT, b'{"type": "ping"}', rsv=4), 1002),
    "unknown-opcode": (encode_frame(0x3, b"x"), 1002),
    "control-frame-over-125-bytes": (encode_frame(PING, b"x" * 126), 1002),
    "fragmented-control-frame": (encode_frame(PING, b"x", fin=False), 1002),
    "continuation-without-a-start": (encode_frame(CONTINUATION, b"x"), 1002),
    "text-not-utf8": (encode_frame(TEXT, b"\xff\xfe"), 1007),
    "close-with-a-reserved-code": (encode_frame(CLOSE, (1005).to_bytes(2, "big")), 1002),
    "close-with-an-invalid-code": (encode_frame(CLOSE, (999).to_bytes(2, "big")), 1002),
    "close-with-a-one-byte-body": (encode_frame(CLOSE, b"\x03"), 1002),
    "close-reason-not-utf8": (encode_frame(CLOSE, (1000).to_bytes(2, "big") + b"\xff"), 1007),
}


@pytest.mark.parametrize("case", MALFORMED)
async def test_a_malformed_frame_closes_with_the_rfc_code_and_others_stay_served(app, case):
    frame, code = MALFORMED[case]
    bystander = app.arena()
    async with app.join(bystander.match_path, bystander.users["spectator"].token) as other:
        raw = await _raw(app, app.arena())
        await raw.send(frame)
        assert await raw.close_code() == code
        await raw.aclose()
        await other.ping_pong()


# -- the protocol's own frame errors: the connection stays open ----------------------------------

# case → (sender, frame, code, the fixed message text where docs/protocol.md fixes one)
FRAME_ERRORS = {
    "not-json": ("spectator", "hello", "invalid_json", "frame is not valid JSON"),
    "binary": ("spectator", b"\x00\x01", "invalid_json", "binary frames are not supported; send JSON text"),
    "nan": ("spectator", '{"type": "ping", "timestamp": NaN}', "invalid_json", "frame is not valid JSON"),
    "array": ("spectator", "[]", "invalid_schema", "a frame is a JSON object with a string 'type'"),
    "no-type": (
        "spectator",
        '{"data": {}}',
        "invalid_schema",
        "a frame is a JSON object with a string 'type'",
    ),
    "data-not-object": (
        "participant1",
        '{"type": "report_score", "data": [1]}',
        "invalid_schema",
        "'data' must be an object",
    ),
    "timestamp-object": ("spectator", '{"type": "ping", "timestamp": {}}', "invalid_schema", None),
    "unknown-type": ("spectator", '{"type": "drop_tables"}', "unsupported_message_type", None),
    "announce-on-a-match": (
        "participant1",
        '{"type": "announce", "data": {"message": "hi"}}',
        "unsupported_message_type",
        None,
    ),
    "spectator-reports": (
        "spectator",
        '{"type": "report_score", "data": {"score1": 1, "score2": 0}}',
        "permission_denied",
        None,
    ),
    "spectator-reports-junk": ("spectator", '{"type": "report_score", "data": 5}', "permission_denied", None),
}


@pytest.mark.parametrize("case", FRAME_ERRORS)
async def test_each_frame_error_is_answered_with_its_code_and_the_connection_stays(app, case):
    sender, frame, code, text = FRAME_ERRORS[case]
    arena = app.arena()
    token = arena.users[sender].token
    async with app.join(arena.match_path, token) as client:
        await client.send(frame)
        answer = await client.recv()
        assert_error(answer, code)
        if text is not None:
            assert answer["message"] == text
        assert leaks(json.dumps(answer), token) == []
        await client.ping_pong()  # still open


async def test_subscribe_shows_the_connected_match_and_nothing_more(app):
    arena = app.arena()
    spectator = arena.users["spectator"]
    async with app.join(arena.match_path, spectator.token) as client:
        await client.send({"type": "subscribe", "match_id": 1, "data": {"match_id": 1}})  # ids ignored
        data = await client.expect("subscribed")
    assert (data["match_id"], data["tournament_id"]) == (arena.match, arena.tournament)
    assert set(data) == {
        "match_id", "tournament_id", "state", "score1", "score2", "winner_id", "participant1", "participant2"
    }  # fmt: skip
    assert {data["participant1"]["id"], data["participant2"]["id"]} == {
        arena.users["participant1"].id,
        arena.users["participant2"].id,
    }
    assert leaks(json.dumps(data), spectator.token) == []


# -- a client that never reads ------------------------------------------------------------------


async def test_a_client_that_never_reads_costs_bounded_memory_and_delays_no_one(app, harness_metric):
    arena = app.arena()
    slow = await RawSocket.open(
        app.port,
        _with_token(arena.tournament_path, arena.users["spectator"].token),
        headers={"Origin": ORIGIN},
        receive_buffer=4096,  # a small window, and nothing read after the welcome
    )
    assert json.loads((await slow.recv_frame()).payload)["type"] == "connection_established"
    async with (
        app.join(arena.tournament_path, arena.users["organizer"].token) as organizer,
        app.join(arena.tournament_path, arena.users["participant1"].token) as watcher,
    ):
        before = app.stats()
        reset_peak_rss(app.process.pid)
        for index in range(ANNOUNCEMENTS):
            await organizer.send({"type": "announce", "data": {"message": f"{index:05d}" + "x" * 16000}})
        received = [await _announcement(watcher) for _ in range(ANNOUNCEMENTS)]
        assert received == list(range(ANNOUNCEMENTS))  # all of them, in order
        for _ in range(ANNOUNCEMENTS):
            await _announcement(organizer)
        peak = (app.stats().peak_rss_kb - before.rss_kb) / 1024
    harness_metric("slow_reader_peak_rss_mb", peak, "MB")
    assert peak <= PEAK_RSS_SLACK_MB
    # What the slow client can still read is what the kernel, uvicorn's write buffer and the channel
    # layer's queue of 100 held for it; the rest was dropped, not kept in the server's memory.
    kept = 0
    while (frame := await _next_or_none(slow)) is not None and frame.opcode == TEXT:
        kept += 1
    harness_metric("slow_reader_kept", kept)
    assert 100 <= kept < ANNOUNCEMENTS, kept
    await slow.aclose()


async def _announcement(client: Client) -> int:
    frame = await client.recv()
    assert frame["type"] == "announcement", frame
    return int(frame["data"]["message"][:5])


async def _next_or_none(raw: RawSocket):
    try:
        return await raw.recv_frame(timeout=1.0)
    except TimeoutError:
        return None


# -- every close code, in one place ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "token", "code", "close"),
    [
        ("/ws/match/0/", "spectator", "invalid_id", 4000),
        ("/ws/tournament/x/", "spectator", "invalid_id", 4000),
        ("{match}", None, "missing", 4001),
        ("/ws/match/999999/", "spectator", "not_found", 4004),
        ("/ws/tournament/999999/", "spectator", "not_found", 4004),
    ],
)
async def test_each_connect_time_refusal_gets_its_error_then_its_close(app, path, token, code, close):
    arena = app.arena()
    target = path.format(match=arena.match_path)
    frames, got = await app.refusal(target, arena.users[token].token if token else None)
    assert got == close and len(frames) == 1
    assert_error(frames[0], code)
