"""Module 6.7 step 1: score batching and broadcasts of target_app/realtime/utils.py, in virtual time."""

import asyncio
import atexit
import logging
import threading
from dataclasses import dataclass
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer

from target_app.realtime import utils

TOURNAMENT, MATCH = 3, 7
LOGGER = "target_app.realtime.utils"


def _score(score1: int, score2: int = 0, *, match: int = MATCH, sequence: int) -> dict:
    """The channel-layer message a batched score becomes."""
    data = {"score1": score1, "score2": score2, "match_id": match, "tournament_id": TOURNAMENT}
    return {"type": "score_updated", "data": {**data, "sequence": sequence}}


def _completed(winner: int, *, match: int = MATCH) -> dict:
    data = {"winner_id": winner, "match_id": match, "tournament_id": TOURNAMENT}
    return {"type": "match_completed", "data": data}


@dataclass
class _Listener:
    """One channel in some groups of the layer, read with the loop time each message arrived at."""

    layer: Any
    channel: str
    t0: float

    async def collect(self, until: float) -> list[tuple[float, dict]]:
        """Messages arriving before `until` seconds after t0, as (seconds after t0, message)."""
        loop = asyncio.get_running_loop()
        got = []
        while (remaining := self.t0 + until - loop.time()) > 0:
            try:
                message = await asyncio.wait_for(self.layer.receive(self.channel), remaining)
            except TimeoutError:
                break
            got.append((round(loop.time() - self.t0, 6), message))
        return got


async def _listen(layer, *groups: str) -> _Listener:
    return _Listener(layer, await _channel_in(layer, *groups), asyncio.get_running_loop().time())


def _start(until: float, *listeners: _Listener) -> asyncio.Task:
    """Start reading the listeners now, so each message is stamped with its true arrival time."""
    return asyncio.ensure_future(asyncio.gather(*(listener.collect(until) for listener in listeners)))


async def _queued(layer, channel: str) -> list[dict]:
    """Messages already waiting on `channel`, without waiting for more."""
    messages = []
    while channel in layer.channels:  # InMemoryChannelLayer drops a channel's queue once it is empty
        messages.append(await layer.receive(channel))
    return messages


async def _channel_in(layer, *groups: str) -> str:
    channel = await layer.new_channel()
    for group in groups:
        await layer.group_add(group, channel)
    return channel


class _SendLog:
    """The start and end of each group_send, in order, from whichever thread sent it."""

    def __init__(self) -> None:
        self.entries: list[tuple] = []
        self._changed = threading.Condition()

    def add(self, *entry: Any) -> None:
        with self._changed:
            self.entries.append(entry)
            self._changed.notify_all()

    def wait_for_sends(self, count: int, timeout: float = 2.0) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self._ends() >= count, timeout)

    def _ends(self) -> int:
        return sum(1 for entry in self.entries if entry[0] == "end")


def _record_sends(monkeypatch, layer, delays: dict[str, float] | None = None) -> _SendLog:
    """Log each group_send of the real layer, delaying the groups named in `delays` (loop time)."""
    log = _SendLog()
    original = layer.group_send

    async def group_send(group: str, message: dict) -> None:
        step = (group, message["type"], message["data"].get("sequence"))
        log.add("start", *step)
        await asyncio.sleep((delays or {}).get(group, 0))
        await original(group, message)
        log.add("end", *step)

    monkeypatch.setattr(layer, "group_send", group_send)
    return log


def _sends(*steps: tuple) -> list[tuple]:
    """The log of `steps` sent one after another, never overlapping."""
    return [entry for step in steps for entry in (("start", *step), ("end", *step))]


@pytest.fixture
def layer(settings):
    """A fresh InMemoryChannelLayer as the default layer, with the 100 ms window."""
    settings.SCORE_BATCH_WINDOW_MS = 100
    # Changing CHANNEL_LAYERS makes channels drop its cached layers, so this test gets a new one.
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    channel_layer = get_channel_layer()
    yield channel_layer
    async_to_sync(channel_layer.flush)()


def _report(score1: int, score2: int = 0, *, match: int | str = MATCH) -> None:
    utils.broadcast_score_updated_batched(TOURNAMENT, match, {"score1": score1, "score2": score2})


