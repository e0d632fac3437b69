"""Broadcasts on the served app, in-process and through Redis: other clients get them, scores batch."""

import asyncio


async def _post(app, arena, action: str, body: dict | None = None, status: int = 200):
    code, answer = await app.http(
        "POST", f"/api/matches/{arena.match}/{action}", token=arena.users["organizer"].token, body=body
    )
    assert code == status, answer
    return answer


async def test_an_announcement_reaches_every_client_of_the_tournament(any_served):
    arena = any_served.arena()
    organizer = arena.users["organizer"]
    async with (
        any_served.join(arena.tournament_path, organizer.token) as sender,
        any_served.join(arena.tournament_path, arena.users["spectator"].token) as watcher,
    ):
        await sender.send({"type": "announce", "data": {"message": "Final at 8"}})
        expected = {
            "tournament_id": arena.tournament,
            "message": "Final at 8",
            "user_id": organizer.id,
            "role": "organizer",
        }
        assert await watcher.expect("announcement") == expected
        assert await sender.expect("announcement") == expected


async def test_an_http_start_reaches_match_and_tournament_clients(any_served):
    arena = any_served.arena()
    ids = {"match_id": arena.match, "tournament_id": arena.tournament}
    async with (
        any_served.join(arena.match_path, arena.users["spectator"].token) as on_match,
        any_served.join(arena.tournament_path, arena.users["participant1"].token) as on_tournament,
    ):
        assert await _post(any_served, arena, "start") == {"match_id": arena.match, "state": "live"}
        for client in (on_match, on_tournament):
            assert await client.expect("match_started") == {**ids, "state": "live"}
            changed = await client.expect("match_state_changed")
            assert changed == {**ids, "old_state": "scheduled", "new_state": "live"}


async def test_an_http_score_burst_arrives_as_one_update_with_the_latest_score(any_served):
    arena = any_served.arena()
    update = {
        "score1": 5,
        "score2": 2,
        "reported_by": arena.users["organizer"].id,
        "match_id": arena.match,
        "tournament_id": arena.tournament,
    }
    async with (
        any_served.join(arena.match_path, arena.users["spectator"].token) as on_match,
        any_served.join(arena.tournament_path, arena.users["spectator"].token) as on_tournament,
    ):
        for score1, score2 in [(1, 0), (2, 0), (3, 1), (4, 2), (5, 2)]:
            await _post(any_served, arena, "score", {"score1": score1, "score2": score2}, status=202)
        for client in (on_match, on_tournament):
            assert await client.expect("score_updated") == {**update, "sequence": 1}
        await on_match.quiet()
        await _post(any_served, arena, "score", {"score1": 6, "score2": 2}, status=202)
        assert await on_match.expect("score_updated") == {**update, "score1": 6, "sequence": 2}


async def test_a_websocket_score_burst_reaches_the_other_participant_once(any_served):
    arena = any_served.arena()
    reporter = arena.users["participant1"]
    async with (
        any_served.join(arena.match_path, reporter.token) as sender,
        any_served.join(arena.match_path, arena.users["participant2"].token) as other,
    ):
        for score1 in range(1, 6):
            await sender.send({"type": "report_score", "data": {"score1": score1, "score2": 3}})
        update = await other.expect("score_updated")
        assert update == {
            "score1": 5,
            "score2": 3,
            "reported_by": reporter.id,
            "match_id": arena.match,
            "tournament_id": arena.tournament,
            "sequence": 1,
        }
        assert await sender.expect("score_updated") == update
        await asyncio.gather(other.quiet(), sender.quiet())


async def test_the_last_score_is_flushed_before_match_completed(any_served):
    arena = any_served.arena()
    winner = arena.users["participant1"].id
    ids = {"match_id": arena.match, "tournament_id": arena.tournament}
    async with any_served.join(arena.match_path, arena.users["spectator"].token) as client:
        await _post(any_served, arena, "start")
        await client.expect("match_started")
        assert (await client.expect("match_state_changed"))["new_state"] == "live"
        await _post(any_served, arena, "score", {"score1": 7, "score2": 3}, status=202)
        # Inside the 100 ms window: the score is still pending when the completion comes.
        await _post(any_served, arena, "complete", {"winner": winner})
        score = await client.expect("score_updated")
        assert (score["score1"], score["score2"], score["sequence"]) == (7, 3, 1)
        completed = await client.expect("match_completed")
        assert completed == {**ids, "winner_id": winner, "score1": 7, "score2": 3}
        changed = await client.expect("match_state_changed")
        assert changed == {**ids, "old_state": "live", "new_state": "completed"}
        await client.quiet()


async def test_a_dispute_reaches_the_match_clients(any_served):
    arena = any_served.arena()
    ids = {"match_id": arena.match, "tournament_id": arena.tournament}
    async with any_served.join(arena.match_path, arena.users["participant2"].token) as client:
        await _post(any_served, arena, "start")
        await client.expect("match_started")
        await client.expect("match_state_changed")
        assert await _post(any_served, arena, "dispute", {"reason": "wrong score"}) == {
            "match_id": arena.match,
            "state": "disputed",
        }
        assert await client.expect("dispute_created") == {**ids, "reason": "wrong score"}
        changed = await client.expect("match_state_changed")
        assert changed == {**ids, "old_state": "live", "new_state": "disputed"}
