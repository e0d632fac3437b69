"""`harness mutate`: generate mutants, map tests to lines, run each mutant in a private copy, record."""

import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import UsageError
from harness.measure import per_test
from harness.mutation.collect import map_tests
from harness.mutation.execute import Job, Pool, server_command
from harness.mutation.fork import FastMode, servers
from harness.mutation.generate import Mutant, generate
from harness.mutation.isolate import Workspace, environment, import_roots
from harness.mutation.selection import LineTests, Naming, Timing, mutant_words
from harness.spec import git
from harness.spec.model import ModuleSpec
from harness.spec.preflight import check_spec
from harness.spec.project import Project
from harness.spec.tree import project_files
from harness.store import disk, layout, trace
from harness.store import mutation as stored

Echo = Callable[[str], None]
SERVER_START = 300.0  # seconds a fast-mode server may take to import and collect the suites
PROGRESS_EVERY = 30.0  # the longest silence between progress lines, verdicts permitting


@dataclass(frozen=True)
class MutateOptions:
    """What to mutate and how: files (default: all measured), workers, shard, cache use, timeouts, and
    `plain`: every mutant as its own `python -m pytest` (the reference), instead of the fast mode."""

    files: tuple[str, ...] = ()
    workers: int = 1
    shard: tuple[int, int] | None = None
    fresh: bool = False
    verbose: bool = False
    timing: Timing = field(default_factory=Timing)
    plain: bool = False
    # `--changed`: per file, the lines a change adds or edits; only the mutants whose first mutated
    # line is one of them are made, and the tests of the last run of the affected tests map them
    changed: dict[str, frozenset[int]] | None = None


def chosen_files(project: Project, spec: ModuleSpec, measured: list[str], names: tuple[str, ...], cwd: Path):
    """The measured files to mutate: all of them, or those named (relative to the root or to `cwd`)."""
    inside = [f for f in measured if not f.startswith("../")]
    if not names:
        return inside
    chosen = []
    for name in names:
        rel = name.replace("\\", "/")
        if rel not in inside and (cwd / name).exists():
            path = (cwd / name).resolve()
            rel = path.relative_to(project.root).as_posix() if path.is_relative_to(project.root) else rel
        if rel not in inside:
            raise UsageError(
                f"--file {name}: not a file the module measures (source: {', '.join(spec.source)})"
            )
        chosen.append(rel)
    return list(dict.fromkeys(chosen))


@dataclass(frozen=True)
class Mutated:
    """What a run of the mutants gives: the files mutated, an entry per mutant (in source order), the
    order of every mutant of those files (a shard ran some of them), and when, at which commit, on
    which sources (`meta`: their digests and their texts)."""

    files: list[str]
    entries: list[dict]
    order: list[str]
    meta: dict


def mutate(project: Project, spec: ModuleSpec, options: MutateOptions, echo: Echo, cwd: Path) -> Mutated:
    """Run the mutants of the chosen files (of the shard, with `options.shard`) and judge each one."""
    files = chosen_files(project, spec, check_spec(project, spec), options.files, cwd)
    texts = {f: (project.root / f).read_bytes().decode("utf-8") for f in files}
    mutants = [m for f in files for m in generate(f, texts[f])]
    if options.changed is not None:
        mutants = [m for m in mutants if m.line in options.changed.get(m.file, ())]
    order = [m.id for m in mutants]
    if options.shard:
        mutants = [m for m in mutants if in_shard(m.id, *options.shard)]
    shard = f"{options.shard[0]}/{options.shard[1]}" if options.shard else None
    workers = f"{options.workers} worker(s)"
    label = f" (shard {shard})" if shard else ""
    echo(f"Mutating {spec.id}: {len(files)} file(s), {len(mutants)} mutant(s){label}, {workers}")
    started = disk.now()
    try:
        entries = _run(project, spec, options, files, mutants, texts, echo)
    except KeyboardInterrupt:
        commit = git.commit(project.root)
        trace.append(project, trace.MutationInterrupted(module=spec.id, commit=commit, shard=shard))
        raise
    meta = {
        "started_at": started,
        "finished_at": disk.now(),
        "commit": git.commit(project.root),
        "sources": {f: stored.digest(texts[f]) for f in files},
        "texts": {f: texts[f] for f in files},
    }
    return Mutated(files, entries, order, meta)


def in_shard(mutant_id: str, index: int, count: int) -> bool:
    """Shard `index` of `count` (1-based) takes the mutants whose id falls in its residue class."""
    return int(mutant_id, 16) % count == index - 1


