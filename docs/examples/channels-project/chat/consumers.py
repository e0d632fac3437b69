"""A chat room over a WebSocket: members only, the room's history on joining, messages to everyone in it."""

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from chat.models import Message, Room

HISTORY = 50  # messages sent to a member who joins


class RoomConsumer(AsyncJsonWebsocketConsumer):
    group = None

    async def connect(self):
        if not self.scope["user"].is_authenticated:
            await self.close(code=4401)
            return
        self.room = await self.find_room(self.scope["url_route"]["kwargs"]["name"])
        if self.room is None:
            await self.close(code=4404)
            return
        self.group = f"room-{self.room.pk}"
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "history", "messages": await self.history()})

    async def disconnect(self, code):
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content):
        text = str(content.get("text", "")).strip()
        if not text:
            await self.send_json({"type": "error", "error": "empty message"})
            return
        await self.save(text)
        author = self.scope["user"].get_username()
        event = {"type": "chat.message", "author": author, "text": text}
        await self.channel_layer.group_send(self.group, event)

    async def chat_message(self, event):
        await self.send_json({"type": "message", "author": event["author"], "text": event["text"]})

    @database_sync_to_async
    def find_room(self, name):
        return Room.objects.filter(name=name).first()

    @database_sync_to_async
    def history(self):
        messages = self.room.messages.select_related("author").order_by("-id")[:HISTORY]
        return [{"author": m.author.get_username(), "text": m.text} for m in reversed(messages)]

    @database_sync_to_async
    def save(self, text):
        Message.objects.create(room=self.room, author=self.scope["user"], text=text)
