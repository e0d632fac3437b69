"""Where everything the harness keeps lives: every path it reads or writes is decided here and only here.

Project-wide: `reports/` (the project's `[tool.harness] reports`), `trace.yml`, `MAP.md`, the lock, the
MAP chart and the site `harness site` builds (`reports/site/`). Per module, `reports/<id>/` (a step's
outputs under `steps/<n>/`), and under it `.work/`, scratch space of runs in progress, stored shards and
the caches of `harness run` and `harness mutate`.
"""

import hashlib
import re
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
OUTCOMES = "outcomes.jsonl"  # a line per run: each test's outcome, at the source state it ran at
MUTATION_HTML = "mutation.html"  # the mutation record in the ecosystem's web component, beside mutation.json
PATCH = "patch.json"  # the change in front of the reviewer (`--changed`), and its report
PATCH_REPORT = "PATCH.md"
BADGE = "badge.svg"
TREND_CHART = "charts/coverage-trend.svg"
FILES_CHART = "charts/files.svg"
METRIC_CHART = "charts/metric-{}.svg"  # a recorded metric's trend, by its name made safe for a file name
MAP_CHART = "coverage-trend.svg"  # under reports/, shown in MAP.md
# What a run's pytest processes and coverage.py leave in its work directory, and which of them the
# report's "Artifacts" list links (relative to the report), with and without coverage figures.
PRODUCED = (COVERAGE_JSON, COVERAGE_XML, JUNIT)
ARTIFACTS = (RESULT, COVERAGE_JSON, COVERAGE_XML, f"{HTML}/index.html", JUNIT, LOG)
ARTIFACTS_WITHOUT_COVERAGE = (RESULT, JUNIT, LOG)
MUTATION_ARTIFACTS = (MUTATION_HTML, MUTATION)  # linked too once the module has a mutation record
SITE = "site"  # under reports/: `harness site`'s default output, which mirrors reports/
SITE_INDEX = "index.html"  # the site's front page, and each module's page (its completion report)
SITE_MARKER = ".harness-site"  # in every site harness builds: only such a directory is ever replaced


def reports(project: Project) -> Path:
    return project.root / project.reports_dir


def trace(project: Project) -> Path:
    return project.root / project.trace_file


def map_file(project: Project) -> Path:
    return project.root / project.map_file


def map_chart(project: Project) -> Path:
    return reports(project) / MAP_CHART


def site(project: Project) -> Path:
    return reports(project) / SITE


def lock(project: Project) -> Path:
    return reports(project) / ".harness.lock"


def own_files(project: Project) -> set[str]:
    """What the harness writes at the project's top (relative): left out of the tree's fingerprint."""
    return {project.trace_file, project.map_file}


@dataclass(frozen=True)
class ModuleFiles:
    """The paths of one module's outputs (or one step's, under `steps/<n>/`): made by `files()`."""

    project: Project
    module_id: str
    step: int | None
    module_dir: Path  # reports/<id>/
    dir: Path  # where this run's outputs go: the module's directory, or its step's
    report: Path
    result: Path
    log: Path
    junit: Path
    coverage_report: Path  # coverage.py's JSON report of the last run, beside results.json
    html: Path
    badge: Path
    trend_chart: Path
    files_chart: Path
    baseline: Path  # the measured baseline of a module whose baseline is a list of suites
    baseline_log: Path
    mutation: Path  # `harness mutate`'s result, beside the module's results.json
    mutation_html: Path  # the same, as a page to read
    work: Path  # scratch space of runs in progress (`run-*/`), stored shards and caches
    shards: Path
    mutation_shards: Path
    mutation_cache: Path  # verdicts by mutant, file and covering tests: what a later run need not run
    mutation_journal: Path  # verdicts appended as a run reaches them, folded into the cache at its end
    mutation_logs: Path
    per_test_data: Path  # the last whole run's coverage data, each test's lines under its own context
    per_test_meta: Path  # the tree it ran on, each test's duration and outcome, the start-up
    outcomes: Path  # the module's outcome log (its steps' runs too): flaky tests across runs
    # `--changed`: the last run of the affected tests (its contexts, kept apart from the whole run's),
    # its coverage.py JSON report, and the verdicts of the last `harness mutate --changed`, each with
    # the tree it was made on; patch.json and PATCH.md are made from them
    selected_data: Path
    selected_meta: Path
    selected_report: Path
    selected_mutants: Path
    patch: Path
    patch_report: Path

    def metric_chart(self, name: str) -> Path:
        return self.dir / metric_chart(name)

    def metric_charts(self) -> list[Path]:
        """The metric trend charts beside the report now (some may be of metrics no longer recorded)."""
        return sorted((self.dir / METRIC_CHART).parent.glob(METRIC_CHART.format("*").rsplit("/", 1)[1]))

    def shard(self, index: int, count: int) -> Path:
        return self.shards / split_name(index, count)

    def mutation_shard(self, index: int, count: int) -> Path:
        return self.mutation_shards / f"{split_name(index, count)}.json"