@pytest.mark.looptime
class TestBatchCoalescing:
    async def test_burst_sends_only_the_latest_payload_once_to_each_group(self, layer):
        """Five updates 10 ms apart become one score_updated per group, carrying the last one."""
        match, tournament = await _listen(layer, "match_7"), await _listen(layer, "tournament_3")
        collecting = _start(1.0, match, tournament)
        for score in [10, 11, 12, 13, 14]:
            _report(score)
            await asyncio.sleep(0.01)
        # The last update came at 0.04 s, so its window closes at 0.14 s.
        assert await collecting == [[(0.14, _score(14, sequence=1))]] * 2

    async def test_sequences_strictly_increase_across_batches(self, layer):
        """Three batches half a second apart carry sequences 1, 2, 3."""
        match = await _listen(layer, "match_7")
        collecting = _start(2.0, match)
        for score in [1, 2, 3]:
            _report(score)
            await asyncio.sleep(0.5)
        expected = [(0.1, _score(1, sequence=1)), (0.6, _score(2, sequence=2)), (1.1, _score(3, sequence=3))]
        assert await collecting == [expected]

    async def test_update_inside_the_window_restarts_it(self, layer):
        """An update at 80 ms moves the send from 100 ms to 180 ms, with the newer score."""
        match = await _listen(layer, "match_7")
        collecting = _start(1.0, match)
        _report(1)
        await asyncio.sleep(0.08)
        _report(2)
        assert await collecting == [[(0.18, _score(2, sequence=1))]]

    async def test_window_is_read_from_settings_at_call_time(self, layer, settings):
        """A 250 ms window, then a 40 ms one, each taken when the update is queued."""
        match = await _listen(layer, "match_7")
        collecting = _start(1.0, match)
        settings.SCORE_BATCH_WINDOW_MS = 250
        _report(1)
        await asyncio.sleep(0.3)
        settings.SCORE_BATCH_WINDOW_MS = 40
        _report(2)
        assert await collecting == [[(0.25, _score(1, sequence=1)), (0.34, _score(2, sequence=2))]]

    async def test_payload_is_copied_when_queued(self, layer):
        """Changing the caller's dict after the call does not change what is sent."""
        match = await _listen(layer, "match_7")
        collecting = _start(1.0, match)
        data = {"score1": 1, "score2": 0}
        utils.broadcast_score_updated_batched(TOURNAMENT, MATCH, data)
        data["score1"] = 99
        assert await collecting == [[(0.1, _score(1, sequence=1))]]

    async def test_string_and_int_ids_of_one_match_share_a_batch(self, layer):
        """Updates for match "7" and match 7 coalesce into one send."""
        match = await _listen(layer, "match_7")
        collecting = _start(1.0, match)
        _report(1, match="7")
        _report(2, match=7)
        assert await collecting == [[(0.1, _score(2, sequence=1))]]


