"""docs/harness.md's GitHub Actions workflow for shards, its steps run locally in separate checkouts.

Each matrix job runs in its own copy of a throwaway project (a checkout elsewhere on disk, as on another
machine); the shard data goes from one copy to another exactly as the workflow's upload and download
steps would carry it; the combine job runs in a third copy. Its figures must equal an unsharded run's.
"""

import fnmatch
import shlex
import shutil
from pathlib import Path

import yaml

DOC = Path(__file__).resolve().parents[2] / "docs" / "harness.md"
MATRIX = "${{ matrix.shard }}"


def workflow() -> dict:
    """The workflow between the doc's `shard-workflow` markers, parsed."""
    text = DOC.read_text(encoding="utf-8")
    block = text.split("<!-- shard-workflow:begin -->")[1].split("<!-- shard-workflow:end -->")[0]
    return yaml.safe_load(block.strip().removeprefix("```yaml").removesuffix("```"))


def uses(job: dict, action: str) -> list[dict]:
    return [step for step in job["steps"] if step.get("uses", "").startswith(action)]


def harness_commands(job: dict, shard: int | None = None) -> list[list[str]]:
    """The job's `harness ...` run steps as argument lists (without `harness`), the matrix filled in."""
    runs = [step["run"] for step in job["steps"] if step.get("run", "").startswith("harness ")]
    return [shlex.split(run.replace(MATRIX, str(shard)))[1:] for run in runs]


def upload(checkout: Path, step: dict, shard: int, artifacts: Path) -> list[Path]:
    """What actions/upload-artifact stores: the directory's files, hidden ones only if asked for."""
    options = step["with"]
    source = checkout / options["path"]
    keep_hidden = options.get("include-hidden-files") is True
    files = [
        path
        for path in sorted(source.rglob("*"))
        if path.is_file()
        and (keep_hidden or not any(part.startswith(".") for part in path.relative_to(checkout).parts))
    ]
    if not files and options.get("if-no-files-found") == "error":
        raise AssertionError(f"upload {options['name']}: no files found at {options['path']}")
    artifact = artifacts / options["name"].replace(MATRIX, str(shard))
    for path in files:
        dest = artifact / path.relative_to(source)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)
    return files


def download(checkout: Path, step: dict, artifacts: Path) -> None:
    """What actions/download-artifact does with `pattern`, `path` and `merge-multiple`."""
    options = step["with"]
    dest = checkout / options["path"]
    for artifact in sorted(artifacts.iterdir()):
        if fnmatch.fnmatchcase(artifact.name, options["pattern"]):
            target = dest if options.get("merge-multiple") else dest / artifact.name
            shutil.copytree(artifact, target, dirs_exist_ok=True)


def checkout(origin, root: Path):
    """Another checkout of the throwaway project, at another path."""
    shutil.copytree(origin.root, root)
    return type(origin)(root)


def figures(result: dict) -> dict:
    return {key: result[key] for key in ("status", "tests", "overall", "files", "suites", "skips")}


def test_the_documented_workflow_combines_shards_from_separate_checkouts(throwaway, tmp_path):
    flow = workflow()
    shard_job, combine_job = flow["jobs"]["shard"], flow["jobs"]["combine"]
    matrix = shard_job["strategy"]["matrix"]["shard"]
    throwaway.spec("module-6.7", suites=["suites/tests"])
    artifacts = tmp_path / "artifacts"

    for shard in matrix:  # one machine per matrix entry, each with its own checkout
        machine = checkout(throwaway, tmp_path / f"shard-{shard}" / "repo")
        for args in harness_commands(shard_job, shard):
            assert machine.harness(*args).exit_code == 0, args
        (step,) = uses(shard_job, "actions/upload-artifact")
        assert upload(machine.root, step, shard, artifacts)

    combiner = checkout(throwaway, tmp_path / "combine" / "repo")
    (step,) = uses(combine_job, "actions/download-artifact")
    download(combiner.root, step, artifacts)
    for args in harness_commands(combine_job):
        assert combiner.harness(*args).exit_code == 0, args

    whole = checkout(throwaway, tmp_path / "unsharded" / "repo")
    assert whole.harness("run", "module-6.7").exit_code == 0
    combined = combiner.result("module-6.7")
    assert combined["shards"] == len(matrix) == int(harness_commands(shard_job, 1)[0][-1].split("/")[1])
    assert figures(combined) == figures(whole.result("module-6.7"))
    assert combined["tests"]["passed"] == 3 and combined["files"]["calc/ops.py"]["percent"] > 0


def test_only_hidden_files_carry_the_coverage_data(throwaway, tmp_path):
    """Why the workflow sets include-hidden-files: without it the upload holds no `.coverage` at all."""
    throwaway.spec("module-6.7", suites=["suites/tests"])
    assert throwaway.harness("run", "module-6.7", "--shard", "1/2").exit_code == 0
    (step,) = uses(workflow()["jobs"]["shard"], "actions/upload-artifact")
    for hidden in (True, False):
        options = {**step["with"], "include-hidden-files": hidden, "if-no-files-found": "warn"}
        uploaded = upload(throwaway.root, {**step, "with": options}, 1, tmp_path / str(hidden))
        assert (".coverage" in {path.name for path in uploaded}) is hidden
