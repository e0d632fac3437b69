"""HTTP API that changes matches from outside the WebSocket layer and broadcasts the change."""

import json
from functools import partial, wraps

from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from django.http import JsonResponse
from django.views.decorators.http import require_POST

from target_app.realtime import utils
from target_app.realtime.protocol import may_manage
from target_app.realtime.tokens import authenticate, bearer_token
from target_app.tournaments.models import IllegalTransition, Match


class BadRequest(Exception):
    """The request body is not what the endpoint takes."""


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": code, "message": message}, status=status)


def _body(request) -> dict:
    try:
        raw = request.body
    except RequestDataTooBig:  # over DATA_UPLOAD_MAX_MEMORY_SIZE: Django's own 400 page, not JSON
        raise BadRequest("body is too large") from None
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise BadRequest("body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    return body


def _int_field(body: dict, key: str) -> int:
    # Scores and the winner's id are stored in the same kind of integer column.
    value = body.get(key)
    if not Match.is_score(value):
        raise BadRequest(f"'{key}' must be an integer from 0 to {Match.MAX_SCORE}")
    return value


def match_endpoint(view):
    """Auth (401), lookup (404), permission (403), body (400) and illegal transitions (409), in that order."""

    @require_POST
    @wraps(view)
    def wrapper(request, match_id: int):
        user, error = authenticate(bearer_token(request.headers.get("Authorization")))
        if error:
            return _error(401, error, "a valid bearer token is required")
        match = Match.objects.select_related("tournament").filter(pk=match_id).first()
        if match is None:
            return _error(404, "not_found", f"match {match_id} not found")
        if not may_manage(user, match.tournament.organizer_id):
            return _error(403, "permission_denied", "only the tournament's organizer or an admin may do this")
        request.api_user = user
        try:
            with transaction.atomic():
                return view(request, match, _body(request))
        except BadRequest as err:
            return _error(400, "bad_request", str(err))
        except IllegalTransition as err:
            return _error(409, "illegal_transition", str(err))

    return wrapper


def _state_changed(match: Match, old_state: str) -> dict:
    return {
        "match_id": match.pk,
        "tournament_id": match.tournament_id,
        "old_state": old_state,
        "new_state": match.state,
    }


def _broadcast_both(match: Match, event_type: str, data: dict) -> None:
    # After commit, so a client that reacts to the event by reading the match sees the new state.
    broadcast = utils.broadcast_match_and_tournament_event_sync
    transaction.on_commit(partial(broadcast, match.tournament_id, match.pk, event_type, data))


@match_endpoint
def start_match(request, match: Match, body: dict) -> JsonResponse:
    old_state = match.transition(Match.LIVE)
    base = {"match_id": match.pk, "tournament_id": match.tournament_id}
    _broadcast_both(match, "match_started", {**base, "state": match.state})
    _broadcast_both(match, "match_state_changed", _state_changed(match, old_state))
    return JsonResponse({"match_id": match.pk, "state": match.state})


@match_endpoint
def report_score(request, match: Match, body: dict) -> JsonResponse:
    score1, score2 = _int_field(body, "score1"), _int_field(body, "score2")
    match.score1, match.score2 = score1, score2
    match.save(update_fields=["score1", "score2"])
    data = {"score1": score1, "score2": score2, "reported_by": request.api_user.pk}
    transaction.on_commit(partial(utils.broadcast_score_updated_batched, match.tournament_id, match.pk, data))
    return JsonResponse({"match_id": match.pk, "score1": score1, "score2": score2}, status=202)


@match_endpoint
def complete_match(request, match: Match, body: dict) -> JsonResponse:
    winner = _int_field(body, "winner")
    if winner not in match.participant_ids():
        raise BadRequest("'winner' must be one of the match's participants")
    old_state = match.transition(Match.COMPLETED, winner_id=winner)
    data = {
        "match_id": match.pk,
        "tournament_id": match.tournament_id,
        "winner_id": winner,
        "score1": match.score1,
        "score2": match.score2,
    }
    transaction.on_commit(partial(utils.broadcast_match_completed_sync, match.tournament_id, match.pk, data))
    _broadcast_both(match, "match_state_changed", _state_changed(match, old_state))
    return JsonResponse({"match_id": match.pk, "state": match.state, "winner_id": winner})


@match_endpoint
def dispute_match(request, match: Match, body: dict) -> JsonResponse:
    reason = body.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise BadRequest("'reason' must be a non-empty string")
    old_state = match.transition(Match.DISPUTED)
    data = {"match_id": match.pk, "tournament_id": match.tournament_id, "reason": reason}
    _broadcast_both(match, "dispute_created", data)
    _broadcast_both(match, "match_state_changed", _state_changed(match, old_state))
    return JsonResponse({"match_id": match.pk, "state": match.state})


def health(request) -> JsonResponse:
    return JsonResponse({"status": "ok"})