def files(project: Project, module_id: str, step: int | None = None) -> ModuleFiles:
    module_dir = reports(project) / module_id
    out = module_dir / "steps" / str(step) if step else module_dir
    work = module_dir / ".work"
    return ModuleFiles(
        project=project,
        module_id=module_id,
        step=step,
        module_dir=module_dir,
        dir=out,
        report=out / REPORT,
        result=out / RESULT,
        log=out / LOG,
        junit=out / JUNIT,
        coverage_report=out / COVERAGE_JSON,
        html=out / HTML,
        badge=out / BADGE,
        trend_chart=out / TREND_CHART,
        files_chart=out / FILES_CHART,
        baseline=module_dir / BASELINE,
        baseline_log=module_dir / BASELINE_LOG,
        mutation=module_dir / MUTATION,
        mutation_html=module_dir / MUTATION_HTML,
        work=work,
        shards=work / "shards",
        mutation_shards=work / "mutation-shards",
        mutation_cache=work / "mutation-cache.json",
        mutation_journal=work / "mutation-verdicts.jsonl",
        mutation_logs=work / "mutation-logs",
        per_test_data=work / "test-contexts.coverage",
        per_test_meta=work / "test-contexts.json",
        outcomes=module_dir / OUTCOMES,
        selected_data=work / "changed-contexts.coverage",
        selected_meta=work / "changed-contexts.json",
        selected_report=work / "changed-coverage.json",
        selected_mutants=work / "changed-mutants.json",
        patch=module_dir / PATCH,
        patch_report=module_dir / PATCH_REPORT,
    )


# Inside a run's scratch directory (`.work/run-*/`) under `harness run --repeat N`: each repetition's
# session (coverage data, records, pytest.log, coverage.py's reports), the replays of the tests that
# failed in one repetition and passed in another, and the repetitions' coverage data merged.
def repetition_dir(run_work: Path, number: int) -> Path:
    return run_work / f"rep-{number}"


def repetition_report_dir(run_work: Path, number: int) -> Path:
    return repetition_dir(run_work, number) / "report"


def replay_dir(run_work: Path) -> Path:
    return run_work / "replay"


def merged_data(run_work: Path) -> Path:
    return run_work / ".coverage"


def round_dir(run_work: Path, number: int) -> Path:
    """A round of the files that record a repeated metric (`repeat: K`), repetition `number` of them."""
    return run_work / f"round-{number}"


def metric_chart(name: str) -> str:
    """A metric's trend chart, relative to the report: the name's letters, digits, `.`, `_` and `-`,
    the rest `_` and then a digest of the name (so that `a b` and `a_b` do not share a file)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    if safe != name:
        safe += "-" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
    return METRIC_CHART.format(safe)


def split_name(index: int, count: int) -> str:
    """How shard `index` of `count` is named on disk (`2-of-4`)."""
    return f"{index}-of-{count}"


def split_of(name: str) -> tuple[int, int] | None:
    """The (index, count) a shard's file or directory name says, or None for another name."""
    stem = name.removesuffix(".json")
    index, sep, count = stem.partition("-of-")
    if not sep or not index.isdigit() or not count.isdigit():
        return None
    return int(index), int(count)
