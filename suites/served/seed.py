"""Adds isolated tournaments to a target_app database for the served tests; prints them as JSON.

Run as `python suites/served/seed.py COUNT [CROWD]` with TARGET_APP_DB and JWT_SIGNING_KEY set, after
`python -m target_app init`. Each tournament has its own organizer, two participants, a spectator and
one scheduled match, so a test's connection and message limits never meet another test's. CROWD more
users, in no match, are the load suites' spectators. Tokens (for these and for the demo users) are
minted by the app's own `create_token`.
"""

import json
import os
import sys

ROLES = ("organizer", "participant1", "participant2", "spectator")


def _seed(count: int, crowd: int) -> dict:
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from target_app.realtime.tokens import create_token
    from target_app.tournaments.models import Match, Tournament

    user_model = get_user_model()
    with transaction.atomic():
        arenas = []
        for index in range(count):
            users = {role: user_model.objects.create_user(f"served{index}_{role}") for role in ROLES}
            tournament = Tournament.objects.create(name=f"Served {index}", organizer=users["organizer"])
            match = Match.objects.create(
                tournament=tournament,
                participant1_id=users["participant1"].pk,
                participant1_name=users["participant1"].username,
                participant2_id=users["participant2"].pk,
                participant2_name=users["participant2"].username,
            )
            arenas.append(
                {
                    "tournament": tournament.pk,
                    "match": match.pk,
                    "users": {role: {"id": u.pk, "token": create_token(u.pk)} for role, u in users.items()},
                }
            )
        inactive = user_model.objects.create_user("served_inactive", is_active=False)
        # One INSERT for the whole crowd; "!" is what set_unusable_password() stores.
        spectators = user_model.objects.bulk_create(
            user_model(username=f"served_crowd{index}", password="!") for index in range(crowd)
        )
    existing = user_model.objects.exclude(username__startswith="served")  # the demo users from `init`
    return {
        "arenas": arenas,
        "inactive": {"id": inactive.pk, "token": create_token(inactive.pk)},
        "crowd": [{"id": user.pk, "token": create_token(user.pk)} for user in spectators],
        "tokens": {user.username: create_token(user.pk) for user in existing},
    }


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "target_app.config.settings")
    import django

    django.setup()
    count, crowd = (int(arg) for arg in [*sys.argv[1:], "0"][:2])
    print(json.dumps(_seed(count, crowd)))


if __name__ == "__main__":
    main()
