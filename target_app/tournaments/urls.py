"""HTTP routes of the tournaments API."""

from django.urls import path

from target_app.tournaments import views

urlpatterns = [
    path("api/health", views.health),
    path("api/matches/<int:match_id>/start", views.start_match),
    path("api/matches/<int:match_id>/score", views.report_score),
    path("api/matches/<int:match_id>/complete", views.complete_match),
    path("api/matches/<int:match_id>/dispute", views.dispute_match),
]