@pytest.mark.looptime
class TestTerminalFlushAndCancellation:
    async def test_match_completed_flushes_the_pending_score_first(self, layer):
        """At completion the pending score goes out at once, before match_completed, in both groups."""
        match, tournament = await _listen(layer, "match_7"), await _listen(layer, "tournament_3")
        collecting = _start(1.0, match, tournament)
        _report(5, 3)
        await asyncio.sleep(0.03)
        await utils.broadcast_match_completed(TOURNAMENT, MATCH, {"winner_id": 42})
        expected = [(0.03, _score(5, 3, sequence=1)), (0.03, _completed(42))]
        assert await collecting == [expected, expected]

    async def test_match_completed_without_pending_score_sends_only_the_completion(self, layer):
        """An empty batch at completion sends no score_updated, and the last one is not repeated."""
        match = await _listen(layer, "match_7")
        collecting = _start(1.0, match)
        _report(5, 3)
        await asyncio.sleep(0.5)
        await utils.broadcast_match_completed(TOURNAMENT, MATCH, {"winner_id": 42})
        assert await collecting == [[(0.1, _score(5, 3, sequence=1)), (0.5, _completed(42))]]

    async def test_cancel_drops_the_pending_score(self, layer):
        """After cancel_pending_score_batches nothing is sent for the match."""
        match, tournament = await _listen(layer, "match_7"), await _listen(layer, "tournament_3")
        collecting = _start(1.0, match, tournament)
        _report(1)
        await asyncio.sleep(0.05)
        utils.cancel_pending_score_batches(MATCH)
        assert await collecting == [[], []]

    async def test_cancel_keeps_the_sequence_counting(self, layer):
        """A batch after a cancelled one continues the match's sequence."""
        match = await _listen(layer, "match_7")
        collecting = _start(1.0, match)
        _report(1)
        await asyncio.sleep(0.2)
        _report(2)
        utils.cancel_pending_score_batches(str(MATCH))
        await asyncio.sleep(0.1)
        _report(3)
        assert await collecting == [[(0.1, _score(1, sequence=1)), (0.4, _score(3, sequence=2))]]

    async def test_cancel_of_a_match_without_batches_changes_nothing(self, layer):
        """Cancelling an unknown match leaves other matches' batches alone."""
        match = await _listen(layer, "match_7")
        collecting = _start(1.0, match)
        _report(1)
        utils.cancel_pending_score_batches(99)
        assert await collecting == [[(0.1, _score(1, sequence=1))]]

    async def test_cancel_while_a_flush_waits_for_the_lock_sends_nothing(self, layer, monkeypatch):
        """A window that closed behind a slow flush finds its batch cancelled and sends nothing."""
        log = _record_sends(monkeypatch, layer, delays={"match_7": 0.3})
        match = await _listen(layer, "match_7")
        collecting = _start(2.0, match)
        _report(1)  # flushed at 0.1 s, holding the lock until 0.4 s
        await asyncio.sleep(0.15)
        _report(2)  # window closes at 0.25 s; that flush waits for the lock
        await asyncio.sleep(0.15)
        utils.cancel_pending_score_batches(MATCH)
        assert await collecting == [[(0.4, _score(1, sequence=1))]]
        assert log.entries == _sends(("match_7", "score_updated", 1), ("tournament_3", "score_updated", 1))

    async def test_reset_batching_state_drops_pending_batches_and_sequences(self, layer):
        """After reset nothing pending is sent and sequences start again at 1."""
        match = await _listen(layer, "match_7")
        collecting = _start(1.0, match)
        _report(1)
        await asyncio.sleep(0.2)
        _report(2)
        utils.reset_batching_state()
        await asyncio.sleep(0.2)
        _report(3)
        assert await collecting == [[(0.1, _score(1, sequence=1)), (0.5, _score(3, sequence=1))]]

    async def test_a_flush_is_held_while_it_sends_and_let_go_when_done(self, layer, monkeypatch):
        """The loop keeps only weak references to tasks: the batching state holds each flush until it ends."""
        _record_sends(monkeypatch, layer, delays={"match_7": 0.3})
        state = utils._state_for(asyncio.get_running_loop())
        _report(1)
        await asyncio.sleep(0.2)  # the flush started at 0.1 s and sends until 0.4 s
        (flush,) = state.tasks
        assert not flush.done()
        await asyncio.sleep(0.4)
        assert flush.done() and state.tasks == set()


