"""target_app fixtures shared by every module suite, built on the harness plugin's fixtures."""

import os
import sys
from dataclasses import dataclass

import pytest

from target_app.realtime import ratelimit, utils
from target_app.tournaments.models import Match, Tournament


def pytest_configure(config: pytest.Config) -> None:
    """Hypothesis profiles: "fast" (default) is derandomized so every run checks the same examples in
    seconds; "long" explores far more, randomly: HYPOTHESIS_PROFILE=long pytest suites/module-6.7.

    An xdist controller runs no test, so it skips importing Hypothesis (a second of start-up without a
    bytecode cache, before any worker starts); the workers register the profiles themselves.
    """
    if getattr(config.option, "dist", "no") != "no" and not hasattr(config, "workerinput"):
        return
    from hypothesis import HealthCheck, settings

    slow_ok = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
    tolerant = {"deadline": None, "suppress_health_check": slow_ok}
    settings.register_profile("fast", max_examples=40, derandomize=True, database=None, **tolerant)
    settings.register_profile("long", max_examples=1000, **tolerant)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Have Hypothesis build its Unicode tables during collection, not inside the first test to draw text.

    Where .hypothesis/unicode_data/ is missing (a fresh checkout, CI), the first `st.text()` builds
    it: the default alphabet, `characters(codec="utf-8")`, encodes every code point once, 1.3 s and
    about 3 s under coverage, which landed in whichever test drew text first (the JWT algorithm test:
    a 2-3 s phase). Hypothesis collects its local constants at collection for the same reason
    (HypothesisWorks/hypothesis#4627). With the tables on disk this takes milliseconds.
    """
    if "hypothesis" not in sys.modules:  # no collected module imported it: no test draws text
        return
    from hypothesis import is_hypothesis_test
    from hypothesis import strategies as st

    if any(isinstance(item, pytest.Function) and is_hypothesis_test(item.obj) for item in items):
        st.characters(codec="utf-8").validate()


@dataclass(frozen=True)
class Cast:
    """The people around one tournament: who organizes, administers, plays and watches."""

    organizer: object
    admin: object
    alice: object  # participant1 of `match`
    bob: object  # participant2 of `match`
    carol: object  # a spectator: no match in the tournament


@pytest.fixture
def cast(harness_users) -> Cast:
    """Committed users for every role."""
    return Cast(
        organizer=harness_users.create("organizer"),
        admin=harness_users.create("admin", is_staff=True),
        alice=harness_users.create("alice"),
        bob=harness_users.create("bob"),
        carol=harness_users.create("carol"),
    )


@pytest.fixture
def tournament(harness_rows, cast) -> Tournament:
    """A committed tournament organized by `cast.organizer`."""
    return harness_rows.create(Tournament, name="Spring Cup", organizer=cast.organizer)


def make_match(harness_rows, tournament, p1, p2, **fields) -> Match:
    return harness_rows.create(
        Match,
        tournament=tournament,
        participant1_id=p1.pk,
        participant1_name=p1.username,
        participant2_id=p2.pk,
        participant2_name=p2.username,
        **fields,
    )


@pytest.fixture
def match(harness_rows, tournament, cast) -> Match:
    """A committed scheduled match: alice vs bob."""
    return make_match(harness_rows, tournament, cast.alice, cast.bob)


@pytest.fixture
def other_match(harness_rows, harness_users, tournament) -> Match:
    """A second match in the same tournament, between two other players."""
    dave, erin = harness_users.create("dave"), harness_users.create("erin")
    return make_match(harness_rows, tournament, dave, erin)


@pytest.fixture
def other_tournament(harness_rows, harness_users) -> Tournament:
    """A second tournament with its own organizer."""
    return harness_rows.create(Tournament, name="Autumn Cup", organizer=harness_users.create("frank"))


@pytest.fixture(autouse=True)
def _in_process_unless_redis(settings):
    """In-process limits unless a test asks for `harness_redis` (which sets REDIS_URL after this).

    An inherited REDIS_URL would put real Redis I/O under virtual time, where it races the clock.
    """
    settings.REDIS_URL = None


@pytest.fixture(autouse=True)
def _fresh_realtime_state():
    """No rate-limit counters or pending score batches cross from one test into the next."""
    ratelimit.reset_limiters()
    utils.reset_batching_state()
    yield
    ratelimit.reset_limiters()
    utils.reset_batching_state()