def _run(project, spec, options, files, mutants, texts, echo) -> list[dict]:
    """Map tests to lines and run the mutants that need it, in copies removed however the run ends.
    Verdicts reach the cache as they come, so a run that is stopped resumes where it was."""
    if not mutants:  # nothing to judge: no copies, no mapping run
        return []
    copied = project_files(project.root, project.reports_dir)
    roots = import_roots(files, set(copied))
    logs = layout.files(project, spec.id).mutation_logs
    with Workspace(project.root, copied, options.workers) as ws:
        envs = [environment(copy, roots) for copy in ws.copies]
        workers = [
            (copy, env, ws.work(n) / "pytest.log")
            for n, (copy, env) in enumerate(zip(ws.copies, envs, strict=True), 1)
        ]
        serving = [(copy, env, log.with_name("server.log")) for copy, env, log in workers]
        with servers(fast_mode(spec, options, echo), serving) as started:
            tests = _mapping(project, spec, options, files, workers, logs, echo)
            plan = plan_jobs(project, spec, options, mutants, tests, texts)
            echo(
                f"  {len(plan.jobs)} to run, {len(plan.done)} decided without running"
                " (no tests, equivalent, cached)"
            )
            progress = _Progress(len(plan.jobs), echo, options.verbose)
            verdicts = stored.Verdicts(project, spec.id)
            keep = Keep(verdicts, plan.keys, progress)
            pool = Pool(workers, keep, logs, started, tests.durations, tests.overhead)
            try:
                judged = pool.run(plan.jobs)
            finally:
                verdicts.fold()
        if started:
            _report_modes(pool, echo)
    entries = dict(plan.done)
    for job in plan.jobs:
        mutant_id = job.mutant.id
        killer = pool.killed_by.get(mutant_id)
        entries[mutant_id] = stored.entry(job.mutant, judged[mutant_id], job.tests, killed_by=killer)
    return [entries[m.id] for m in mutants]


def _mapping(
    project, spec, options, files, workers: list[tuple[Path, dict, Path]], logs: Path, echo
) -> LineTests:
    """Which tests ran which lines: from the module's last `harness run` if it kept them and the
    project's files are unchanged since (not with --fresh), else from a mapping run split over the
    workers' copies (`(copy, environment, log)` each)."""
    kept = None
    if options.changed is not None and not options.fresh:
        kept = per_test.load(project, spec.id, files, selected=True)
        if kept is not None:
            echo("  tests mapped to lines by the last `harness run --changed` (no file changed since)")
            return LineTests(*kept)
    kept = None if options.fresh else per_test.load(project, spec.id, files)
    if kept is not None:
        echo("  tests mapped to lines by the module's last `harness run` (no file changed since)")
        return LineTests(*kept)
    split = f", split over {len(workers)} workers" if len(workers) > 1 else ""
    echo(f"  mapping tests to lines: the module's suites once, under coverage with test contexts{split}")
    copies = [(copy, env, log.parent) for copy, env, log in workers]
    return LineTests(*map_tests(spec, copies, files, logs, echo))


class Keep:
    """Hands each verdict to the store as it comes (`Verdicts.add`, so a run killed outright loses only
    the mutants it was running) and to the progress display. Called from the pool's worker threads."""

    def __init__(self, verdicts: stored.Verdicts, keys: dict[str, str], progress):
        self.verdicts, self.keys, self.progress = verdicts, keys, progress

    def __call__(self, job: Job, verdict: str, killer: str | None = None) -> None:
        self.verdicts.add(job.mutant.id, self.keys[job.mutant.id], verdict, killer)
        self.progress(job, verdict)


def _report_modes(pool: Pool, echo: Echo) -> None:
    forked, plain = pool.modes["forked"], pool.modes["plain"]
    echo(f"  {forked} run forked from a pytest server, {plain} as plain pytest")
    for reason, count in sorted(pool.reasons.items(), key=lambda item: -item[1]):
        echo(f"    {count} plain: {reason}")


def fast_mode(spec: ModuleSpec, options: MutateOptions, echo: Echo) -> FastMode | None:
    """The fast mode's servers (None with `plain`): the module's suites collected once per worker.
    They start with the mapping run; one that takes longer than SERVER_START to collect only costs
    its worker the fast mode."""
    if options.plain:
        return None
    paths = tuple(dict.fromkeys(suite.path for suite in spec.all_suites()))
    return FastMode(server_command(paths), SERVER_START, echo)