@pytest.mark.looptime
class TestPerMatchLocksAndConcurrency:
    async def test_completion_waits_for_the_in_flight_flush_of_its_match(self, layer, monkeypatch):
        """Sends of a flush, the terminal flush and the completion never interleave."""
        log = _record_sends(monkeypatch, layer, delays={"match_7": 0.05, "tournament_3": 0.05})
        match = await _listen(layer, "match_7")
        collecting = _start(1.0, match)
        _report(1)  # flushed at 0.1 s; its two sends last until 0.2 s
        await asyncio.sleep(0.12)
        _report(2)
        await asyncio.sleep(0.01)
        await utils.broadcast_match_completed(TOURNAMENT, MATCH, {"winner_id": 42})
        assert log.entries == _sends(
            ("match_7", "score_updated", 1),
            ("tournament_3", "score_updated", 1),
            ("match_7", "score_updated", 2),
            ("tournament_3", "score_updated", 2),
            ("match_7", "match_completed", None),
            ("tournament_3", "match_completed", None),
        )
        expected = [(0.15, _score(1, sequence=1)), (0.25, _score(2, sequence=2)), (0.35, _completed(42))]
        assert await collecting == [expected]

    async def test_update_during_a_slow_flush_gets_its_own_full_window(self, layer, monkeypatch):
        """A window closing behind a slow flush defers to a newer update, sent once, a window later."""
        _record_sends(monkeypatch, layer, delays={"match_7": 0.3})
        match, tournament = await _listen(layer, "match_7"), await _listen(layer, "tournament_3")
        collecting = _start(2.0, match, tournament)
        _report(1)  # flushed at 0.1 s, holding the lock until 0.4 s
        await asyncio.sleep(0.15)
        _report(2)  # its window closes at 0.25 s, and its flush waits for the lock
        await asyncio.sleep(0.2)
        _report(3)  # re-arms the window (0.45 s) before that flush gets the lock
        expected = [(0.4, _score(1, sequence=1)), (0.75, _score(3, sequence=2))]
        assert await collecting == [expected, expected]

    async def test_matches_batch_independently(self, layer):
        """Interleaved updates of two matches give each its own latest score, window and sequence."""
        tournament = await _listen(layer, "tournament_3")
        collecting = _start(1.0, tournament)
        _report(1, match=7)
        await asyncio.sleep(0.02)
        _report(5, match=8)
        await asyncio.sleep(0.03)
        _report(2, match=7)
        expected = [(0.12, _score(5, match=8, sequence=1)), (0.15, _score(2, match=7, sequence=1))]
        assert await collecting == [expected]

    async def test_slow_flush_of_one_match_does_not_delay_another(self, layer, monkeypatch):
        """Match 8 is delivered at 0.1 s while match 7's send takes a second."""
        _record_sends(monkeypatch, layer, delays={"match_7": 1.0})
        match7, match8 = await _listen(layer, "match_7"), await _listen(layer, "match_8")
        tournament = await _listen(layer, "tournament_3")
        collecting = _start(2.0, match7, match8, tournament)
        _report(1, match=7)
        _report(5, match=8)
        assert await collecting == [
            [(1.1, _score(1, match=7, sequence=1))],
            [(0.1, _score(5, match=8, sequence=1))],
            [(0.1, _score(5, match=8, sequence=1)), (1.1, _score(1, match=7, sequence=1))],
        ]

    async def test_each_event_loop_keeps_its_own_batches_and_sequences(self, layer):
        """A batch on another loop starts at sequence 1 and leaves this loop's sequence alone."""
        channel = await _channel_in(layer, "match_7")
        _report(1)
        await asyncio.sleep(0.2)
        assert await _queued(layer, channel) == [_score(1, sequence=1)]

        async def other_loop() -> None:
            _report(2)
            await utils.broadcast_match_completed(TOURNAMENT, MATCH, {"winner_id": 42})

        thread = threading.Thread(target=asyncio.run, args=(other_loop(),))
        thread.start()
        thread.join(timeout=2)
        assert not thread.is_alive()
        assert await _queued(layer, channel) == [_score(2, sequence=1), _completed(42)]
        _report(3)
        await asyncio.sleep(0.2)
        assert await _queued(layer, channel) == [_score(3, sequence=2)]


def _failing_group(monkeypatch, layer, failing: str) -> None:
    original = layer.group_send

    async def group_send(group: str, message: dict) -> None:
        if group == failing:
            raise ConnectionError("layer down")
        await original(group, message)

    monkeypatch.setattr(layer, "group_send", group_send)


def _errors(caplog) -> list[tuple[str, int, str]]:
    return [(r.name, r.levelno, r.getMessage()) for r in caplog.records if r.name == LOGGER]


