"""WebSocket routes of the chat app."""

from django.urls import path

from chat.consumers import RoomConsumer

websocket_urlpatterns = [path("ws/rooms/<slug:name>/", RoomConsumer.as_asgi())]
