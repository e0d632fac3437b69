"""Where a module's outputs live under `reports/<id>/`: every report path comes from here."""

from dataclasses import dataclass
from pathlib import Path

from harness.spec.project import Project

REPORT = "COMPLETION_STATUS.md"
RESULT = "results.json"
BASELINE = "baseline.json"
BASELINE_LOG = "baseline.pytest.log"
LOG = "pytest.log"
JUNIT = "junit.xml"
COVERAGE_JSON = "coverage.json"
COVERAGE_XML = "coverage.xml"
HTML = "htmlcov"
SHARD_RECORD = "shard.json"
MUTATION = "mutation.json"
# Links in the report's "Artifacts" list, relative to the report, with and without coverage figures.
ARTIFACTS = (RESULT, COVERAGE_JSON, COVERAGE_XML, f"{HTML}/index.html", JUNIT, LOG)
ARTIFACTS_WITHOUT_COVERAGE = (RESULT, JUNIT, LOG)


@dataclass(frozen=True)
class ModuleFiles:
    """The paths of one module's outputs (or one step's, under `steps/<n>/`)."""

    project: Project
    module_id: str
    step: int | None = None

    @property
    def module_dir(self) -> Path:
        return self.project.reports / self.module_id

    @property
    def dir(self) -> Path:
        return self.module_dir / "steps" / str(self.step) if self.step else self.module_dir

    @property
    def report(self) -> Path:
        return self.dir / REPORT

    @property
    def result(self) -> Path:
        return self.dir / RESULT

    @property
    def log(self) -> Path:
        return self.dir / LOG

    @property
    def baseline(self) -> Path:
        return self.module_dir / BASELINE

    @property
    def baseline_log(self) -> Path:
        return self.module_dir / BASELINE_LOG

    @property
    def work(self) -> Path:
        """Scratch space of runs in progress (`run-*/`) and of stored shards (`shards/`)."""
        return self.module_dir / ".work"

    @property
    def shards(self) -> Path:
        return self.work / "shards"

    def shard(self, index: int, count: int) -> Path:
        return self.shards / f"{index}-of-{count}"

    @property
    def mutation(self) -> Path:
        """`harness mutate`'s result (mutation.json), beside the module's results.json."""
        return self.module_dir / MUTATION

    @property
    def mutation_shards(self) -> Path:
        return self.work / "mutation-shards"

    @property
    def mutation_cache(self) -> Path:
        """Verdicts by mutant, file and covering tests: what a later run need not run again."""
        return self.work / "mutation-cache.json"


def files(project: Project, module_id: str, step: int | None = None) -> ModuleFiles:
    return ModuleFiles(project, module_id, step)