class TestErrorHandlingAndEdgeCases:
    @pytest.mark.looptime
    async def test_failed_score_send_is_logged_and_the_other_group_still_gets_it(
        self, layer, monkeypatch, caplog
    ):
        """A group_send that raises is logged; the tournament group and later batches go on."""
        _failing_group(monkeypatch, layer, "match_7")
        tournament = await _listen(layer, "tournament_3")
        collecting = _start(1.0, tournament)
        _report(1)
        await asyncio.sleep(0.5)
        _report(2)
        assert await collecting == [[(0.1, _score(1, sequence=1)), (0.6, _score(2, sequence=2))]]
        failure = (LOGGER, logging.ERROR, "channel layer group_send of 'score_updated' to match_7 failed")
        assert _errors(caplog) == [failure, failure]
        assert all(isinstance(r.exc_info[1], ConnectionError) for r in caplog.records if r.name == LOGGER)

    async def test_failed_plain_broadcasts_are_logged_not_raised(self, layer, monkeypatch, caplog):
        """broadcast_tournament_event and broadcast_match_event swallow and log a layer failure."""
        monkeypatch.setattr(layer, "group_send", _raise_connection_error)
        await utils.broadcast_tournament_event(TOURNAMENT, "bracket_updated", {"round": 2})
        await utils.broadcast_match_event(MATCH, "match_started", {"match_id": MATCH})
        assert _errors(caplog) == [
            (LOGGER, logging.ERROR, "channel layer group_send of 'bracket_updated' to tournament_3 failed"),
            (LOGGER, logging.ERROR, "channel layer group_send of 'match_started' to match_7 failed"),
        ]

    async def test_plain_broadcasts_reach_only_their_group(self, layer):
        """A tournament event reaches the tournament group, a match event the match group, unchanged."""
        match = await _channel_in(layer, "match_7")
        tournament = await _channel_in(layer, "tournament_3")
        await utils.broadcast_tournament_event(TOURNAMENT, "bracket_updated", {"round": 2})
        await utils.broadcast_match_event(MATCH, "match.started", {"match_id": MATCH})
        assert await _queued(layer, tournament) == [{"type": "bracket_updated", "data": {"round": 2}}]
        assert await _queued(layer, match) == [{"type": "match.started", "data": {"match_id": MATCH}}]

    async def test_send_error_to_channel_delivers_an_error_event(self, layer):
        """The consumer's channel gets {"type": "error", "data": {code, message}}."""
        channel = await layer.new_channel()
        await utils.send_error_to_channel(channel, "rate_limited", "slow down")
        error = {"type": "error", "data": {"code": "rate_limited", "message": "slow down"}}
        assert await _queued(layer, channel) == [error]

    async def test_failed_send_error_to_channel_is_logged_not_raised(self, layer, monkeypatch, caplog):
        """A channel send that raises is logged with the channel's name."""
        monkeypatch.setattr(layer, "send", _raise_connection_error)
        await utils.send_error_to_channel("specific.inmemory!abc", "rate_limited", "slow down")
        message = "channel layer send of 'error' to specific.inmemory!abc failed"
        assert _errors(caplog) == [(LOGGER, logging.ERROR, message)]

    async def test_missing_channel_layer_is_logged_not_raised(self, settings, caplog):
        """With no layer configured a broadcast logs a warning and returns."""
        settings.CHANNEL_LAYERS = {}
        await utils.broadcast_match_event(MATCH, "match_started", {"match_id": MATCH})
        message = "no channel layer configured; 'match_started' to match_7 dropped"
        assert _errors(caplog) == [(LOGGER, logging.WARNING, message)]

    def test_group_names(self):
        """Groups are tournament_<id> and match_<id>."""
        assert (utils.tournament_group(3), utils.match_group("7")) == ("tournament_3", "match_7")


async def _raise_connection_error(*args: Any) -> None:
    raise ConnectionError("layer down")


