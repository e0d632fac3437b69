"""`harness.spec.changes`: the lines a change adds or edits, read from real throwaway git repositories."""

import subprocess

import pytest

from harness.errors import UsageError
from harness.spec.changes import ChangedFile, changes, default_ref, unquote
from tests.harness.gitrepo import Repo, make_repo

FIVE = "one\ntwo\nthree\nfour\nfive\n"


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Repo:
    """A repository whose `main` holds `a.py` (five lines) and `b.py`."""
    repo = make_repo(tmp_path / "repo", monkeypatch)
    repo.write("a.py", FIVE)
    repo.write("b.py", "b\n")
    repo.commit("base")
    return repo


def test_committed_change_on_a_branch_counts_from_the_merge_base(repo):
    base = repo.git("rev-parse", "HEAD")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("a.py", "one\nTWO\nthree\nfour\nfive\nsix\n")
    head = repo.commit("edit a")
    repo.git("checkout", "-q", "main")
    repo.write("b.py", "b\nmain moved on\n")  # after the branch point: not part of the change
    repo.commit("main moves")
    repo.git("checkout", "-q", "feature")

    found = changes(repo.root, "main")

    assert (found.ref, found.base, found.head) == ("main", base, head)
    assert found.files == (ChangedFile("a.py", (2, 6), "modified"),)
    assert found.deleted == () and found.uncommitted is False


def test_staged_unstaged_and_untracked_edits_count_too(repo):
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("a.py", "one\ntwo\nTHREE\nfour\nfive\n")
    repo.git("add", "a.py")  # staged
    repo.write("b.py", "b\nunstaged\n")  # not staged
    repo.write("c.py", "x = 1\ny = 2")  # untracked, no final newline
    repo.write("ignored.log", "noise\n")
    repo.write(".gitignore", "*.log\n")

    found = changes(repo.root, "main")

    assert {f.path: (f.lines, f.status) for f in found.files} == {
        ".gitignore": ((1,), "untracked"),
        "a.py": ((3,), "modified"),
        "b.py": ((2,), "modified"),
        "c.py": ((1, 2), "untracked"),
    }
    assert found.uncommitted is True
    assert [f.path for f in changes(repo.root, "main", untracked=False).files] == ["a.py", "b.py"]


def test_what_is_left_out_is_no_part_of_the_change_nor_makes_the_tree_uncommitted(repo):
    repo.write("reports/m/results.json", "{}\n")
    repo.write("trace.yml", "[]\n")
    repo.commit("the harness's outputs, committed as this repository does")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("a.py", "ONE\ntwo\nthree\nfour\nfive\n")
    head = repo.commit("edit a")
    repo.write("reports/m/results.json", '{"run": 2}\n')  # a run rewrote its outputs
    repo.write("reports/m/PATCH.md", "# new\n")
    repo.write("trace.yml", "[]\n- more\n")

    found = changes(repo.root, "main", leave_out=("reports", "trace.yml"))

    assert found.files == (ChangedFile("a.py", (1,), "modified"),)
    assert (found.head, found.uncommitted) == (head, False)
    assert changes(repo.root, "main").uncommitted is True
    assert "reports/m/PATCH.md" in [f.path for f in changes(repo.root, "main").files]


def test_a_rename_is_followed_and_only_its_edited_lines_count(repo):
    repo.git("checkout", "-q", "-b", "feature")
    repo.git("mv", "a.py", "renamed.py")
    repo.write("renamed.py", "one\ntwo\nthree\nFOUR\nfive\n")
    (repo.root / "moved").mkdir()
    repo.git("mv", "b.py", "moved/b.py")  # renamed, not edited
    repo.commit("rename")

    found = changes(repo.root, "main")

    assert found.files == (
        ChangedFile("moved/b.py", (), "renamed", old_path="b.py"),
        ChangedFile("renamed.py", (4,), "renamed", old_path="a.py"),
    )
    assert found.deleted == ()


def test_deleted_files_and_deleted_lines_add_nothing(repo):
    repo.git("checkout", "-q", "-b", "feature")
    repo.git("rm", "-q", "b.py")
    repo.write("a.py", "one\nfour\nfive\nsix\n")  # two lines deleted, one added after them
    repo.write("empty.py", "")
    repo.commit("delete")

    found = changes(repo.root, "main")

    assert found.deleted == ("b.py",)
    assert found.files == (ChangedFile("a.py", (4,), "modified"), ChangedFile("empty.py", (), "added"))


