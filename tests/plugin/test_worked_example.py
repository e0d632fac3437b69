"""The worked example of docs/plugin.md: its files are what the doc shows, and its tests pass as written."""

from __future__ import annotations

import re
import shutil
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "docs" / "examples" / "channels-project"
DOC = REPO / "docs" / "plugin.md"
# Files the doc does not show: package markers and the migration `makemigrations` wrote.
NOT_SHOWN = {"mysite/__init__.py", "chat/__init__.py", "chat/migrations/__init__.py"}
SHOWN_BLOCK = re.compile(r"<!-- example: (?P<path>\S+) -->\n```[a-z]*\n(?P<body>.*?)```", re.DOTALL)

# Run beside the example's own tests: what the doc says about it, pinned. Importing the
# application here builds it at collection time, as a project's own imports usually do.
PINNED = """
import pytest
from mysite.asgi import application

from harness.plugin.errors import FixtureUsageError

LOBBY = "/ws/rooms/lobby/"


async def test_the_module_level_application_itself_keeps_its_import_time_hosts(
    harness_ws, settings, lobby, alice
):
    settings.ALLOWED_HOSTS = ["staging.example.com"]
    frozen = await harness_ws.connect(
        LOBBY, user=alice, origin="https://staging.example.com", application=application
    )
    assert not frozen.accepted
    live = await harness_ws.connect(
        LOBBY, user=alice, origin="https://staging.example.com", production=True
    )
    assert live.accepted


async def test_users_log_in_by_primary_key_and_unknown_ones_not_at_all(harness_ws, lobby, alice):
    client = await harness_ws.connect(LOBBY, user=alice.pk)
    assert (await client.receive_json())["type"] == "history"
    with pytest.raises(FixtureUsageError, match=r"harness_ws.connect\\(user=2000000001\\): no such user"):
        await harness_ws.connect(LOBBY, user=2000000001)
"""


def example_files() -> set[str]:
    return {
        path.relative_to(EXAMPLE).as_posix()
        for path in EXAMPLE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_the_doc_shows_every_file_of_the_example_as_it_is():
    shown = {match["path"]: match["body"] for match in SHOWN_BLOCK.finditer(DOC.read_text())}
    migrations = {name for name in example_files() if name.startswith("chat/migrations/0")}
    assert set(shown) == example_files() - NOT_SHOWN - migrations
    for path, body in shown.items():
        assert body == (EXAMPLE / path).read_text(), f"docs/plugin.md shows an outdated {path}"


def test_the_example_passes_strictly_with_warnings_as_errors(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, assert_no_leaks
):
    for name in ("DJANGO_SETTINGS_MODULE", "PYTEST_ADDOPTS", "CI"):
        monkeypatch.delenv(name, raising=False)
    shutil.copytree(EXAMPLE, pytester.path, dirs_exist_ok=True)
    (pytester.path / "tests" / "test_pinned.py").write_text(textwrap.dedent(PINNED))
    plugins = ("-p", "no:randomly", "-p", "no:cacheprovider", "-p", "no:hypothesispytest")
    result = pytester.runpytest_subprocess(*plugins, "-rA")
    result.assert_outcomes(passed=8)
    result.stdout.fnmatch_lines(["harness: asgi factory mysite.asgi:application;*"])
    result.stdout.no_fnmatch_line("*warnings summary*")
    assert_no_leaks(result)
