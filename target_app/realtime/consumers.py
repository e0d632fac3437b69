"""WebSocket consumers: the shared realtime base class and `TournamentConsumer`."""

import asyncio
import functools
import logging
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib.auth import get_user_model

from target_app.realtime import ratelimit, utils
from target_app.realtime.protocol import (
    CLOSE_HEARTBEAT,
    CLOSE_INVALID_ID,
    CLOSE_NOT_FOUND,
    CLOSE_ORIGIN,
    CLOSE_RATE_LIMITED,
    CLOSE_UNAUTHENTICATED,
    CLOSE_UNAVAILABLE,
    MANAGERS,
    FrameError,
    error_frame,
    frame_data,
    parse_frame,
    positive_id,
    server_frame,
    user_role,
)
from target_app.realtime.tokens import INACTIVE_USER, UNKNOWN_USER
from target_app.tournaments.models import Match, Tournament

logger = logging.getLogger(__name__)

# While the channel layer (Redis) is unreachable, each connection retries its receive this often.
LAYER_RETRY_SECONDS = 1.0


_layer_down = False  # process-wide, so an outage is logged once, not once per connection


async def _receive_through_outages(receive):
    """The channel layer's `receive`, waiting out an unreachable Redis instead of raising."""
    global _layer_down
    while True:
        try:
            message = await receive()
        except ratelimit.REDIS_DOWN_ERRORS as err:
            if asyncio.current_task().cancelling():
                # Cancelled while reading: redis-py's own timeout can turn the cancellation into a
                # TimeoutError, which must not be retried as an outage (the consumer would never end).
                raise asyncio.CancelledError from err
            if not _layer_down:
                _layer_down = True
                logger.warning("channel layer unreachable (%s); open connections wait for it", err)
            await asyncio.sleep(LAYER_RETRY_SECONDS)
            continue
        if _layer_down:
            _layer_down = False
            logger.info("channel layer reachable again")
        return message