def test_binary_files_are_noted_without_lines(repo):
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("logo.png", b"\x89PNG\0\0\x01binary")
    repo.commit("binary")
    repo.write("data.bin", b"\0\1\2\3")  # untracked binary

    found = changes(repo.root, "main")

    assert found.files == (
        ChangedFile("data.bin", (), "untracked", binary=True),
        ChangedFile("logo.png", (), "added", binary=True),
    )
    assert found.binary == ("data.bin", "logo.png")


def test_unusual_paths_come_back_as_they_are(repo):
    repo.git("checkout", "-q", "-b", "feature")
    names = ["with space.py", 'quo"te.py', "tab\tname.py", "ünïcode.py", "back\\slash.py"]
    for name in names:
        repo.write(name, "x = 1\n")
    repo.commit("unusual")

    assert [(f.path, f.lines) for f in changes(repo.root, "main").files] == [
        (name, (1,)) for name in sorted(names)
    ]
    assert unquote('"a\\303\\274\\tb"') == "aü\tb"


def test_a_project_in_a_subdirectory_sees_its_own_files_relative_to_itself(repo):
    repo.write("proj/pkg/m.py", "a = 1\n")
    repo.commit("project")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("proj/pkg/m.py", "a = 2\n")
    repo.write("a.py", "outside the project\n")

    found = changes(repo.root / "proj", "main")

    assert found.files == (ChangedFile("pkg/m.py", (1,), "modified"),)


def test_within_keeps_only_the_given_files(repo):
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("a.py", "ONE\ntwo\nthree\nfour\nfive\n")
    repo.git("rm", "-q", "b.py")
    repo.write("c.py", "c\n")
    repo.commit("edit, add and drop")

    found = changes(repo.root, "main")
    assert found.deleted == ("b.py",) and [f.path for f in found.files] == ["a.py", "c.py"]
    assert found.within({"a.py", "b.py"}).deleted == ("b.py",)

    only = found.within({"a.py"})
    assert only.files == (ChangedFile("a.py", (1,), "modified"),) and only.deleted == ()
    assert (only.base, only.head, only.ref) == (found.base, found.head, found.ref)
    assert only.lines("a.py") == (1,) and only.lines("b.py") == ()


@pytest.mark.parametrize("ref", ["no-such-branch", "-rf", "v9.9^"])
def test_a_ref_that_does_not_resolve_is_a_one_line_usage_error(repo, ref):
    with pytest.raises(UsageError) as raised:
        changes(repo.root, ref)
    assert f"--changed {ref!r}" in str(raised.value) or f"--changed {ref}:" in str(raised.value)
    assert "\n" not in str(raised.value)


def test_outside_git_is_a_usage_error(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    with pytest.raises(UsageError, match="is not in a git repository"):
        changes(tmp_path, "main")


def test_the_default_ref_is_origin_head_then_main_then_master(repo, tmp_path):
    assert default_ref(repo.root) == "main"
    repo.git("branch", "-m", "main", "master")
    assert default_ref(repo.root) == "master"

    clone = Repo(tmp_path / "clone")
    repo.git("clone", "-q", str(repo.root), str(clone.root))
    clone.git("checkout", "-q", "-b", "feature")
    clone.git("branch", "-D", "master")
    assert default_ref(clone.root) == "origin/master"  # origin/HEAD, read as the branch it names
    clone.write("a.py", FIVE + "six\n")
    assert changes(clone.root).lines("a.py") == (6,)

    repo.git("checkout", "-q", "-b", "other")
    repo.git("branch", "-D", "master")
    with pytest.raises(UsageError, match="none of origin/HEAD, main, master"):
        changes(repo.root)


def test_a_shallow_clone_without_the_merge_base_says_to_fetch_more(repo, tmp_path):
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("a.py", FIVE + "six\n")
    repo.commit("feature")
    repo.git("checkout", "-q", "main")
    repo.write("b.py", "b\nc\n")
    repo.commit("main moves")
    shallow = tmp_path / "shallow"
    clone = ["git", "clone", "-q", "--depth", "1", "--no-single-branch", "-b", "feature"]
    subprocess.run([*clone, f"file://{repo.root}", str(shallow)], check=True)
    with pytest.raises(UsageError, match=r"no common ancestor with HEAD .*fetch-depth: 0"):
        changes(shallow, "origin/main")


def test_a_repository_without_commits_says_so(tmp_path, monkeypatch):
    repo = make_repo(tmp_path / "empty", monkeypatch)
    repo.write("a.py", "x\n")
    with pytest.raises(UsageError, match="no such branch"):
        changes(repo.root, "main")  # main is unborn: it names no commit yet
