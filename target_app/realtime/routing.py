"""WebSocket URL routes. Ids are captured loosely so bad ids reach the consumer (close 4000), not a 404."""

from django.urls import re_path

from target_app.realtime.consumers import TournamentConsumer
from target_app.realtime.match_consumer import MatchConsumer

websocket_urlpatterns = [
    re_path(r"^ws/tournament(?:/(?P<tournament_id>.*?))?/?$", TournamentConsumer.as_asgi()),
    re_path(r"^ws/match(?:/(?P<match_id>.*?))?/?$", MatchConsumer.as_asgi()),
]