class RealtimeConsumer(AsyncWebsocketConsumer):
    """Accept-then-validate connection flow, frame parsing, heartbeat and event relay."""

    HEARTBEAT_INTERVAL = 25
    HEARTBEAT_TIMEOUT = 50
    id_kwarg = ""  # the URL kwarg holding this endpoint's id
    client_types: dict[str, str] = {"ping": "handle_ping", "pong": "handle_pong"}

    # Per-connection state; class-level defaults so `disconnect` is safe however far `connect` got.
    group_name: str | None = None
    role: str | None = None
    _closed = False
    _room_slot = False
    _joined = False
    _heartbeat_task: asyncio.Task | None = None

    # -- connection lifecycle ---------------------------------------------------------------

    @property
    def channel_receive(self):
        return self._channel_receive

    @channel_receive.setter
    def channel_receive(self, receive):
        # AsyncConsumer.__call__ sets this and hands it to await_many_dispatch, where an exception
        # (Redis stopped) would end the consumer and drop the client; wrapped, it waits the outage out.
        self._channel_receive = functools.partial(_receive_through_outages, receive)

    async def connect(self):
        self._last_seen = asyncio.get_running_loop().time()
        # A close before accept is an HTTP 403 on a real server: accept first, then explain and close.
        await self.accept()
        if not await self._admit():
            return
        self._heartbeat_task = asyncio.create_task(self._heartbeat())
        await self.send_frame("connection_established", self.welcome_data())

    async def _admit(self) -> bool:
        """Run the connection checks in protocol order; close with the first failure's code."""
        if not self.origin_allowed():
            return await self.reject(CLOSE_ORIGIN, "origin_not_allowed", "origin not allowed")
        self.object_id = positive_id(self.scope.get("url_route", {}).get("kwargs", {}).get(self.id_kwarg))
        if self.object_id is None:
            return await self.reject(
                CLOSE_INVALID_ID, "invalid_id", f"{self.id_kwarg} must be a positive integer"
            )
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            code = self.scope.get("auth_error") or "auth_required"
            return await self.reject(CLOSE_UNAUTHENTICATED, code, "authentication required")
        self.user = user
        if not await self.load_object():
            return await self.reject(
                CLOSE_NOT_FOUND, "not_found", f"{self.id_kwarg} {self.object_id} not found"
            )
        self.group_name = self.group_for(self.object_id)
        if not await ratelimit.acquire_room_slot(self.group_name):
            return await self.reject(CLOSE_RATE_LIMITED, "room_full", "this room is full")
        self._room_slot = True
        try:
            await self.channel_layer.group_add(self.group_name, self.channel_name)
        except ratelimit.REDIS_DOWN_ERRORS as err:
            logger.warning("joining %s failed: channel layer unreachable (%s)", self.group_name, err)
            await ratelimit.release_room_slot(self.group_name)
            self._room_slot = False
            return await self.reject(
                CLOSE_UNAVAILABLE, "unavailable", "live updates are unavailable; retry shortly"
            )
        self._joined = True
        return True

    async def __call__(self, scope, receive, send):
        # Channels skips disconnect() when a handler raises; the heartbeat, the group membership and
        # the room slot must be given back however the connection ends.
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._release()

    async def disconnect(self, code):
        await self._release()

    async def _release(self) -> None:
        """Stop the heartbeat, leave the group, give back the room slot; safe to call twice."""
        heartbeat, self._heartbeat_task = self._heartbeat_task, None
        if heartbeat is not None:
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)
        if self._joined:
            self._joined = False
            try:
                await self.channel_layer.group_discard(self.group_name, self.channel_name)
            except ratelimit.REDIS_DOWN_ERRORS as err:
                # Redis forgets the membership by its group expiry; the room slot below must still go back.
                logger.warning("leaving %s failed: channel layer unreachable (%s)", self.group_name, err)
        if self._room_slot:
            self._room_slot = False
            await ratelimit.release_room_slot(self.group_name)

    async def authorized(self, roles: frozenset[str], denial: str) -> bool:
        """Whether the user may act now; raises `permission_denied` (`denial`) if their role may not.

        The role is read again from the database, not kept from connect time: a demoted admin, a
        replaced participant or a deactivated user keeps no rights on a connection opened before.
        A user who is gone or inactive is closed with 4001, a match or tournament that is gone with
        4004; then this returns False.
        """
        user = await _user(self.user.pk)
        if user is None or not user.is_active:
            code = UNKNOWN_USER if user is None else INACTIVE_USER
            return await self.reject(CLOSE_UNAUTHENTICATED, code, "this account may no longer act")
        self.user = user
        if not await self.load_object():
            return await self.reject(
                CLOSE_NOT_FOUND, "not_found", f"{self.id_kwarg} {self.object_id} no longer exists"
            )
        if self.role not in roles:
            raise FrameError("permission_denied", denial)
        return True

    async def reject(self, close_code: int, error_code: str, message: str) -> bool:
        await self.send_error(error_code, message)
        await self.close(code=close_code)
        return False

    def origin_allowed(self) -> bool:
        allowed = settings.WS_ALLOWED_ORIGINS
        return not allowed or self.origin() in allowed

    def origin(self) -> str | None:
        for name, value in self.scope.get("headers", []):
            if name == b"origin":
                return value.decode("latin-1")
        return None

    # -- sending ------------------------------------------------------------------------------

    async def send(self, text_data=None, bytes_data=None, close=False):
        # After our close the server refuses further sends; a late broadcast must not crash us.
        if self._closed:
            return
        await super().send(text_data=text_data, bytes_data=bytes_data, close=close)

    async def close(self, code=None, reason=None):
        if self._closed:
            return
        self._closed = True
        await super().close(code=code, reason=reason)

    async def send_frame(self, frame_type: str, data: dict) -> None:
        await self.send(text_data=server_frame(frame_type, data))

    async def send_error(self, code: str, message: str) -> None:
        await self.send(text_data=error_frame(code, message))

    # -- receiving ----------------------------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None):
        self._last_seen = asyncio.get_running_loop().time()
        try:
            frame = parse_frame(text_data, bytes_data)
            handler = self.client_types.get(frame["type"])
            if handler is None:
                raise FrameError("unsupported_message_type", f"unsupported message type {frame['type']!r}")
            await getattr(self, handler)(frame)
        except FrameError as err:
            await self.send_error(err.code, err.message)

    async def handle_ping(self, frame: dict) -> None:
        timestamp = frame.get("timestamp")
        if timestamp is not None and (
            isinstance(timestamp, bool) or not isinstance(timestamp, int | float | str)
        ):
            raise FrameError("invalid_schema", "'timestamp' must be a number or a string")
        await self.send_frame("pong", {"timestamp": timestamp})

    async def handle_pong(self, frame: dict) -> None:
        """A pong only proves the client is alive; `receive` already reset the deadline."""

    # -- heartbeat ----------------------------------------------------------------------------

    async def _heartbeat(self) -> None:
        loop = asyncio.get_running_loop()
        next_ping = loop.time() + self.HEARTBEAT_INTERVAL
        while True:
            deadline = self._last_seen + self.HEARTBEAT_TIMEOUT
            await asyncio.sleep(max(0.0, min(next_ping, deadline) - loop.time()))
            now = loop.time()
            if now >= self._last_seen + self.HEARTBEAT_TIMEOUT:
                await self.reject(CLOSE_HEARTBEAT, "heartbeat_timeout", "no frame from the client in time")
                return
            if now >= next_ping:
                next_ping = now + self.HEARTBEAT_INTERVAL
                await self.send_frame("ping", {"timestamp": time.time()})

    # -- server events (channel layer → client) -------------------------------------------------

    async def relay(self, event: dict) -> None:
        await self.send_frame(event["type"], event.get("data", {}))

    async def error(self, event: dict) -> None:
        """An error addressed to this connection by `utils.send_error_to_channel`."""
        data = event.get("data", {})
        await self.send_error(data.get("code", "error"), data.get("message", ""))

    announcement = relay
    score_updated = relay
    match_started = relay
    match_completed = relay
    match_state_changed = relay
    dispute_created = relay
    bracket_updated = relay

    # -- endpoint-specific hooks ------------------------------------------------------------------

    def group_for(self, object_id: int) -> str:
        raise NotImplementedError

    async def load_object(self) -> bool:
        raise NotImplementedError

    def endpoint_ids(self) -> dict:
        """The ids that open `connection_established`'s data."""
        raise NotImplementedError

    def welcome_data(self) -> dict:
        return {
            **self.endpoint_ids(),
            "user_id": self.user.pk,
            "role": self.role,
            "is_participant": self.is_participant,
            "heartbeat_interval": self.HEARTBEAT_INTERVAL,
        }


