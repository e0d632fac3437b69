"""The plugin in projects without Django, and its answers to wrong ini options."""

from __future__ import annotations

import pytest

PLAIN_TESTS = """
import asyncio
import sys


def test_plain_sync():
    assert not {"channels", "jwt", "redis"} & set(sys.modules)


async def test_plain_async():
    await asyncio.sleep(0)
"""


def test_plugin_is_inert_in_a_project_without_django(project):
    project.configure(django=False, factory=False)
    result = project.run(PLAIN_TESTS)
    result.assert_outcomes(passed=2)
    result.stdout.no_fnmatch_line("harness:*")
    listing = project.pytester.runpytest_subprocess("--fixtures")
    listing.stdout.fnmatch_lines(["harness_ws -- *", "harness_asgi_app -- *"])


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (
            "harness_asgi_factory=nocolon",
            "ERROR: harness_asgi_factory: expected 'module:attribute', got 'nocolon'",
        ),
        (
            "harness_jwt_algorithm=RS256",
            "ERROR: harness_jwt_algorithm: 'RS256' is not one of HS256, HS384, HS512",
        ),
        ("harness_looptime=maybe", "ERROR: harness_looptime: expected true or false, got 'maybe'"),
    ],
)
def test_bad_ini_options_are_usage_errors(project, option, message):
    project.configure(django=False, factory=False)
    result = project.run(PLAIN_TESTS, "-o", option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    result.stderr.no_fnmatch_line("*Traceback*")


def test_unset_factory_fails_the_test_with_one_line(project):
    project.configure(factory=False)
    result = project.run("def test_app(harness_asgi_app):\n    pass\n")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["harness_asgi_factory is not set: add harness_asgi_factory = *"])
    result.stdout.no_fnmatch_line("*During handling*")
