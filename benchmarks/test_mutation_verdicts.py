"""The fast mode's verdicts are plain pytest's: a sample of module-6.7's mutants judged both ways.

    .venv/bin/python -m pytest benchmarks/test_mutation_verdicts.py -p no:randomly

`.ci/run` runs it (about a minute on two cores). The sample is judged on a copy of this
repository's working tree by the same machinery `harness mutate` uses: one mapping run, then the same jobs
through a pool of plain `python -m pytest` runs and through a pool of fast-mode servers, which must
agree mutant for mutant. The suites under test use threads (`database_sync_to_async`), event loops
(Channels consumers), a SQLite test database and a private redis-server, as the issue asks. Beside
generated mutants (the first few of each file by id with at most `MAX_TESTS` covering tests, so the
sample changes only when the code does), three are written here so that every verdict occurs
whatever the suites come to catch: one that survives in a thread, one that survives in the event
loop, and one that hangs the event loop (`timeout`).
"""

from pathlib import Path

from harness.mutation.collect import map_tests
from harness.mutation.engine import MutateOptions, fast_mode, plan_jobs
from harness.mutation.execute import FORK_START, Job, Pool, stages
from harness.mutation.fork import servers
from harness.mutation.generate import Mutant, generate
from harness.mutation.isolate import Workspace, environment, import_roots, make_copy
from harness.mutation.selection import LineTests
from harness.spec.catalog import find_spec
from harness.spec.project import load_project
from harness.spec.tree import project_files

MODULE = "module-6.7"
FILES = (
    "target_app/realtime/middleware.py",
    "target_app/realtime/match_consumer.py",
    "target_app/realtime/ratelimit_backends.py",
)
PER_FILE = 3
MAX_TESTS = 20
HANG_SECONDS = 6.0  # the hanging mutant's timeout, in both modes (its tests never end)
# (file, text, replacement, verdict): replacements of whole lines, as generated mutants are.
HANDMADE = [
    (
        "target_app/realtime/match_consumer.py",
        "    return Match.objects.filter(pk=match_id).first()\n",
        "    match_id = int(match_id)\n    return Match.objects.filter(pk=match_id).first()\n",
        "survived",  # runs in the executor thread of `database_sync_to_async`
    ),
    (
        "target_app/realtime/match_consumer.py",
        "        return utils.match_group(object_id)\n",
        "        return utils.match_group(int(object_id))\n",
        "survived",  # runs in the consumer, on the event loop
    ),
    (
        "target_app/realtime/match_consumer.py",
        "    value = data.get(key)\n",
        "    while data:\n        pass\n    value = data.get(key)\n",
        "timeout",  # blocks the event loop the test waits on
    ),
]


def _repository_copy(dest: Path) -> Path:
    """This checkout as `harness mutate` copies a tree (its working files, uncommitted changes too:
    the copy's own `harness` package is the one its pytest processes load)."""
    repo = Path(__file__).resolve().parents[1]
    return make_copy(repo, project_files(repo, "reports"), dest)


def _handmade(texts: dict[str, str]) -> list[tuple[Mutant, str]]:
    made = []
    for number, (file, old, new, verdict) in enumerate(HANDMADE):
        text = texts[file]
        assert text.count(old) == 1, f"{file} changed: {old!r} is not there once; pick another line"
        line = text[: text.index(old)].count("\n") + 1
        mutant = Mutant(
            f"handmade-{number}", file, line, (line, line), "handmade", None, "", text.replace(old, new)
        )
        made.append((mutant, verdict))
    return made


def _sample(jobs: list[Job]) -> list[Job]:
    """Per file the first PER_FILE forkable jobs by id (cheap ones), and two that start a redis-server."""
    cheap = sorted((j for j in jobs if j.fork and len(j.tests) <= MAX_TESTS), key=lambda j: j.mutant.id)
    picked = [j for file in FILES for j in [j for j in cheap if j.mutant.file == file][:PER_FILE]]
    on_redis = [j for j in cheap if j not in picked and any("redis" in t for t in j.tests)]
    return picked + on_redis[:2]


def test_fast_mode_verdicts_equal_plain_pytest_verdicts(tmp_path, bench_print):
    root = _repository_copy(tmp_path / "repo")
    project = load_project(root)
    spec = find_spec(project, MODULE)
    texts = {f: (root / f).read_text(encoding="utf-8") for f in FILES}
    handmade = _handmade(texts)
    mutants = [m for f in FILES for m in generate(f, texts[f])] + [m for m, _ in handmade]
    options = MutateOptions(files=FILES, workers=2, fresh=True)
    copied = project_files(root, project.reports_dir)
    roots = import_roots(FILES, set(copied))
    logs = tmp_path / "logs"
    with Workspace(root, copied, options.workers) as ws:
        envs = [environment(copy, roots) for copy in ws.copies]
        workers = [
            (c, e, ws.work(n) / "pytest.log") for n, (c, e) in enumerate(zip(ws.copies, envs, strict=True), 1)
        ]
        tests = LineTests(
            *map_tests(spec, [(c, e, log.parent) for c, e, log in workers], list(FILES), logs, print)
        )
        plan = plan_jobs(project, spec, options, mutants, tests, texts)
        made = {j.mutant.id: j for j in plan.jobs if j.mutant.operator == "handmade"}
        made["handmade-2"] = Job(made["handmade-2"].mutant, made["handmade-2"].tests, HANG_SECONDS, True)
        jobs = _sample(plan.jobs) + list(made.values())
        assert all(job.fork for job in jobs)
        plain = Pool(workers, lambda *verdict: None, logs).run(jobs)
        serving = [(c, e, log.with_name("server.log")) for c, e, log in workers]
        with servers(fast_mode(spec, options, print), serving) as started:
            pool = Pool(workers, lambda *verdict: None, logs, started, tests.durations, tests.overhead)
            fast = pool.run(jobs)
    rows = [
        f"{j.mutant.id} {j.mutant.file}:{j.mutant.line} {plain[j.mutant.id]}/{fast[j.mutant.id]}"
        for j in jobs
    ]
    bench_print("fast mode against plain pytest, mutant by mutant (plain/fast):")
    for row in rows:
        bench_print(f"  {row}")
    bench_print(f"fast mode: {pool.modes}, plain because: {pool.reasons}")
    assert fast == plain
    staged = [j for j in jobs if len(stages(j.tests, tests.durations, FORK_START)) > 1]
    bench_print(f"run in two stages in the fast mode: {len(staged)} of {len(jobs)}")
    assert {plain[j.mutant.id] for j in staged} >= {"killed", "survived"}  # both ends of the stages
    assert pool.modes == {"forked": len(jobs), "plain": 0}  # every one of them ran in a forked child
    assert {plain[m.id] for m, _ in handmade} == {"survived", "timeout"}
    assert [plain[m.id] for m, _ in handmade] == [verdict for _, _, _, verdict in HANDMADE]
    assert "killed" in plain.values()
    assert {j.mutant.file for j in jobs} == set(FILES)
    assert any("redis" in t for j in jobs for t in j.tests)