@dataclass
class Plan:
    """The jobs to run, the entries decided without running, and the cache key of each job's mutant."""

    jobs: list[Job]
    done: dict[str, dict]
    keys: dict[str, str]


def plan_jobs(project, spec, options, mutants: list[Mutant], tests: LineTests, texts: dict[str, str]) -> Plan:
    """Per mutant: equivalent (marked), no_tests, a cached verdict that still holds, or a job to run."""
    marks = stored.equivalent_marks(project, spec.id)
    cached = {} if options.fresh else stored.Verdicts(project, spec.id).cached()
    digests, naming = _Digests(project.root), Naming(project.root)
    plan = Plan([], {}, {})
    for mutant in mutants:
        selected = tests.covering(mutant.file, mutant.lines, _users(texts[mutant.file], mutant))
        selected = naming.first(selected, mutant_words(mutant.function))
        if mutant.id in marks:
            plan.done[mutant.id] = stored.entry(mutant, "equivalent", selected, marks[mutant.id])
            continue
        if not selected:
            plan.done[mutant.id] = stored.entry(mutant, "no_tests", ())
            continue
        key = cache_key(mutant.id, digests.text(texts[mutant.file]), selected, digests.tests(selected))
        hit = cached.get(mutant.id, {})
        if hit.get("key") == key and hit.get("status") in stored.JUDGED:
            killer = hit.get("killed_by")
            plan.done[mutant.id] = stored.entry(mutant, hit["status"], selected, killed_by=killer)
        else:
            plan.keys[mutant.id] = key
            fork = not tests.ran_outside_tests(mutant.file, mutant.lines)
            plan.jobs.append(Job(mutant, selected, tests.timeout(selected, options.timing), fork))
    return plan


def _users(text: str, mutant: Mutant) -> frozenset[int]:
    """Lines of the file, outside the mutant's own, that mention a name the mutated line binds."""
    if not mutant.names:
        return frozenset()
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, mutant.names)) + r")\b")
    first, last = mutant.lines
    return frozenset(
        n for n, line in enumerate(text.splitlines(), 1) if not first <= n <= last and pattern.search(line)
    )


class _Digests:
    """Content hashes of source texts and of test files with the conftest.py files above them."""

    def __init__(self, root: Path):
        self.root, self.memo = root, {}

    def text(self, text: str) -> str:
        return stored.digest(text)

    def file(self, rel: str) -> str:
        if rel not in self.memo:
            path = self.root / rel
            self.memo[rel] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "-"
        return self.memo[rel]

    def tests(self, tests: tuple[str, ...]) -> dict[str, str]:
        files = {}
        for test_file in {t.split("::")[0] for t in tests}:
            files[test_file] = self.file(test_file)
            for parent in Path(test_file).parents:
                conftest = (parent / "conftest.py").as_posix()
                if (self.root / conftest).is_file():
                    files[conftest] = self.file(conftest)
        return files


class _Progress:
    """A line per mutant with -v, else a line every tenth of the mutants, and at least every
    PROGRESS_EVERY seconds while verdicts come (a long run is never silent for minutes)."""

    def __init__(self, total: int, echo: Echo, verbose: bool, clock=time.monotonic):
        self.total, self.echo, self.verbose, self.clock = total, echo, verbose, clock
        self.counts: dict[str, int] = {}
        self.step = max(1, total // 10)
        self.shown_at = clock()

    def __call__(self, job: Job, verdict: str) -> None:
        self.counts[verdict] = self.counts.get(verdict, 0) + 1
        done = sum(self.counts.values())
        if self.verbose:
            m = job.mutant
            self.echo(f"  [{done}/{self.total}] {verdict:<8} {m.file}:{m.line} {m.operator} ({m.id})")
            return
        late = self.clock() - self.shown_at >= PROGRESS_EVERY
        if late or done % self.step == 0 or done == self.total:
            tally = ", ".join(f"{n} {v}" for v, n in sorted(self.counts.items()))
            self.echo(f"  {done}/{self.total} run: {tally}")
            self.shown_at = self.clock()


def cache_key(mutant_id: str, file_digest: str, tests: tuple[str, ...], test_digests: dict[str, str]) -> str:
    """What a stored verdict depends on: the mutated file, the covering tests and their files' contents."""
    parts = [mutant_id, file_digest, *sorted(tests), *(f"{p}={d}" for p, d in sorted(test_digests.items()))]
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()
