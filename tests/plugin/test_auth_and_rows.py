"""harness_jwt, harness_users/rows, harness_time_travel and harness_rate_limits on a generated project."""

from __future__ import annotations

AUTH_TESTS = """
import proj_asgi
import pytest
import time_machine
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from harness.plugin.errors import FixtureUsageError


@pytest.fixture
def alice(harness_users):
    return harness_users.create("alice")


async def test_committed_user_is_seen_by_the_middleware_thread(harness_ws, alice):
    client = await harness_ws.connect("/ws/whoami/", user=alice)
    assert await client.receive_json() == {"type": "hello", "user": "alice"}


async def test_token_in_authorization_header(harness_ws, harness_jwt, alice):
    client = await harness_ws.connect("/ws/whoami/", token=harness_jwt.valid(alice), token_via="header")
    assert await client.receive_json() == {"type": "hello", "user": "alice"}


@pytest.mark.parametrize(("kind", "code"), [
    ("expired", "expired"),
    ("malformed", "malformed"),
    ("wrong_key", "bad_signature"),
    ("alg_none", "bad_signature"),
    ("unknown_user", "unknown_user"),
])
async def test_bad_tokens_are_refused_after_accept(harness_ws, harness_jwt, alice, kind, code):
    mint = getattr(harness_jwt, kind)
    token = mint() if kind in ("malformed", "unknown_user") else mint(alice)
    client = await harness_ws.connect("/ws/whoami/", token=token)
    assert client.accepted
    assert await client.expect_close(4001) == [{"type": "error", "code": code}]


def test_tokens_carry_the_configured_claims(harness_jwt, alice):
    claims = harness_jwt.decode(harness_jwt.valid(alice, ttl=60))
    assert set(claims) == {"user_id", "iat", "exp"}
    assert claims["user_id"] == alice.pk
    assert claims["exp"] - claims["iat"] == 60


async def test_time_travel_expires_a_token(harness_ws, harness_jwt, harness_time_travel, alice):
    token = harness_jwt.valid(alice, ttl=60)
    harness_time_travel.shift(61)
    client = await harness_ws.connect("/ws/whoami/", token=token)
    assert await client.expect_close(4001) == [{"type": "error", "code": "expired"}]


async def test_async_creation_and_sync_misuse(harness_ws, harness_users, harness_rows):
    bob = await harness_users.acreate("bob", is_staff=True)
    await harness_rows.acreate(Group, name="referees")
    client = await harness_ws.connect("/ws/whoami/", user=bob.pk)
    assert await client.receive_json() == {"type": "hello", "user": "bob"}
    with pytest.raises(FixtureUsageError, match=r"in async code use `await harness_users.acreate\\(...\\)`"):
        harness_users.create("carol")


async def test_database_outlives_the_disconnect(harness_ws, harness_users):
    # harness_ws is requested first, yet the database must still be there when it disconnects.
    await harness_users.acreate("dora")
    client = await harness_ws.connect("/ws/users/")
    assert await client.receive_json() == {"users": 1}


def test_rate_limit_overrides(harness_rate_limits):
    harness_rate_limits(conn_per_user=1)
    harness_rate_limits.msg_rate = 2
    assert (settings.WS_CONN_PER_USER, settings.WS_MSG_RATE) == (1, 2)
    assert harness_rate_limits.conn_per_user == 1
    expected = (
        "no Django setting WS_CONN_PER_USR; "
        "settings starting with 'WS_': WS_CONN_PER_USER, WS_MSG_RATE$"
    )
    with pytest.raises(FixtureUsageError, match=expected):
        harness_rate_limits(conn_per_usr=1)


def test_zz_everything_was_put_back(harness_rows):
    assert proj_asgi.EVENTS == [("user-count-disconnect", 1)]
    assert not time_machine.escape_hatch.is_travelling()
    assert (settings.WS_CONN_PER_USER, settings.WS_MSG_RATE) == (3, 10)
    assert get_user_model().objects.count() == 0
    assert Group.objects.count() == 0
"""


def test_tokens_rows_time_travel_and_rate_limits(project, assert_no_leaks):
    result = project.run(AUTH_TESTS)
    result.assert_outcomes(passed=13)
    assert_no_leaks(result)
