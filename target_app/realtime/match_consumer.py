"""`MatchConsumer`: live updates for one match, score reports and subscriptions."""

from channels.db import database_sync_to_async

from target_app.realtime import utils
from target_app.realtime.consumers import RealtimeConsumer
from target_app.realtime.protocol import CLOSE_NOT_FOUND, SCORE_REPORTERS, FrameError, frame_data, user_role
from target_app.tournaments.models import Match


@database_sync_to_async
def _match_with_organizer(match_id: int):
    return Match.objects.select_related("tournament").filter(pk=match_id).first()


@database_sync_to_async
def _match_snapshot(match_id: int) -> Match | None:
    return Match.objects.filter(pk=match_id).first()


@database_sync_to_async
def _save_score(match_id: int, score1: int, score2: int) -> None:
    Match.objects.filter(pk=match_id).update(score1=score1, score2=score2)


def _score(data: dict, key: str) -> int:
    value = data.get(key)
    if not Match.is_score(value):
        raise FrameError("invalid_schema", f"'data.{key}' must be an integer from 0 to {Match.MAX_SCORE}")
    return value


def match_summary(match: Match) -> dict:
    """The match as clients see it in `subscribed`."""
    return {
        "match_id": match.pk,
        "tournament_id": match.tournament_id,
        "state": match.state,
        "score1": match.score1,
        "score2": match.score2,
        "winner_id": match.winner_id,
        "participant1": {"id": match.participant1_id, "name": match.participant1_name},
        "participant2": {"id": match.participant2_id, "name": match.participant2_name},
    }


class MatchConsumer(RealtimeConsumer):
    """One match's room: participants report scores, everyone sees the match's events."""

    id_kwarg = "match_id"
    client_types = {
        **RealtimeConsumer.client_types,
        "subscribe": "handle_subscribe",
        "report_score": "handle_report_score",
    }

    def group_for(self, object_id: int) -> str:
        return utils.match_group(object_id)

    async def load_object(self) -> bool:
        match = await _match_with_organizer(self.object_id)
        if match is None:
            return False
        self.tournament_id = match.tournament_id
        self.is_participant = self.user.pk in match.participant_ids()
        self.role = user_role(self.user, match.tournament.organizer_id, self.is_participant)
        return True

    def endpoint_ids(self) -> dict:
        return {"match_id": self.object_id, "tournament_id": self.tournament_id}

    async def handle_subscribe(self, frame: dict) -> None:
        match = await _match_snapshot(self.object_id)
        if match is None:  # deleted while we were connected
            await self.reject(CLOSE_NOT_FOUND, "not_found", f"match_id {self.object_id} no longer exists")
            return
        await self.send_frame("subscribed", match_summary(match))

    async def handle_report_score(self, frame: dict) -> None:
        if not await self.authorized(
            SCORE_REPORTERS, "only participants, the organizer or an admin report scores"
        ):
            return
        data = frame_data(frame)
        score1, score2 = _score(data, "score1"), _score(data, "score2")
        await _save_score(self.object_id, score1, score2)
        utils.broadcast_score_updated_batched(
            self.tournament_id,
            self.object_id,
            {"score1": score1, "score2": score2, "reported_by": self.user.pk},
        )
