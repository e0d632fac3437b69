"""Redis stopped under the served app: open WebSockets stay served and the fallback is logged once."""

# ratelimit.py's warning when it switches to the in-process backend.
FALLBACK_WARNING = "Redis unreachable ("
# consumers.py's warnings: the channel-layer receive waits, leaving a group fails softly.
LAYER_WARNING = "channel layer unreachable ("
LEAVE_WARNING = "failed: channel layer unreachable"


async def test_stopping_redis_keeps_open_connections_served(serve_app, private_redis):
    app = serve_app(private_redis.url)
    arena = app.arena()
    async with (
        app.join(arena.match_path, arena.users["participant1"].token) as player,
        app.join(arena.tournament_path, arena.users["organizer"].token) as organizer,
    ):
        await player.ping_pong()
        assert FALLBACK_WARNING not in app.log()
        private_redis.stop()
        for _ in range(6):  # each frame goes through the rate limiter, now served in-process
            await player.ping_pong()
            await organizer.ping_pong()
        await player.quiet(1.2)  # past a retry of the channel layer's receive (1 s), still open
        await player.ping_pong()
        await organizer.ping_pong()
        log = app.log()
        assert log.count(FALLBACK_WARNING) == 1, log
        assert log.count(LAYER_WARNING) == 1, log
    # Both leave while Redis is down: their groups cannot be left, and that is not a crash either.
    log = await app.wait_for_log(LEAVE_WARNING, count=2)
    assert "Traceback" not in log and "ERROR" not in log, log
    assert log.count(FALLBACK_WARNING) == 1
    assert app.alive()
