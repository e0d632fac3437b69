"""Demo data for `python -m target_app init`: created once, then left alone."""

from django.contrib.auth import get_user_model
from django.db import transaction

from target_app.tournaments.models import Match, Tournament

DEMO_USERS = {
    # role key: (username, is_staff)
    "organizer": ("organizer", False),
    "admin": ("admin", True),
    "participant1": ("alice", False),
    "participant2": ("bob", False),
    "spectator": ("spectator", False),
}
TOURNAMENT_NAME = "Demo Cup"


@transaction.atomic
def ensure_demo_data() -> dict:
    """Create what is missing of the demo data and describe all of it."""
    User = get_user_model()
    users = {}
    for key, (username, is_staff) in DEMO_USERS.items():
        user, created = User.objects.get_or_create(username=username, defaults={"is_staff": is_staff})
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        users[key] = user
    tournament, _ = Tournament.objects.get_or_create(name=TOURNAMENT_NAME, organizer=users["organizer"])
    match = tournament.matches.order_by("pk").first()
    if match is None:
        p1, p2 = users["participant1"], users["participant2"]
        match = Match.objects.create(
            tournament=tournament,
            participant1_id=p1.pk,
            participant1_name=p1.username,
            participant2_id=p2.pk,
            participant2_name=p2.username,
        )
    return {
        "users": {key: {"id": user.pk, "username": user.username} for key, user in users.items()},
        "tournament": tournament.pk,
        "match": match.pk,
    }
