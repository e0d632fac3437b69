"""Channel-layer broadcasts for tournaments and matches, with per-match score batching."""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings

logger = logging.getLogger(__name__)

__all__ = [
    "broadcast_match_and_tournament_event",
    "broadcast_match_and_tournament_event_sync",
    "broadcast_match_completed",
    "broadcast_match_completed_sync",
    "broadcast_match_event",
    "broadcast_match_event_sync",
    "broadcast_score_updated_batched",
    "broadcast_tournament_event",
    "broadcast_tournament_event_sync",
    "cancel_pending_score_batches",
    "match_group",
    "reset_batching_state",
    "send_error_to_channel",
    "tournament_group",
]

Id = int | str

# How long the interpreter may spend at exit sending batches still pending on the background loop.
_EXIT_DRAIN_SECONDS = 5.0


def tournament_group(tournament_id: Id) -> str:
    return f"tournament_{tournament_id}"


def match_group(match_id: Id) -> str:
    return f"match_{match_id}"


# -- plain sends ----------------------------------------------------------------------------------


async def _group_send(group: str, event_type: str, data: dict) -> None:
    # Consumers name their handler after `type` ("a.b" → a_b); Channels does that mapping itself.
    await _layer_call("group_send", group, {"type": event_type, "data": data})


async def _layer_call(method: str, target: str, message: dict) -> None:
    # A broadcast is a side effect of something that already happened (a saved score, a state
    # change); a layer outage must not turn that into an error for the caller, so log and go on.
    try:
        layer = get_channel_layer()
        if layer is None:
            logger.warning("no channel layer configured; %r to %s dropped", message["type"], target)
            return
        await getattr(layer, method)(target, message)
    except Exception:
        logger.exception("channel layer %s of %r to %s failed", method, message["type"], target)


async def broadcast_tournament_event(tournament_id: Id, event_type: str, data: dict) -> None:
    """Send `{"type": event_type, "data": data}` to the tournament's group; failures are logged."""
    await _group_send(tournament_group(tournament_id), event_type, data)


async def broadcast_match_event(match_id: Id, event_type: str, data: dict) -> None:
    """Send `{"type": event_type, "data": data}` to the match's group; failures are logged."""
    await _group_send(match_group(match_id), event_type, data)


async def send_error_to_channel(channel_name: str, code: str, message: str) -> None:
    """Send `{"type": "error", "data": {"code", "message"}}` to one consumer's channel."""
    await _layer_call("send", channel_name, {"type": "error", "data": {"code": code, "message": message}})


async def broadcast_match_and_tournament_event(
    tournament_id: Id, match_id: Id, event_type: str, data: dict
) -> None:
    """Send the event to the match's group, then to its tournament's group; failures are logged."""
    # Match group first: its clients are the ones watching this match most closely.
    await broadcast_match_event(match_id, event_type, data)
    await broadcast_tournament_event(tournament_id, event_type, data)


# -- batching state, one per event loop ------------------------------------------------------------


@dataclass(eq=False)
class _MatchBatch:
    """One match's batching state; touched only from its loop's thread."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    sequence: int = 0
    tournament_id: Id | None = None
    match_id: Id | None = None
    pending: dict | None = None
    handle: asyncio.TimerHandle | None = None

    def cancel_timer(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None

    def drop_pending(self) -> None:
        self.cancel_timer()
        self.pending = None


@dataclass(eq=False)
class _LoopState:
    """Batches and in-flight flush tasks of one event loop."""

    batches: dict[str, _MatchBatch] = field(default_factory=dict)
    tasks: set[asyncio.Task] = field(default_factory=set)

    def batch(self, match_id: Id) -> _MatchBatch:
        # "7" from a URL and 7 from the database are the same match and the same group.
        return self.batches.setdefault(str(match_id), _MatchBatch())

    def spawn(self, loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, None]) -> None:
        task = loop.create_task(coro)
        self.tasks.add(task)  # the loop keeps only a weak reference to tasks
        task.add_done_callback(self.tasks.discard)

    def drop_all(self) -> None:
        for batch in self.batches.values():
            batch.drop_pending()
        self.batches.clear()


# Keyed by loop so each loop (a server's, the background one, each test's) has its own timers and
# locks, which are bound to one loop. Closed loops are pruned on access rather than weakly keyed:
# the state's locks and handles refer back to their loop, which would keep a weak key alive.
_states: dict[asyncio.AbstractEventLoop, _LoopState] = {}
_states_lock = threading.Lock()


def _state_for(loop: asyncio.AbstractEventLoop) -> _LoopState:
    with _states_lock:
        for closed in [other for other in _states if other.is_closed()]:
            del _states[closed]
        return _states.setdefault(loop, _LoopState())


def reset_batching_state() -> None:
    """Drop every loop's pending batches, timers and sequences (for tests)."""
    with _states_lock:
        states = list(_states.items())
        _states.clear()
    current = _running_loop()
    for loop, state in states:
        if loop is current or not loop.is_running():
            state.drop_all()
        else:  # timers belong to that loop's thread; let it cancel them
            loop.call_soon_threadsafe(state.drop_all)


