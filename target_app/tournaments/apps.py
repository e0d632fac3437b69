"""Django app config for tournaments."""

from django.apps import AppConfig


class TournamentsConfig(AppConfig):
    name = "target_app.tournaments"
    label = "tournaments"
