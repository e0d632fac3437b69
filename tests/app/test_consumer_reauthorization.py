"""Privileged frames are authorized as they arrive: rights lost after connecting are lost on open sockets."""

import pytest
from asgiref.sync import sync_to_async

from suites.realtime_checks import error
from target_app.tournaments.models import Match, Tournament

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def cup(harness_users, harness_rows):
    organizer = harness_users.create("organizer")
    admin = harness_users.create("admin", is_staff=True)
    alice, bob = harness_users.create("alice"), harness_users.create("bob")
    tournament = harness_rows.create(Tournament, name="Cup", organizer=organizer)
    match = harness_rows.create(
        Match, tournament=tournament, participant1_id=alice.pk, participant2_id=bob.pk
    )
    return {"admin": admin, "alice": alice, "tournament": tournament, "match": match}


async def _welcomed(harness_ws, path, user):
    client = await harness_ws.connect(path, user=user)
    assert (await client.receive_json())["type"] == "connection_established"
    return client


async def test_a_demoted_admin_can_no_longer_announce_on_a_connection_opened_as_admin(harness_ws, cup):
    client = await _welcomed(harness_ws, f"/ws/tournament/{cup['tournament'].pk}/", cup["admin"])
    await _set(cup["admin"], is_staff=False)
    await client.send_json({"type": "announce", "data": {"message": "still admin?"}})
    assert await client.receive_json() == error("permission_denied")
    await client.send_json({"type": "ping"})
    assert (await client.receive_json())["type"] == "pong"  # refused, not closed


async def test_a_participant_swapped_out_of_the_match_can_no_longer_report(harness_ws, cup):
    client = await _welcomed(harness_ws, f"/ws/match/{cup['match'].pk}/", cup["alice"])
    await Match.objects.filter(pk=cup["match"].pk).aupdate(participant1_id=None)
    await client.send_json({"type": "report_score", "data": {"score1": 9, "score2": 0}})
    assert await client.receive_json() == error("permission_denied")
    assert (await Match.objects.aget(pk=cup["match"].pk)).score1 == 0


async def test_a_deactivated_user_is_closed_4001_at_the_next_privileged_frame(harness_ws, cup):
    client = await _welcomed(harness_ws, f"/ws/match/{cup['match'].pk}/", cup["alice"])
    await _set(cup["alice"], is_active=False)
    await client.send_json({"type": "report_score", "data": {"score1": 1, "score2": 0}})
    assert await client.expect_close(4001) == [error("inactive_user")]


async def test_a_deleted_user_is_closed_4001_naming_them_unknown(harness_ws, cup):
    client = await _welcomed(harness_ws, f"/ws/tournament/{cup['tournament'].pk}/", cup["admin"])
    await sync_to_async(cup["admin"].delete)()
    await client.send_json({"type": "announce", "data": {"message": "hello"}})
    assert await client.expect_close(4001) == [error("unknown_user")]


async def test_a_match_deleted_meanwhile_closes_a_reporter_4004(harness_ws, cup):
    client = await _welcomed(harness_ws, f"/ws/match/{cup['match'].pk}/", cup["alice"])
    await Match.objects.filter(pk=cup["match"].pk).adelete()
    await client.send_json({"type": "report_score", "data": {"score1": 1, "score2": 0}})
    assert await client.expect_close(4004) == [error("not_found")]


async def _set(user, **fields):
    for name, value in fields.items():
        setattr(user, name, value)
    await sync_to_async(user.save)(update_fields=list(fields))
