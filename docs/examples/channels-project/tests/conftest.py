"""The project's fixtures, built on the harness plugin's committed rows."""

import pytest

from chat.models import Room


@pytest.fixture
def alice(harness_users):
    return harness_users.create("alice")


@pytest.fixture
def bob(harness_users):
    return harness_users.create("bob")


@pytest.fixture
def lobby(harness_rows):
    return harness_rows.create(Room, name="lobby")
