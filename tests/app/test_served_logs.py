"""The served app's log never carries a token: paths with `?token=` are redacted, access lines too."""

from target_app.logredact import redact


def test_redact_replaces_query_and_bearer_tokens_only():
    assert (
        redact("GET /ws/match/1/?token=abc.def.ghi HTTP/1.1") == "GET /ws/match/1/?token=[redacted] HTTP/1.1"
    )
    assert redact('"/api/x?a=1&token=t0k&b=2"') == '"/api/x?a=1&token=[redacted]&b=2"'
    assert redact("Authorization: Bearer abc.def") == "Authorization: Bearer [redacted]"
    assert redact("GET /ws/match/1/?tokens=plain") == "GET /ws/match/1/?tokens=plain"


async def test_tokens_used_against_the_server_never_reach_its_log(served):
    arena = served.arena()
    token = arena.users["participant1"].token
    async with served.join(arena.match_path, token):
        pass
    status, _ = await served.http("GET", f"/api/health?token={token}")
    assert status == 200
    log = await served.wait_for_log("GET /api/health?token=[redacted]")
    assert f"{arena.match_path}?token=[redacted]" in log
    assert token not in log
    assert token.split(".")[2] not in log  # not even the signature
