"""Tournament and Match models; every match state change goes through `Match.transition`."""

from django.conf import settings
from django.db import models


class IllegalTransition(Exception):
    """A state change the match state machine does not allow."""

    def __init__(self, old: str, new: str) -> None:
        super().__init__(f"cannot move a match from {old!r} to {new!r}")
        self.old = old
        self.new = new


class Tournament(models.Model):
    DRAFT = "draft"
    RUNNING = "running"
    FINISHED = "finished"
    STATES = [(DRAFT, "Draft"), (RUNNING, "Running"), (FINISHED, "Finished")]

    name = models.CharField(max_length=200)
    organizer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=20, choices=STATES, default=RUNNING)

    def __str__(self) -> str:
        return self.name


class Match(models.Model):
    SCHEDULED = "scheduled"
    LIVE = "live"
    COMPLETED = "completed"
    DISPUTED = "disputed"
    CANCELLED = "cancelled"
    STATES = [
        (SCHEDULED, "Scheduled"),
        (LIVE, "Live"),
        (COMPLETED, "Completed"),
        (DISPUTED, "Disputed"),
        (CANCELLED, "Cancelled"),
    ]
    # The state machine: which states each state may move to.
    TRANSITIONS: dict[str, frozenset[str]] = {
        SCHEDULED: frozenset({LIVE, CANCELLED}),
        LIVE: frozenset({COMPLETED, DISPUTED, CANCELLED}),
        COMPLETED: frozenset({DISPUTED}),
        DISPUTED: frozenset({COMPLETED, CANCELLED}),
        CANCELLED: frozenset(),
    }

    # The largest score the database column holds (IntegerField is 32-bit on every backend Django has).
    MAX_SCORE = 2_147_483_647

    tournament = models.ForeignKey(Tournament, on_delete=models.CASCADE, related_name="matches")
    participant1_id = models.IntegerField(null=True, blank=True)
    participant1_name = models.CharField(max_length=150, blank=True)
    participant2_id = models.IntegerField(null=True, blank=True)
    participant2_name = models.CharField(max_length=150, blank=True)
    state = models.CharField(max_length=20, choices=STATES, default=SCHEDULED)
    score1 = models.IntegerField(default=0)
    score2 = models.IntegerField(default=0)
    winner_id = models.IntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.participant1_name} vs {self.participant2_name}"

    @classmethod
    def is_score(cls, value) -> bool:
        """Whether `value` fits the score columns: an int (not a bool) from 0 to MAX_SCORE."""
        return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= cls.MAX_SCORE

    def participant_ids(self) -> set[int]:
        return {pid for pid in (self.participant1_id, self.participant2_id) if pid is not None}

    def can_transition(self, new_state: str) -> bool:
        return new_state in self.TRANSITIONS.get(self.state, frozenset())

    def transition(self, new_state: str, *, winner_id: int | None = None) -> str:
        """Move to `new_state` and save; return the old state. Raises IllegalTransition."""
        if not self.can_transition(new_state):
            raise IllegalTransition(self.state, new_state)
        if new_state == self.COMPLETED:
            if winner_id not in self.participant_ids():
                raise ValueError("winner must be one of the match's participants")
            self.winner_id = winner_id
        old_state, self.state = self.state, new_state
        self.save(update_fields=["state", "winner_id"])
        return old_state
