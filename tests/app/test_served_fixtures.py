"""The served tests' own fixtures: a missing redis-server is a skip with a reason, except under CI."""

import pytest


@pytest.mark.parametrize("ci", [None, "false"])
def test_a_missing_redis_server_skips_with_the_reason(request, monkeypatch, tmp_path, ci):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no redis-server on PATH
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.skip.Exception, match="redis-server is not on PATH"):
        request.getfixturevalue("private_redis")


def test_a_missing_redis_server_fails_under_ci(request, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"redis-server is not on PATH.*CI=true"):
        request.getfixturevalue("private_redis")
