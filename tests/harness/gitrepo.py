"""Throwaway git repositories for the tests of `--changed`: real commits, branches and working trees."""

import os
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.harness.conftest import Throwaway, build_throwaway

# A repository made here must not read the user's or the machine's git configuration (a global
# `diff.noprefix`, a signing key, a hook path): the tests would then test that configuration.
GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "Tester",
    "GIT_AUTHOR_EMAIL": "tester@example.com",
    "GIT_COMMITTER_NAME": "Tester",
    "GIT_COMMITTER_EMAIL": "tester@example.com",
}

# The module of a project under review: its `patch:` target is what `--changed` gates on.
PATCH_SPEC = {
    "id": "mod-a",
    "title": "A",
    "source": ["calc"],
    "suites": ["suites/tests"],
    "patch": {"coverage": 50},
}


def patch_project(root: Path) -> Throwaway:
    """The throwaway project under `root` with the spec `PATCH_SPEC`, its scratch files ignored by git."""
    project = build_throwaway(root)
    project.write("suites/mod-a/module.yml", yaml.safe_dump(PATCH_SPEC))
    project.write(".gitignore", "reports/*/.work/\n")
    return project


@dataclass
class Repo:
    """A git repository in a temporary directory, with helpers to write files and commit."""

    root: Path

    def git(self, *args: str, cwd: Path | None = None) -> str:
        done = subprocess.run(
            ["git", *args], cwd=cwd or self.root, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed: {done.stderr}")
        return done.stdout.strip()

    def write(self, rel: str, text: str | bytes) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    def commit(self, message: str = "change") -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")


def make_repo(root: Path, monkeypatch) -> Repo:
    """An empty repository on branch `main` under `root`, git's environment kept to the test."""
    for name, value in GIT_ENV.items():
        monkeypatch.setenv(name, value)
    root.mkdir(parents=True, exist_ok=True)
    repo = Repo(root)
    repo.git("init", "-q", "-b", "main")
    return repo