# -- batching on the current loop (all of this runs in the loop's own thread) ---------------------


def _schedule_on(loop: asyncio.AbstractEventLoop, tournament_id: Id, match_id: Id, data: dict) -> None:
    state = _state_for(loop)
    batch = state.batch(match_id)
    batch.pending = dict(data)  # latest wins; copied so the caller may reuse its dict
    batch.tournament_id, batch.match_id = tournament_id, match_id
    batch.cancel_timer()  # an update inside the window restarts it
    delay = settings.SCORE_BATCH_WINDOW_MS / 1000
    batch.handle = loop.call_later(delay, _window_elapsed, loop, state, batch)


def _window_elapsed(loop: asyncio.AbstractEventLoop, state: _LoopState, batch: _MatchBatch) -> None:
    batch.handle = None
    state.spawn(loop, _flush_after_window(batch))


async def _flush_after_window(batch: _MatchBatch) -> None:
    async with batch.lock:
        # An update that came while we waited for the lock re-armed the window; its timer sends.
        if batch.handle is None:
            await _flush_locked(batch)


async def _flush_locked(batch: _MatchBatch) -> None:
    """Send the pending score, if any, with the match's next sequence; caller holds batch.lock."""
    payload = batch.pending
    batch.drop_pending()
    if payload is None:
        return
    batch.sequence += 1
    ids = {"match_id": batch.match_id, "tournament_id": batch.tournament_id}
    data = {**payload, **ids, "sequence": batch.sequence}
    await broadcast_match_and_tournament_event(batch.tournament_id, batch.match_id, "score_updated", data)


async def _flush_match_here(match_id: Id) -> None:
    batch = _state_for(asyncio.get_running_loop()).batch(match_id)
    async with batch.lock:
        await _flush_locked(batch)


async def _schedule_here(tournament_id: Id, match_id: Id, data: dict) -> None:
    _schedule_on(asyncio.get_running_loop(), tournament_id, match_id, data)


async def _cancel_here(match_id: Id) -> None:
    _cancel_on(asyncio.get_running_loop(), match_id)


def _cancel_on(loop: asyncio.AbstractEventLoop, match_id: Id) -> None:
    batch = _state_for(loop).batches.get(str(match_id))
    if batch is not None:
        batch.drop_pending()  # the sequence stays: later batches still count up


async def _flush_all_here() -> None:
    for batch in list(_state_for(asyncio.get_running_loop()).batches.values()):
        async with batch.lock:
            await _flush_locked(batch)


# -- public batching API ----------------------------------------------------------------------------


def broadcast_score_updated_batched(tournament_id: Id, match_id: Id, data: dict) -> None:
    """Queue a `score_updated` for the match; within the window the latest update wins.

    After `settings.SCORE_BATCH_WINDOW_MS` without a newer update, one `score_updated` goes to
    the match group and then the tournament group, its data being `data` plus `match_id`,
    `tournament_id` and `sequence` (1, 2, 3, … per match). Callable from async and sync code;
    it never waits for the window.
    """
    loop = _running_loop()
    if loop is not None:
        _schedule_on(loop, tournament_id, match_id, data)
    else:
        _run_off_loop(_schedule_here, tournament_id, match_id, data)


async def broadcast_match_completed(tournament_id: Id, match_id: Id, data: dict) -> None:
    """Send the match's pending score now, then `match_completed` to the match and tournament groups.

    The completion's data is `data` plus `match_id` and `tournament_id`.
    """
    await _flush_background_batch(match_id)
    batch = _state_for(asyncio.get_running_loop()).batch(match_id)
    async with batch.lock:  # held across both, so an in-flight flush finishes before the completion
        await _flush_locked(batch)
        ids = {"match_id": match_id, "tournament_id": tournament_id}
        await broadcast_match_and_tournament_event(
            tournament_id, match_id, "match_completed", {**data, **ids}
        )


def cancel_pending_score_batches(match_id: Id) -> None:
    """Drop the match's pending score and its timer: nothing more is sent for what was queued."""
    loop = _running_loop()
    if loop is not None:
        _cancel_on(loop, match_id)
    else:
        _run_off_loop(_cancel_here, match_id, start_background=False)


def broadcast_tournament_event_sync(tournament_id: Id, event_type: str, data: dict) -> None:
    """`broadcast_tournament_event` for sync code; returns once sent (see `_call_from_sync`)."""
    _call_from_sync(broadcast_tournament_event, tournament_id, event_type, data)


