"""MAP.md: the harness's one block added or replaced, every byte outside it kept, broken markers refused."""

import signal

import pytest

from harness.errors import DataError
from harness.spec.project import Project
from harness.store import layout, mapfile
from tests.harness.store.killers import KILL_AT_REPLACE, KILL_MID_WRITE, child

BEGIN, END = mapfile.BEGIN, mapfile.END


@pytest.mark.parametrize("killer", [KILL_AT_REPLACE, KILL_MID_WRITE], ids=["at-replace", "mid-write"])
def test_killed_map_update_leaves_map_intact(tmp_path, killer):
    project = Project(tmp_path)
    layout.map_file(project).write_bytes(b"# Roadmap\r\n\r\nhand text\r\n")
    mapfile.update(project, lambda: "| old |")
    before = layout.map_file(project).read_bytes()
    done = child(
        killer + "\n    mapfile.update(Project(Path(sys.argv[1])), lambda: '| new |')\n", str(tmp_path)
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert layout.map_file(project).read_bytes() == before


@pytest.mark.parametrize(
    "text",
    [
        "",
        "# Roadmap\n",
        "# Roadmap",
        "# Roadmap\n\n",
        "\ufeff# Roadmap\r\n\r\nOwn text  \r\n",
    ],
)
def test_map_block_is_added_without_touching_other_text(text):
    out = mapfile.splice_block(text, "| row |\n", "MAP.md")
    assert out.startswith(text)
    assert out[len(text) :].lstrip("\n") == f"{BEGIN}\n| row |\n{END}\n"


def test_map_block_is_replaced_and_outside_bytes_are_identical(tmp_path):
    project = Project(tmp_path)
    head = "# Roadmap\r\n\r\nIntro with trailing spaces   \r\n\t<- a tab\r\n"
    tail = "\r\n## Later\r\nno newline at end"
    layout.map_file(project).write_bytes(f"{head}{BEGIN}\nold rows\n{END}{tail}".encode())
    mapfile.update(project, lambda: "| new rows |")
    raw = layout.map_file(project).read_bytes()
    assert raw == f"{head}{BEGIN}\n| new rows |\n{END}{tail}".encode()


@pytest.mark.parametrize(
    "text",
    [
        f"{END}\n{BEGIN}\n",
        f"{BEGIN}\nno end\n",
        f"{BEGIN}\n{END}\n{BEGIN}\n{END}\n",
    ],
)
def test_broken_markers_are_refused_and_map_untouched(tmp_path, text):
    project = Project(tmp_path)
    layout.map_file(project).write_text(text)
    with pytest.raises(DataError, match="fix the markers by hand"):
        mapfile.update(project, lambda: "| x |")
    assert layout.map_file(project).read_text() == text