class TestCallsFromSyncCode:
    @pytest.mark.looptime
    async def test_sync_to_async_caller_batches_on_the_outer_loop_without_waiting(self, layer, settings):
        """A sync view's thread returns at once; the 10 s window runs on the server loop."""
        settings.SCORE_BATCH_WINDOW_MS = 10_000
        match = await _listen(layer, "match_7")
        collecting = _start(30.0, match)
        await sync_to_async(_report)(1)
        returned_at = round(asyncio.get_running_loop().time() - match.t0, 6)
        assert returned_at < 10.0
        assert await collecting == [[(10.0, _score(1, sequence=1))]]

    @pytest.mark.looptime
    async def test_view_style_completion_flushes_the_outer_loop_batch(self, layer):
        """async_to_sync(broadcast_match_completed) in a sync view sends the pending score first."""
        match, tournament = await _listen(layer, "match_7"), await _listen(layer, "tournament_3")
        collecting = _start(1.0, match, tournament)

        def view() -> None:
            _report(5, 3)
            async_to_sync(utils.broadcast_match_completed)(TOURNAMENT, MATCH, {"winner_id": 42})

        await sync_to_async(view)()
        expected = [(0.0, _score(5, 3, sequence=1)), (0.0, _completed(42))]
        assert await collecting == [expected, expected]

    @pytest.mark.looptime
    async def test_sync_wrappers_reach_the_outer_loop_and_the_loop_thread(self, layer):
        """The *_sync wrappers deliver from a sync_to_async thread and from the loop's own thread."""
        match, tournament = await _listen(layer, "match_7"), await _listen(layer, "tournament_3")
        collecting = _start(1.0, match, tournament)
        await sync_to_async(utils.broadcast_match_event_sync)(MATCH, "match_started", {"n": 1})
        utils.broadcast_tournament_event_sync(TOURNAMENT, "bracket_updated", {"n": 2})
        _report(1)
        utils.broadcast_match_completed_sync(TOURNAMENT, MATCH, {"winner_id": 42})
        assert await collecting == [
            [
                (0.0, {"type": "match_started", "data": {"n": 1}}),
                (0.0, _score(1, sequence=1)),
                (0.0, _completed(42)),
            ],
            [
                (0.0, {"type": "bracket_updated", "data": {"n": 2}}),
                (0.0, _score(1, sequence=1)),
                (0.0, _completed(42)),
            ],
        ]

    def test_plain_thread_returns_at_once_and_the_background_loop_delivers(
        self, layer, settings, monkeypatch
    ):
        """With no loop anywhere the call returns inside a 60 s window; completion then flushes it."""
        settings.SCORE_BATCH_WINDOW_MS = 60_000
        log = _record_sends(monkeypatch, layer)
        channel = async_to_sync(_channel_in)(layer, "match_71")
        caller = threading.Thread(target=_report, args=(1,), kwargs={"match": 71})
        caller.start()
        caller.join(timeout=2)
        assert not caller.is_alive()
        assert log.entries == []
        utils.broadcast_match_completed_sync(TOURNAMENT, 71, {"winner_id": 42})
        assert log.entries == _sends(
            ("match_71", "score_updated", 1),
            ("tournament_3", "score_updated", 1),
            ("match_71", "match_completed", None),
            ("tournament_3", "match_completed", None),
        )
        expected = [_score(1, match=71, sequence=1), _completed(42, match=71)]
        assert async_to_sync(_queued)(layer, channel) == expected

    def test_plain_thread_batch_is_sent_when_the_window_closes(self, layer, settings, monkeypatch):
        """The background loop's own timer sends the batch, with no completion to force it."""
        settings.SCORE_BATCH_WINDOW_MS = 10
        log = _record_sends(monkeypatch, layer)
        channel = async_to_sync(_channel_in)(layer, "match_72")
        caller = threading.Thread(target=_report, args=(4,), kwargs={"match": 72})
        caller.start()
        assert log.wait_for_sends(2)
        caller.join(timeout=2)
        assert log.entries == _sends(("match_72", "score_updated", 1), ("tournament_3", "score_updated", 1))
        assert async_to_sync(_queued)(layer, channel) == [_score(4, match=72, sequence=1)]

    def test_cancel_from_a_plain_thread_drops_the_background_batch(self, layer, settings, monkeypatch):
        """Cancelling where no loop runs reaches the background loop's pending batch."""
        settings.SCORE_BATCH_WINDOW_MS = 60_000
        log = _record_sends(monkeypatch, layer)
        _report(1, match=73)
        utils.cancel_pending_score_batches(73)
        utils.broadcast_match_completed_sync(TOURNAMENT, 73, {"winner_id": 42})
        completion = [("match_73", "match_completed", None), ("tournament_3", "match_completed", None)]
        assert log.entries == _sends(*completion)

    def test_completion_on_a_temporary_loop_flushes_the_background_batch_first(
        self, layer, settings, monkeypatch
    ):
        """async_to_sync(broadcast_match_completed) in a command sends that match's queued score first."""
        settings.SCORE_BATCH_WINDOW_MS = 60_000
        log = _record_sends(monkeypatch, layer)
        _report(1, match=74)  # no loop here: queued on the background loop
        async_to_sync(utils.broadcast_match_completed)(TOURNAMENT, 76, {"winner_id": 43})
        async_to_sync(utils.broadcast_match_completed)(TOURNAMENT, 74, {"winner_id": 42})
        assert log.entries == _sends(
            ("match_76", "match_completed", None),
            ("tournament_3", "match_completed", None),
            ("match_74", "score_updated", 1),
            ("tournament_3", "score_updated", 1),
            ("match_74", "match_completed", None),
            ("tournament_3", "match_completed", None),
        )

    def test_pending_background_batches_are_sent_at_exit(self, layer, settings, monkeypatch):
        """The exit hook sends what is still queued on the background loop."""
        settings.SCORE_BATCH_WINDOW_MS = 60_000
        log = _record_sends(monkeypatch, layer)
        _report(1, match=75)
        assert log.entries == []
        utils._drain_background(utils._background_loop())  # what atexit runs
        assert log.entries == _sends(("match_75", "score_updated", 1), ("tournament_3", "score_updated", 1))

    def test_exit_hook_skips_a_loop_that_is_not_running(self, caplog):
        """The exit hook returns at once for a loop that no longer runs, logging nothing."""
        loop = asyncio.new_event_loop()
        try:
            utils._drain_background(loop)
        finally:
            loop.close()
        assert _errors(caplog) == []

    def test_exit_hook_gives_up_on_a_stuck_send_with_a_warning(self, layer, settings, monkeypatch, caplog):
        """A batch still sending when the exit budget runs out is logged, not waited for."""
        settings.SCORE_BATCH_WINDOW_MS = 60_000
        monkeypatch.setattr(utils, "_EXIT_DRAIN_SECONDS", 0.001)
        log = _record_sends(monkeypatch, layer)
        release = threading.Event()
        recorded_send = layer.group_send

        async def stuck_send(group: str, message: dict) -> None:
            await asyncio.to_thread(release.wait, 2)  # held until the test lets go, loop still free
            await recorded_send(group, message)

        monkeypatch.setattr(layer, "group_send", stuck_send)
        _report(1, match=77)
        utils._drain_background(utils._background_loop())
        message = "pending score batches not sent within 0.001s of exit"
        assert _errors(caplog) == [(LOGGER, logging.WARNING, message)]
        assert log.entries == []
        release.set()
        assert log.wait_for_sends(2)  # the send itself still finishes on the background loop

    def test_the_background_loop_registers_its_own_exit_drain(self, layer, settings, monkeypatch):
        """Started on first use, the background loop has atexit send what it still holds at exit."""
        settings.SCORE_BATCH_WINDOW_MS = 60_000
        log = _record_sends(monkeypatch, layer)
        hooks: list[tuple] = []
        monkeypatch.setattr(atexit, "register", lambda func, *args: hooks.append((func, args)))
        monkeypatch.setattr(utils, "_background", None)  # a background loop of this test's own
        before = set(threading.enumerate())
        _report(1, match=81)
        (thread,) = set(threading.enumerate()) - before
        loop = utils._background
        try:
            ((hook, args),) = hooks
            hook(*args)  # what the interpreter runs at exit
            assert log.entries == _sends(
                ("match_81", "score_updated", 1), ("tournament_3", "score_updated", 1)
            )
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=2)
            loop.close()

    def test_reset_drops_the_background_loop_batches_in_its_own_thread(self, layer, settings, monkeypatch):
        """reset_batching_state reaches the background loop: its timer is cancelled there, nothing is sent."""
        settings.SCORE_BATCH_WINDOW_MS = 60_000
        log = _record_sends(monkeypatch, layer)
        _report(1, match=78)  # no loop here: queued on the background loop
        background = utils._background_loop(create=False)
        queued = utils._state_for(background).batch(78)
        utils.reset_batching_state()
        asyncio.run_coroutine_threadsafe(asyncio.sleep(0), background).result(timeout=2)  # its turn came
        assert (queued.pending, queued.handle) == (None, None)  # the send due in 60 s will not happen
        async_to_sync(utils.broadcast_match_completed)(TOURNAMENT, 78, {"winner_id": 42})
        completion = [("match_78", "match_completed", None), ("tournament_3", "match_completed", None)]
        assert log.entries == _sends(*completion)

    @pytest.mark.looptime
    async def test_completion_in_a_loop_starts_no_background_loop(self, layer, monkeypatch):
        """A completion where nothing was ever queued off-loop has no background batch to wait for."""
        monkeypatch.setattr(utils, "_background", None)
        await utils.broadcast_match_completed(TOURNAMENT, MATCH, {"winner_id": 42})
        assert utils._background is None

    def test_cancel_where_no_loop_ever_ran_starts_no_background_loop(self, monkeypatch):
        """Cancelling with nothing ever queued off-loop does not start the background thread."""
        monkeypatch.setattr(utils, "_background", None)
        utils.cancel_pending_score_batches(MATCH)
        assert utils._background is None
