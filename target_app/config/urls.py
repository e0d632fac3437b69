"""Root URL configuration."""

from django.urls import include, path

from target_app import introspection

urlpatterns = [
    path("", include("target_app.tournaments.urls")),
    path("api/debug/runtime", introspection.runtime),  # a 404 unless TARGET_APP_INTROSPECTION=1
]