def broadcast_match_event_sync(match_id: Id, event_type: str, data: dict) -> None:
    """`broadcast_match_event` for sync code; returns once sent (see `_call_from_sync`)."""
    _call_from_sync(broadcast_match_event, match_id, event_type, data)


def broadcast_match_and_tournament_event_sync(
    tournament_id: Id, match_id: Id, event_type: str, data: dict
) -> None:
    """`broadcast_match_and_tournament_event` for sync code; returns once sent (see `_call_from_sync`)."""
    _call_from_sync(broadcast_match_and_tournament_event, tournament_id, match_id, event_type, data)


def broadcast_match_completed_sync(tournament_id: Id, match_id: Id, data: dict) -> None:
    """`broadcast_match_completed` for sync code; returns once sent (see `_call_from_sync`)."""
    _call_from_sync(broadcast_match_completed, tournament_id, match_id, data)


# -- reaching a loop from sync code -----------------------------------------------------------------
#
# Batching needs a running loop: the window is a `loop.call_later` timer (so looptime can
# fast-forward it) and the per-match lock is an asyncio.Lock. Sync callers come in three kinds,
# and each is routed to the loop that owns its batching state:
#
# 1. Sync code in a loop's own thread (a consumer): use that loop directly. That thread cannot
#    wait for its own loop, so an async send becomes a task on it.
# 2. A sync_to_async worker of a running loop (a sync Django view under ASGI; asgiref marks such
#    threads with the loop they serve): hop onto that outer loop with async_to_sync, the way
#    Django's sync code reaches the server loop. Scores then batch beside the consumers' ones, and a
#    completion from either side flushes the same pending score. The hop only registers the update;
#    the window runs on the outer loop, never in the caller's thread.
# 3. No loop at all (a management command, a WSGI worker, a plain thread): a module-owned daemon
#    thread runs a background loop, started on first use. async_to_sync cannot serve here: with no
#    outer loop it runs the coroutine on a fresh loop that is closed on return, timer and all.
#    Batches still pending at interpreter exit are sent then, so a command that exits inside the
#    window still delivers.

_background: asyncio.AbstractEventLoop | None = None
_background_lock = threading.Lock()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _outer_loop() -> asyncio.AbstractEventLoop | None:
    """The running loop this sync_to_async worker thread serves, if any."""
    # asgiref leaves its mark on pooled threads after the call; a stale one names a stopped loop.
    loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    pid = getattr(SyncToAsync.threadlocal, "main_event_loop_pid", None)
    if loop is not None and pid == os.getpid() and loop.is_running():
        return loop
    return None


def _background_loop(create: bool = True) -> asyncio.AbstractEventLoop | None:
    global _background
    with _background_lock:
        if _background is None and create:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="target_app-broadcast-loop", daemon=True).start()
            atexit.register(_drain_background, loop)
            _background = loop
        return _background


def _run_off_loop(
    async_fn: Callable[..., Coroutine[Any, Any, None]], *args: Any, start_background: bool = True
) -> None:
    """Run `async_fn(*args)` to completion on the loop this loop-less thread routes to."""
    if _outer_loop() is not None:
        async_to_sync(async_fn)(*args)
        return
    background = _background_loop(create=start_background)
    if background is not None:
        asyncio.run_coroutine_threadsafe(async_fn(*args), background).result()


def _call_from_sync(async_fn: Callable[..., Coroutine[Any, Any, None]], *args: Any) -> None:
    loop = _running_loop()
    if loop is None:
        _run_off_loop(async_fn, *args)
    else:
        _state_for(loop).spawn(loop, async_fn(*args))


def _pending_on(loop: asyncio.AbstractEventLoop, match_id: Id) -> bool:
    with _states_lock:
        state = _states.get(loop)
    batch = state.batches.get(str(match_id)) if state is not None else None
    return batch is not None and (batch.pending is not None or batch.lock.locked())


async def _flush_background_batch(match_id: Id) -> None:
    # A score queued where no loop ran waits on the background loop; a completion sent from
    # another loop (e.g. async_to_sync's temporary one in a command) must still come after it.
    # Only hop when there is something there: the hop is a cross-thread wait.
    background = _background_loop(create=False)
    if background is None or background is asyncio.get_running_loop():
        return
    if not _pending_on(background, match_id):
        return
    await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(_flush_match_here(match_id), background))


def _drain_background(loop: asyncio.AbstractEventLoop) -> None:
    if not loop.is_running():
        return
    try:
        asyncio.run_coroutine_threadsafe(_flush_all_here(), loop).result(timeout=_EXIT_DRAIN_SECONDS)
    except FutureTimeout:
        logger.warning("pending score batches not sent within %ss of exit", _EXIT_DRAIN_SECONDS)
