"""harness_redis on a generated project: private server, per-test flush, outage switch, missing binary."""

from __future__ import annotations

import pytest

REDIS_TESTS = """
import pytest
import redis
from django.conf import settings


def test_a_private_server_that_can_go_down_and_come_back(harness_redis):
    assert settings.REDIS_URL == harness_redis.url == f"redis://127.0.0.1:{harness_redis.port}/0"
    client = harness_redis.client()
    client.set("leftover", "1")
    port = harness_redis.port
    harness_redis.down()
    assert not harness_redis.running
    with pytest.raises(redis.ConnectionError):
        client.ping()
    harness_redis.up()
    assert harness_redis.port == port
    assert client.ping() is True
    client.set("leftover", "2")
    harness_redis.down()  # left down on purpose: the next test must still get a server


def test_b_next_test_gets_a_running_empty_server(harness_redis):
    assert harness_redis.running
    assert harness_redis.client().get("leftover") is None


def test_c_setting_is_restored():
    assert settings.REDIS_URL is None
"""

NEEDS_REDIS = """
def test_needs_redis(harness_redis):
    pass
"""


def test_redis_fixture(project, assert_no_leaks):
    result = project.run(REDIS_TESTS)
    result.assert_outcomes(passed=3)
    assert_no_leaks(result)


@pytest.mark.parametrize(("ci", "outcome"), [("", {"skipped": 1}), ("true", {"errors": 1})])
def test_missing_redis_server_skips_except_on_ci(project, monkeypatch, tmp_path, ci, outcome):
    project.configure(django=False, factory=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no redis-server on it
    monkeypatch.setenv("CI", ci)
    result = project.run(NEEDS_REDIS)
    result.assert_outcomes(**outcome)
    result.stdout.fnmatch_lines(["*harness_redis: redis-server is not installed (not on PATH)*"])
