"""The chat room over a WebSocket, with the harness plugin's fixtures."""

from chat.models import Message

LOBBY = "/ws/rooms/lobby/"


async def test_a_member_gets_the_rooms_history(harness_ws, harness_rows, lobby, alice):
    await harness_rows.acreate(Message, room=lobby, author=alice, text="first!")
    client = await harness_ws.connect(LOBBY, user=alice)  # logged in with a session cookie
    assert client.accepted
    history = await client.receive_json()
    assert history == {"type": "history", "messages": [{"author": "alice", "text": "first!"}]}


async def test_a_message_reaches_everyone_in_the_room_and_is_kept(harness_ws, lobby, alice, bob):
    sender = await harness_ws.connect(LOBBY, user=alice)
    listener = await harness_ws.connect(LOBBY, user=bob)
    for client in (sender, listener):
        assert (await client.receive_json())["type"] == "history"
    await sender.send_json({"text": "hello"})
    said = {"type": "message", "author": "alice", "text": "hello"}
    assert await sender.receive_json() == said
    assert await listener.receive_json() == said
    assert await Message.objects.filter(room=lobby, author=alice, text="hello").aexists()


async def test_anonymous_visitors_are_turned_away(harness_ws, lobby):
    client = await harness_ws.connect(LOBBY)
    assert (client.accepted, client.close_code) == (False, 4401)


async def test_an_unknown_room_is_refused(harness_ws, alice):
    client = await harness_ws.connect("/ws/rooms/nowhere/", user=alice)
    assert (client.accepted, client.close_code) == (False, 4404)


async def test_production_admits_only_its_own_origin(harness_ws, lobby, alice):
    foreign = await harness_ws.connect(LOBBY, user=alice, origin="https://evil.example", production=True)
    assert not foreign.accepted
    own = await harness_ws.connect(LOBBY, user=alice, origin="https://chat.example.com", production=True)
    assert own.accepted


async def test_the_origin_check_follows_allowed_hosts_set_in_the_test(harness_ws, settings, lobby, alice):
    settings.ALLOWED_HOSTS = ["staging.example.com"]
    staging = "https://staging.example.com"
    assert (await harness_ws.connect(LOBBY, user=alice, origin=staging, production=True)).accepted
    live = "https://chat.example.com"
    assert not (await harness_ws.connect(LOBBY, user=alice, origin=live, production=True)).accepted
