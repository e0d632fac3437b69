"""The GitHub Actions workflow of docs/harness.md ("Gating pull requests"), replayed step by step.

A throwaway repository plays GitHub: a push to main runs the workflow's main-branch steps in a full
clone (the record is made and "saved" to a dict standing for the Actions cache), then a pull request
that edits one function runs the pull-request steps in another clone (the record is restored by key or
key prefix, then the gate runs). `pip install` and `gh` steps are skipped: the harness under test is
already installed, and there is no GitHub here. Only the expressions and `if:` forms the page uses are
understood; anything else fails the test, so the page cannot drift from what is replayed.
"""

import glob
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness.spec.project import Project
from harness.store import layout
from tests.harness.gitrepo import PATCH_SPEC, Repo, make_repo, patch_project

DOCS = Path(__file__).parents[2] / "docs" / "harness.md"
BIN = Path(sys.executable).parent
RECORD = layout.files(Project(Path("/p")), "mod-a")  # where the record lives, relative to a root


def workflow() -> dict:
    text = DOCS.read_text(encoding="utf-8")
    section = text.split("### A GitHub Actions workflow", 1)[1]
    return yaml.safe_load(re.search(r"```yaml\n(.*?)```", section, re.S).group(1))


class Replay:
    """Runs one event's steps of the workflow in a clone, with a dict for the Actions cache."""

    def __init__(self, flow: dict, cache: dict, context: dict):
        self.flow, self.cache, self.context = flow, cache, context
        self.env = {k: self.expand(str(v)) for k, v in flow.get("env", {}).items()}
        assert "MODULE" in self.env
        self.env["MODULE"] = PATCH_SPEC["id"]  # the page's module is the bundled one; this project's is mod-a

    def expand(self, text: str) -> str:
        return re.sub(r"\$\{\{\s*([\w.]+)\s*\}\}", lambda m: self._value(m.group(1)), text)

    def _value(self, name: str) -> str:
        if name.startswith("env."):
            return self.env[name[4:]]
        return self.context[name]  # a KeyError: the page uses an expression the replay does not know

    def wanted(self, step: dict, event: str) -> bool:
        condition = step.get("if", "").removeprefix("always() && ")
        if not condition:
            return True
        match = re.fullmatch(r"github\.event_name == '(\w+)'", condition)
        assert match, f"an `if:` the replay does not understand: {condition}"
        return match.group(1) == event

    def run(self, event: str, clone: Path) -> list[subprocess.CompletedProcess]:
        done = []
        for job in self.flow["jobs"].values():
            for step in job["steps"]:
                if self.wanted(step, event):
                    done += self._step(step, clone)
        return done

    def _step(self, step: dict, clone: Path) -> list:
        uses, options = (
            step.get("uses", ""),
            {k: self.expand(str(v)) for k, v in step.get("with", {}).items()},
        )
        if uses.startswith(("actions/checkout@", "actions/setup-python@")):
            return []
        if uses.startswith("actions/cache/save@"):
            self.cache[options["key"]] = {
                p: Path(p).read_bytes()
                for p in glob.glob(options["path"], root_dir=clone)
                for p in [str(clone / p)]
            }
            return []
        if uses.startswith("actions/cache/restore@"):
            key = options["key"] if options["key"] in self.cache else None
            prefix = options.get("restore-keys", "\0")
            key = key or next((k for k in reversed(list(self.cache)) if k.startswith(prefix)), None)
            for path, data in (self.cache.get(key) or {}).items():
                target = clone / Path(path).relative_to(self.context["origin-clone"])
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            return []
        assert not uses, f"a step the replay does not know: {uses}"
        command = self.expand(step["run"])
        if command.startswith(("pip install", "gh ")):
            return []
        env = {**os.environ, **self.env, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
        return [subprocess.run(["bash", "-c", command], cwd=clone, env=env, capture_output=True, text=True)]


@pytest.fixture
def origin(tmp_path, monkeypatch):
    """The repository GitHub would hold: the throwaway project on main, with a `patch:` spec."""
    for name in ("DJANGO_SETTINGS_MODULE", "PYTEST_ADDOPTS", "COVERAGE_PROCESS_START", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)
    repo = make_repo(tmp_path / "origin", monkeypatch)
    patch_project(repo.root)
    repo.commit("main")
    return repo


def _clone(origin: Repo, dest: Path, branch: str) -> Repo:
    origin.git("clone", "-q", "--branch", branch, str(origin.root), str(dest))  # fetch-depth: 0
    return Repo(dest)


def _main_push(origin: Repo, tmp_path: Path, cache: dict) -> Replay:
    clone = _clone(origin, tmp_path / "ci-main", "main")
    context = {"github.sha": clone.git("rev-parse", "HEAD"), "origin-clone": str(clone.root)}
    replay = Replay(workflow(), cache, context)
    for done in replay.run("push", clone.root):
        assert done.returncode == 0, done.stdout + done.stderr
    return replay


def _pull_request(origin: Repo, tmp_path: Path, replay: Replay) -> tuple[Repo, list]:
    base = origin.git("rev-parse", "main")
    origin.git("checkout", "-q", "-b", "feature")
    origin.write(
        "calc/ops.py", (origin.root / "calc/ops.py").read_text().replace("return 0\n", "return 0 * x\n")
    )
    origin.commit("edit sign()")
    clone = _clone(origin, tmp_path / "ci-pr", "feature")
    replay.context.update(
        {
            "github.event.pull_request.base.sha": base,
            "github.base_ref": "main",
            "github.token": "unused",
            "github.event.pull_request.number": "1",
        }
    )
    return clone, replay.run("pull_request", clone.root)


def test_the_workflow_fetches_history_and_caches_the_record_the_harness_keeps():
    steps = workflow()["jobs"]["gate"]["steps"]
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0
    paths = {s["with"]["path"] for s in steps if "actions/cache" in s.get("uses", "")}
    assert len(paths) == 1
    pattern = paths.pop().rsplit("/", 1)[1]
    assert all(
        re.fullmatch(pattern.replace(".", r"\.").replace("*", ".*"), f)
        for f in (RECORD.per_test_data.name, RECORD.per_test_meta.name)
    )


def test_the_main_push_keeps_a_record_that_the_pull_request_restores(origin, tmp_path):
    cache: dict = {}
    replay = _main_push(origin, tmp_path, cache)
    [(key, files)] = cache.items()
    assert key == f"harness-record-mod-a-{origin.git('rev-parse', 'main')}"
    names = sorted([RECORD.per_test_data.name, RECORD.per_test_meta.name])
    assert sorted(Path(p).name for p in files) == names
    replay.context.update({"github.event.pull_request.base.sha": "another", "github.base_ref": "main"})
    clone = _clone(origin, tmp_path / "ci-pr", "main")
    pr_steps = [s for s in workflow()["jobs"]["gate"]["steps"] if "cache/restore" in s.get("uses", "")]
    replay._step(pr_steps[0], clone.root)  # the exact key is gone: the prefix finds main's newest
    assert (clone.root / RECORD.per_test_meta.relative_to(Path("/p"))).is_file()
    shutil.rmtree(clone.root)


def test_the_pull_request_runs_the_gate_and_writes_the_comment(origin, tmp_path):
    replay = _main_push(origin, tmp_path, {})
    clone, done = _pull_request(origin, tmp_path, replay)
    gate = done[-1]
    assert gate.returncode == 1, gate.stdout + gate.stderr  # sign()'s `return 0 * x` is run by no test
    assert "patch: coverage 0% < target 50% (missing: ops.py 13)" in gate.stdout
    assert "### This change: ❌" in (clone.root / "patch-comment.md").read_text(encoding="utf-8")