@database_sync_to_async
def _user(user_id: int):
    return get_user_model().objects.filter(pk=user_id).first()


@database_sync_to_async
def _tournament_and_membership(tournament_id: int, user_id: int):
    tournament = Tournament.objects.filter(pk=tournament_id).first()
    if tournament is None:
        return None, False
    matches = Match.objects.filter(tournament=tournament)
    is_participant = (
        matches.filter(participant1_id=user_id).exists() or matches.filter(participant2_id=user_id).exists()
    )
    return tournament, is_participant


class TournamentConsumer(RealtimeConsumer):
    """Live updates for one tournament: its matches' events and the organizer's announcements."""

    id_kwarg = "tournament_id"
    client_types = {**RealtimeConsumer.client_types, "announce": "handle_announce"}

    def group_for(self, object_id: int) -> str:
        return utils.tournament_group(object_id)

    async def load_object(self) -> bool:
        self.tournament, self.is_participant = await _tournament_and_membership(self.object_id, self.user.pk)
        if self.tournament is None:
            return False
        self.role = user_role(self.user, self.tournament.organizer_id, self.is_participant)
        return True

    def endpoint_ids(self) -> dict:
        return {"tournament_id": self.object_id}

    async def handle_announce(self, frame: dict) -> None:
        if not await self.authorized(MANAGERS, "only the organizer or an admin may announce"):
            return
        message = frame_data(frame).get("message")
        if not isinstance(message, str) or not message.strip():
            raise FrameError("invalid_schema", "'data.message' must be a non-empty string")
        await utils.broadcast_tournament_event(
            self.object_id,
            "announcement",
            {"tournament_id": self.object_id, "message": message, "user_id": self.user.pk, "role": self.role},
        )
