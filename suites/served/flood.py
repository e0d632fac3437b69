"""One user flooding served apps with pings, across connections and servers, and the token-bucket check.

The flood sends at a fixed pace, round robin over one connection per seat (a seat is a server and a
path), and opens a connection the limiter closed again. Every frame it sent is accounted for: the
`pong` of an admitted frame, the `rate_limited` error of a refused one, or nothing for a frame sent
after the server closed that connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from suites.served.app import ORIGIN, ServedApp
from suites.served.client import FRAME_TIMEOUT

RECONNECT_PAUSE = 0.005  # between attempts while the server still counts the closed connection


@dataclass
class Session:
    """One connection of the flood, from open to close: what was sent on it and what came back."""

    sent: list[tuple[int, float]] = field(default_factory=list)  # (sequence number, time sent)
    answers: list[tuple[float, dict]] = field(default_factory=list)  # (time received, frame)
    close_code: int | None = None

    @property
    def answered(self) -> list[tuple[int, float, float, dict]]:
        """(sequence, sent, received, answer) for each answered frame: the server answers in order."""
        return [(n, at, got, frame) for (n, at), (got, frame) in zip(self.sent, self.answers, strict=False)]


@dataclass
class Flood:
    """What a flood did; `sessions` hold every connection it opened."""

    sessions: list[Session]
    refused_connections: list[dict] = field(default_factory=list)  # error frames of refused reconnects
    turns: list[float] = field(default_factory=list)  # when each frame's turn came, sent or not

    def _frames(self, kind: str) -> list[dict]:
        return [frame for s in self.sessions for _, _, _, frame in s.answered if _kind(frame) == kind]

    @property
    def sent(self) -> int:
        return sum(len(s.sent) for s in self.sessions)

    @property
    def per_minute(self) -> float:
        """The pace the flood offered frames at: one per turn, whether a connection was open or not."""
        return (len(self.turns) - 1) / (self.turns[-1] - self.turns[0]) * 60

    @property
    def unsent(self) -> int:
        """Turns when every connection was closed (the limiter's doing) or still reopening."""
        return len(self.turns) - self.sent

    @property
    def admitted(self) -> int:
        return len(self._frames("pong"))

    @property
    def refused(self) -> list[dict]:
        return self._frames("rate_limited")

    @property
    def unanswered(self) -> int:
        return sum(len(s.sent) - len(s.answers) for s in self.sessions)

    @property
    def other_answers(self) -> list[dict]:
        return [f for s in self.sessions for _, f in s.answers if _kind(f) not in ("pong", "rate_limited")]

    def window(self) -> tuple[float, float]:
        """Bounds on the seconds between the first and the last frame the limiter saw.

        The limiter saw each answered frame after it was sent and before its answer arrived, so the
        first such moment lies between the first send and the first answer, the last between the
        latest-sent answered frame's send and the last answer.
        """
        answered = [(at, got) for s in self.sessions for _, at, got, _ in s.answered]
        first_sent, first_answer = min(at for at, _ in answered), min(got for _, got in answered)
        last_sent, last_answer = max(at for at, _ in answered), max(got for _, got in answered)
        return last_sent - first_answer, last_answer - first_sent


def bucket_allows(burst: int, rate: float, window: tuple[float, float]) -> range:
    """How many frames a token bucket admits from a flood whose first and last frames hit it `window`
    seconds apart (bounds): the full bucket, then one per 1/rate s, each claimed by the next frame."""
    low, high = window
    return range(math.floor(burst + rate * max(low, 0.0)), math.floor(burst + rate * high) + 1)


def _kind(frame: dict) -> str:
    return frame["code"] if frame["type"] == "error" else frame["type"]


class _Seat:
    """One connection slot of the flood: a server and a path, reopened whenever the server closes it."""

    def __init__(self, app: ServedApp, path: str, token: str, flood: Flood) -> None:
        self.app, self.path, self.token, self.flood = app, path, token, flood
        self.ws: ClientConnection | None = None
        self.session: Session | None = None
        self.task: asyncio.Task | None = None
        self.stopping = False

    @property
    def open(self) -> bool:
        return self.ws is not None

    async def run(self) -> None:
        """Keep a connection open (reconnecting after each close) and record its answers."""
        while not self.stopping:
            url = self.app.ws_url(self.path, self.token)
            ws = await connect(url, origin=ORIGIN, ping_interval=None, open_timeout=FRAME_TIMEOUT)
            welcome = json.loads(await asyncio.wait_for(ws.recv(), FRAME_TIMEOUT))
            if self.stopping:  # the flood ended while this one was opening
                await ws.close()
                return
            if welcome["type"] != "connection_established":
                self.flood.refused_connections.append(welcome)
                await ws.close()
                await asyncio.sleep(RECONNECT_PAUSE)
                continue
            self.session = Session()
            self.flood.sessions.append(self.session)
            self.ws = ws
            await self._listen(ws, self.session)

    async def _listen(self, ws: ClientConnection, session: Session) -> None:
        try:
            async for raw in ws:
                session.answers.append((time.monotonic(), json.loads(raw)))
        except ConnectionClosed:
            pass
        self.ws = None
        session.close_code = ws.close_code

    async def send(self, number: int) -> None:
        ws, session = self.ws, self.session
        session.sent.append((number, time.monotonic()))
        # Closed meanwhile: the frame went into a closing connection and is never answered.
        with contextlib.suppress(ConnectionClosed):
            await ws.send(json.dumps({"type": "ping", "timestamp": number}))


async def flood(seats: list[tuple[ServedApp, str]], token: str, per_minute: float, seconds: float) -> Flood:
    """Send pings as one user (`token`) at `per_minute` for `seconds` over one connection per seat."""
    result = Flood(sessions=[])
    until = time.monotonic() + seconds
    places = [_Seat(app, path, token, result) for app, path in seats]
    for place in places:
        place.task = asyncio.create_task(place.run())
    try:
        await _send_until(places, until, 60.0 / per_minute, result.turns)
        await _answers_in(places)
        # Close what is still open: each seat's listener then records the close and its task ends.
        for place in places:
            place.stopping = True
        await asyncio.gather(*(place.ws.close() for place in places if place.ws is not None))
        await asyncio.wait([place.task for place in places], timeout=FRAME_TIMEOUT)
    finally:
        for place in places:
            place.task.cancel()
        outcomes = await asyncio.gather(*(place.task for place in places), return_exceptions=True)
    failures = [out for out in outcomes if isinstance(out, Exception)]  # CancelledError is not one
    if failures:
        raise failures[0]
    return result


async def _send_until(places: list[_Seat], until: float, interval: float, turns: list[float]) -> None:
    number, turn, next_at = 0, 0, time.monotonic()
    while (now := time.monotonic()) < until:
        await asyncio.sleep(max(0.0, next_at - now))
        turns.append(time.monotonic())  # when it really came: a late loop sends the missed ones at once
        next_at += interval
        for offset in range(len(places)):  # the next seat with an open connection
            place = places[(turn + offset) % len(places)]
            if place.open:
                await place.send(number)
                number, turn = number + 1, turn + offset + 1
                break


async def _answers_in(places: list[_Seat]) -> None:
    """Wait (bounded) until every frame sent on a still-open connection has its answer."""
    deadline = time.monotonic() + FRAME_TIMEOUT
    while time.monotonic() < deadline:
        waiting = [p for p in places if p.open and len(p.session.answers) < len(p.session.sent)]
        if not waiting:
            return
        await asyncio.sleep(0.01)
