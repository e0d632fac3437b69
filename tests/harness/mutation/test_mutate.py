"""`harness mutate` end to end on a throwaway project whose tests deliberately miss one mutant."""

import dataclasses
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.measure import per_test
from harness.spec.catalog import find_spec
from harness.spec.model import Target
from harness.spec.project import load_project
from harness.store import layout
from harness.store import mutation as stored
from harness.store.mutation import total
from tests.harness.conftest import Throwaway, build_throwaway

OPS = '''\
"""Arithmetic with a deliberate gap in its tests."""


def add(a, b):
    return a + b


def is_positive(x):
    return x > 0


def countdown(n):
    while n > 0:
        n -= 1
    return n


def never_called(x):
    return x * 2
'''

TESTS = {
    "test_add.py": "from calc import ops\n\n\ndef test_add():\n    assert ops.add(2, 3) == 5\n",
    "test_positive.py": (
        "from calc import ops\n\n\ndef test_is_positive():\n"
        "    assert ops.is_positive(1) is True\n    assert ops.is_positive(-5) is False\n"
    ),
    "test_countdown.py": (
        "from calc import ops\n\n\ndef test_countdown():\n    assert ops.countdown(3) == 0\n"
    ),
}

ADD, POSITIVE, COUNTDOWN = (
    "suites/m/test_add.py::test_add",
    "suites/m/test_positive.py::test_is_positive",
    "suites/m/test_countdown.py::test_countdown",
)
# (line, operator) -> (status, tests): `x > 0` -> `x >= 0` survives (nobody asks about 0), the two
# mutants of `n -= 1` that never reach 0 loop for ever, and nothing calls never_called.
EXPECTED = {
    (5, "return-value"): ("killed", [ADD]),
    (5, "arithmetic"): ("killed", [ADD]),
    (9, "return-value"): ("killed", [POSITIVE]),
    (9, "comparison"): ("survived", [POSITIVE]),
    (9, "constant"): ("killed", [POSITIVE]),
    (13, "comparison"): ("killed", [COUNTDOWN]),
    (13, "constant"): ("killed", [COUNTDOWN]),
    (14, "assignment"): ("timeout", [COUNTDOWN]),
    (14, "arithmetic"): ("timeout", [COUNTDOWN]),
    (14, "constant"): ("killed", [COUNTDOWN]),
    (15, "return-value"): ("killed", [COUNTDOWN]),
    (19, "return-value"): ("no_tests", []),
    (19, "arithmetic"): ("no_tests", []),
    (19, "constant"): ("no_tests", []),
}
FAST = ("--timeout-factor", "2", "--timeout-slack", "0.5")


def build(root: Path, target: dict) -> Throwaway:
    project = build_throwaway(root)
    project.write("calc/ops.py", OPS)
    for name, text in TESTS.items():
        project.write(f"suites/m/{name}", text)
    project.spec("m", suites=["suites/m"], targets={"calc/ops.py": target})
    return project


def recorded(root: Path, module: str = "m") -> dict:
    """The module's mutation.json as the store reads it."""
    return stored.load(layout.files(load_project(root), module))


def by_position(doc: dict) -> dict:
    return {(m["line"], m["operator"]): (m["status"], m["tests"]) for m in doc["mutants"]}


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def mutated(tmp_path_factory):
    """The throwaway project after one `harness mutate m --workers 2`, with the command's result."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ("DJANGO_SETTINGS_MODULE", "PYTEST_ADDOPTS", "COVERAGE_PROCESS_START"):
            patch.delenv(name, raising=False)
        project = build(tmp_path_factory.mktemp("mutation") / "proj", {"mutation": 90})
        sources = {k: v for k, v in snapshot(project.root).items() if not k.startswith("reports/")}
        result = project.harness("mutate", "m", "--workers", "2", *FAST)
        doc = recorded(project.root)
        yield project, result, doc, sources


@pytest.fixture
def copied(mutated, tmp_path, monkeypatch):
    """A copy of the mutated project (with its stored result and cache) to change."""
    for name in ("DJANGO_SETTINGS_MODULE", "PYTEST_ADDOPTS", "COVERAGE_PROCESS_START"):
        monkeypatch.delenv(name, raising=False)
    shutil.copytree(mutated[0].root, tmp_path / "proj")
    return Throwaway(tmp_path / "proj")


def test_every_verdict_and_the_score_are_exact(mutated):
    _, result, doc, _ = mutated
    assert by_position(doc) == EXPECTED
    # Each killed mutant here has one covering test, and it is the one that failed.
    killers = [(m.get("killed_by"), m["tests"] if m["status"] == "killed" else None) for m in doc["mutants"]]
    assert all(killed_by == expected for killed_by, expected in killers)
    assert doc["files"]["calc/ops.py"] == {
        "mutants": 14,
        "killed": 8,
        "survived": 1,
        "timeout": 2,
        "no_tests": 3,
        "equivalent": 0,
        "score": 100 * 10 / 14,
    }
    assert doc["files"]["calc/__init__.py"]["score"] is None
    assert doc["sources"]["calc/ops.py"] == hashlib.sha256(OPS.encode()).hexdigest()
    assert set(doc["mutants"][0]) == {
        "id",
        "file",
        "line",
        "operator",
        "function",
        "diff",
        "status",
        "tests",
        "rationale",
        "killed_by",
    }
    assert "11 run forked from a pytest server, 0 as plain pytest" in result.output  # the fast mode
    assert result.exit_code == 1, result.output  # 71.4% < the mutation target of 90
    assert "calc/ops.py: mutation score 71.4% < target 90%" in result.output
    assert "survived calc/ops.py:9 comparison in is_positive: return x > 0 -> return x >= 0" in result.output


def test_the_record_is_the_standard_document_with_its_sources_and_mutation_html_beside_it(mutated):
    project, result, doc, _ = mutated
    at = layout.files(load_project(project.root), "m")
    data = json.loads(at.mutation.read_text(encoding="utf-8"))
    assert (data["schemaVersion"], data["thresholds"], data["module"]) == ("2", {"high": 90, "low": 90}, "m")
    assert data["files"]["calc/ops.py"]["source"] == OPS and doc["texts"]["calc/ops.py"] == OPS
    survivor = next(m for m in data["files"]["calc/ops.py"]["mutants"] if m["status"] == "Survived")
    assert (survivor["location"]["start"], survivor["replacement"]) == ({"line": 9, "column": 14}, ">=")
    page = at.mutation_html.read_text(encoding="utf-8")
    assert "<mutation-test-report-app" in page and "<title>m mutation report</title>" in page
    assert '"source":' + json.dumps(OPS).replace("<", "\\u003c") in page
    assert "Mutation result: reports/m/mutation.json (to read: reports/m/mutation.html)" in result.output


def test_a_record_in_the_earlier_format_is_read_and_written_again_in_the_standard_one(copied, mutated):
    at = layout.files(load_project(copied.root), "m")
    earlier = {k: v for k, v in mutated[2].items() if k != "texts"}
    at.mutation.write_text(json.dumps(earlier), encoding="utf-8")  # as harness mutate wrote it before
    copied.write("calc/__init__.py", '"""Nothing here to mutate."""\n')
    result = copied.harness("mutate", "m", "--file", "calc/__init__.py", *FAST)
    assert result.exit_code == 1, result.output  # ops.py's stored score still counts, under its target
    assert json.loads(at.mutation.read_text(encoding="utf-8"))["schemaVersion"] == "2"
    doc = recorded(copied.root)
    assert [m for m in doc["mutants"] if m["file"] == "calc/ops.py"] == mutated[2]["mutants"]
    # ops.py's text is recovered from the unchanged file; __init__.py's is this run's.
    assert doc["texts"] == {"calc/__init__.py": '"""Nothing here to mutate."""\n', "calc/ops.py": OPS}


def test_the_project_tree_is_unchanged_and_the_trace_has_the_scores(mutated):
    project, _, _, sources = mutated
    assert {k: v for k, v in snapshot(project.root).items() if k in sources} == sources
    event = project.trace()[-1]
    assert (event["event"], event["files"]) == (
        "mutation_finished",
        {"calc/__init__.py": None, "calc/ops.py": 100 * 10 / 14},
    )


def test_diffs_apply_to_the_tree_they_were_made_from(mutated, tmp_path):
    shutil.copytree(mutated[0].root / "calc", tmp_path / "calc")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    for mutant in mutated[2]["mutants"]:
        (tmp_path / "m.diff").write_text(mutant["diff"], encoding="utf-8")
        check = subprocess.run(
            ["git", "apply", "--check", "m.diff"], cwd=tmp_path, capture_output=True, text=True
        )
        assert check.returncode == 0, check.stderr


def test_a_survivor_marked_equivalent_leaves_the_score_but_stays_listed(copied):
    survivor = next(m for m in recorded(copied.root)["mutants"] if m["status"] == "survived")
    marked = copied.harness(
        "mutate", "m", "--equivalent", survivor["id"], "--rationale", "0 never reaches it"
    )
    assert marked.exit_code == 0, marked.output
    doc = recorded(copied.root)
    assert doc["files"]["calc/ops.py"]["score"] == 100 * 10 / 13
    assert [m["rationale"] for m in doc["mutants"] if m["status"] == "equivalent"] == ["0 never reaches it"]
    *_, event, scored = copied.trace()
    assert (event["event"], event["mutant"], event["rationale"]) == (
        "mutant_equivalent",
        survivor["id"],
        "0 never reaches it",
    )
    assert (scored["event"], scored["score"]) == ("mutation_finished", doc_score(doc))
    killed = next(m["id"] for m in doc["mutants"] if m["status"] == "killed")
    refused = copied.harness("mutate", "m", "--equivalent", killed, "--rationale", "x")
    assert (refused.exit_code, refused.output.strip()) == (
        2,
        f"Error: m: mutant {killed} was killed: a test tells it apart, so it is not equivalent",
    )


def test_a_second_run_takes_unchanged_verdicts_from_the_cache_and_reruns_changed_tests(copied, mutated):
    again = copied.harness("mutate", "m", *FAST)
    assert "0 to run, 14 decided without running" in again.output
    assert recorded(copied.root)["mutants"] == mutated[2]["mutants"]  # killers too: the cache keeps them
    changed_test = TESTS["test_positive.py"].replace("is_positive(1) is True", "is_positive(0) is False")
    copied.write("suites/m/test_positive.py", changed_test)
    changed = copied.harness("mutate", "m", *FAST)
    assert "3 to run, 11 decided without running" in changed.output  # the mutants test_is_positive covers
    assert by_position(recorded(copied.root))[(9, "comparison")][0] == "killed"


def test_mutate_takes_the_tests_of_each_line_from_the_last_harness_run_while_no_file_changed(copied):
    (copied.root / "reports/m/.work/mutation-cache.json").unlink()  # every mutant runs again
    run = copied.harness("run", "m")
    assert run.exit_code == 1, run.output  # it gates on the stored score: 10 of 14, under 90%
    assert (copied.root / "reports/m/.work/test-contexts.coverage").is_file()
    reused = copied.harness("mutate", "m", *FAST)
    assert "tests mapped to lines by the module's last `harness run`" in reused.output
    assert "mapping tests to lines" not in reused.output
    assert by_position(recorded(copied.root)) == EXPECTED
    copied.write("suites/m/test_add.py", TESTS["test_add.py"] + "\n")  # any file changed: not reused
    again = copied.harness("mutate", "m", "--fresh", *FAST)
    assert "mapping tests to lines: the module's suites once" in again.output
    assert by_position(recorded(copied.root)) == EXPECTED
    stale = copied.harness("mutate", "m", *FAST)
    assert "mapping tests to lines: the module's suites once" in stale.output


def test_only_a_whole_module_run_of_a_module_with_mutation_targets_keeps_its_test_contexts(copied):
    spec = find_spec(load_project(copied.root), "m")
    assert per_test.wanted(spec, None, None, ())
    assert not per_test.wanted(spec, 1, None, ())  # a step ran a part of the tests
    assert not per_test.wanted(spec, None, (1, 2), ())
    assert not per_test.wanted(spec, None, None, ("-k", "add"))
    plain = dataclasses.replace(spec, targets=(Target("calc/ops.py", percent=90),))
    assert not per_test.wanted(plain, None, None, ())
    project = load_project(copied.root)
    assert per_test.load(project, "m", ["calc/ops.py"]) is None  # never kept
    at = layout.files(project, "m")
    meta, data = at.per_test_meta, at.per_test_data
    meta.write_text(json.dumps({"tree": per_test.tree_stamp(project)}), encoding="utf-8")
    data.write_bytes(b"not a coverage data file")
    assert per_test.load(project, "m", ["calc/ops.py"]) is None  # unreadable: a mapping run does
    whole = {"tree": per_test.tree_stamp(project), "durations": {}, "failed": [], "startup": 1.0}
    meta.write_text(json.dumps(whole), encoding="utf-8")
    assert per_test.load(project, "m", ["calc/ops.py"]) is None
    result = copied.harness("mutate", "m", "--file", "calc/ops.py", *FAST)
    assert result.exit_code == 1, result.output  # the score, 10 of 14, is under its 90% target
    assert "mapping tests to lines: the module's suites once" in result.output


def test_shards_combine_into_the_result_of_one_run(copied, mutated):
    for shard in ("1/2", "2/2"):
        result = copied.harness("mutate", "m", "--shard", shard, "--fresh", "--workers", "2", *FAST)
        assert result.exit_code == 0, result.output
    early = copied.harness("combine", "m", "--mutation")
    combined = recorded(copied.root)
    assert (combined["files"], combined["mutants"]) == (mutated[2]["files"], mutated[2]["mutants"])
    assert combined["texts"] == mutated[2]["texts"]  # the shards carry the sources
    assert early.exit_code == 1  # the same gating as the one run
    shutil.rmtree(copied.root / "reports/m/.work/mutation-shards")
    copied.harness("mutate", "m", "--shard", "1/2", *FAST)
    missing = copied.harness("combine", "m", "--mutation")
    assert (missing.exit_code, missing.output.strip()) == (
        2,
        "Error: m: mutation shard(s) 2/2 not finished yet",
    )


@pytest.mark.parametrize(
    "sig, started",
    [
        (signal.SIGTERM, "temp/harness-mutate-*/worker-1/pytest.log"),  # a mutant's pytest is running
        (signal.SIGINT, "proj/reports/m/.work/mutation-logs/contexts-1.log"),  # the mapping run is
    ],
    ids=["sigterm-mutant", "sigint-mapping"],
)
def test_a_killed_run_leaves_the_tree_unchanged_and_no_copies_or_processes(copied, tmp_path, sig, started):
    temp = tmp_path / "temp"
    temp.mkdir()
    shutil.rmtree(copied.root / "reports/m/.work/mutation-logs")
    before = snapshot(copied.root)
    env = {**os.environ, "TMPDIR": str(temp)}
    cmd = [
        sys.executable,
        "-c",
        "from harness.cli import main; main()",
        "--root",
        str(copied.root),
        "mutate",
        "m",
        "--fresh",
        "--timeout-factor",
        "50",
    ]
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(started)) and time.monotonic() < deadline:
        time.sleep(0.05)  # waiting for the first mutant's pytest to start, not for time to pass
    proc.send_signal(sig)
    output = proc.communicate(timeout=30)[0].decode()
    assert proc.returncode != 0, output
    assert list(temp.iterdir()) == [], output
    # Everything but the event log and the harness's scratch logs: sources, tests, mutation.json, cache.
    kept = [k for k in before if k != "trace.yml"]
    assert {k: snapshot(copied.root).get(k) for k in kept} == {k: before[k] for k in kept}
    assert copied.trace()[-1]["event"] == "mutation_interrupted"
    left = [p for p in Path("/proc").glob("[0-9]*") if _cwd_in(p, temp)]
    assert not left, [(p / "cmdline").read_bytes() for p in left]


def test_a_stopped_run_resumes_from_the_verdicts_it_reached(copied):
    cache = copied.root / "reports/m/.work/mutation-cache.json"
    cache.unlink()
    cmd = [sys.executable, "-c", "from harness.cli import main; main()", "--root", str(copied.root)]
    proc = subprocess.Popen(
        [*cmd, "mutate", "m", "-v", *FAST], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    seen = []
    for line in proc.stdout:  # until the first verdict is out
        seen.append(line)
        if line.lstrip().startswith("[1/"):
            break
    proc.send_signal(signal.SIGTERM)
    seen.append(proc.communicate(timeout=30)[0])
    assert proc.returncode != 0, "".join(seen)
    reached = json.loads(cache.read_text())["mutants"]
    assert reached, "".join(seen)
    again = copied.harness("mutate", "m", *FAST)
    assert f"{11 - len(reached)} to run, {3 + len(reached)} decided without running" in again.output
    assert by_position(recorded(copied.root)) == EXPECTED


def test_a_run_killed_outright_loses_only_the_mutants_it_was_running(copied, tmp_path):
    at = layout.files(load_project(copied.root), "m")
    at.mutation_cache.unlink()
    cmd = [sys.executable, "-c", "from harness.cli import main; main()", "--root", str(copied.root)]
    env = {**os.environ, "TMPDIR": str(tmp_path)}  # the copies it cannot remove stay in tmp_path
    proc = subprocess.Popen(
        [*cmd, "mutate", "m", "-v", *FAST],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
    )
    seen = []
    for line in proc.stdout:  # until two verdicts are out
        seen.append(line)
        if line.lstrip().startswith("[2/"):
            break
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    reached = stored_verdicts(copied.root)
    assert len(reached) >= 2, "".join(seen)
    assert not at.mutation_cache.exists()  # it never got to fold the journal into the cache
    again = copied.harness("mutate", "m", *FAST)
    assert f"{11 - len(reached)} to run, {3 + len(reached)} decided without running" in again.output
    assert by_position(stored.load(at)) == EXPECTED


def stored_verdicts(root: Path) -> dict:
    """The verdicts the store holds for module m (the cache and the journal of verdicts as they came)."""
    from harness.store.mutation import Verdicts

    return Verdicts(load_project(root), "m").cached()


def _cwd_in(proc: Path, folder: Path) -> bool:
    try:
        return str(folder) in os.readlink(proc / "cwd")
    except OSError:
        return False


def test_a_src_layout_runs_its_copy_even_with_the_original_on_pythonpath(throwaway, monkeypatch):
    throwaway.write("src/calc2/__init__.py", "")
    throwaway.write("src/calc2/ops.py", "def double(x):\n    return x * 2\n")
    throwaway.write(
        "suites/s/test_double.py",
        "from calc2.ops import double\n\n\ndef test_double():\n    assert double(3) == 6\n",
    )
    throwaway.spec("s", source=["src/calc2"], suites=["suites/s/test_double.py"])
    monkeypatch.setenv("PYTHONPATH", str(throwaway.root / "src"))  # as an editable install would
    result = throwaway.harness("mutate", "s", *FAST)
    statuses = {m["operator"]: m["status"] for m in recorded(throwaway.root, "s")["mutants"]}
    assert statuses == {"arithmetic": "killed", "constant": "killed", "return-value": "killed"}, result.output


def test_bad_input_is_one_line_and_exit_2(throwaway):
    throwaway.spec("m", suites=["suites/tests/test_ops.py"])
    cases = {
        ("--file", "calc/nothing.py"): "Error: --file calc/nothing.py: not a file the module measures",
        ("--equivalent", "abc"): "Error: --equivalent ID and --rationale TEXT go together",
        ("--rationale", "why"): "Error: --equivalent ID and --rationale TEXT go together",
    }
    for args, message in cases.items():
        result = throwaway.harness("mutate", "m", *args)
        assert (result.exit_code, result.output.startswith(message)) == (2, True), result.output
    assert throwaway.harness("mutate", "m", "--equivalent", "abc", "--rationale", "x").output.strip() == (
        "Error: m has no mutation result; run `harness mutate m` first"
    )
    assert (
        throwaway.harness("combine", "--mutation").output.strip()
        == "Error: no module has mutation shards to combine"
    )


def test_without_the_mutation_extra_it_says_how_to_install_it(throwaway, monkeypatch):
    from harness.mutation import operators

    def refuse(name):
        raise ImportError(f"No module named {name!r}")

    throwaway.spec("m", suites=["suites/tests/test_ops.py"])
    monkeypatch.setattr(operators.importlib, "import_module", refuse)
    result = throwaway.harness("mutate", "m")
    assert (result.exit_code, result.output) == (
        2,
        "Error: harness mutate needs the mutation extra: pip install 'harness[mutation]' (mutmut, libcst)\n",
    )


def test_run_report_map_and_check_gate_on_the_mutation_score(copied):
    """`mutation: 90` gates `run` and `check` as a coverage target does; the report lists survivors."""
    run = copied.harness("run", "m")
    assert run.exit_code == 1
    result = copied.result("m")
    assert result["status"] == "in_progress" and result["unmet"] == ["mutation:calc/ops.py"]
    # The run's table shows coverage only; the target that holds the module back is named under it.
    missed = "  Mutation targets missed:\n    calc/ops.py: mutation 71.43% < target 90%\nStatus: In Progress"
    assert missed in run.output
    ops = result["mutation"]["files"]["calc/ops.py"]
    assert (ops["score"], ops["target"], ops["gating_met"]) == (100 * 10 / 14, 90.0, False)
    assert [(s["line"], s["operator"], s["function"]) for s in ops["survivors"]] == [
        (9, "comparison", "is_positive")
    ]
    report = (copied.root / "reports/m/COMPLETION_STATUS.md").read_text()
    assert "| Status | Mutation |" in report and "| 71.4% ❌ |" in report
    assert "| 9 | comparison | `return x > 0` → `return x >= 0` | `is_positive` |" in report
    assert "- [mutation.html](mutation.html)\n- [mutation.json](mutation.json)\n" in report
    assert "| Mutation |" in (copied.root / "MAP.md").read_text()
    check = copied.harness("check", "m")
    assert check.exit_code == 1
    assert check.output.splitlines() == ["calc/ops.py: mutation 71.43% < target 90%", "m: In Progress"]


def test_a_changed_file_has_no_mutation_score_until_mutated_again(copied):
    ops = copied.root / "calc/ops.py"
    ops.write_text(ops.read_text() + "\n# changed after the mutants were made\n")
    assert copied.harness("run", "m").exit_code == 1
    assert copied.result("m")["mutation"]["not_measured"] == ["calc/ops.py"]
    assert copied.harness("check", "m").output.splitlines()[0] == (
        "calc/ops.py: mutation score not measured (run `harness mutate`)"
    )
    again = copied.harness("mutate", "m", *FAST)
    assert "reports/m/COMPLETION_STATUS.md: In Progress (mutation scores updated)" in again.output
    assert copied.result("m")["mutation"]["not_measured"] == []


def test_a_file_without_mutants_is_scored_without_running_the_suites(copied):
    copied.write("calc/__init__.py", '"""Nothing here to mutate."""\n')
    result = copied.harness("mutate", "m", "--file", "calc/__init__.py", *FAST)
    assert "Mutating m: 1 file(s), 0 mutant(s)" in result.output
    assert result.exit_code == 1, result.output  # ops.py, mutated before, is still short of its target
    assert "mapping tests to lines" not in result.output
    doc = recorded(copied.root)
    assert doc["files"]["calc/__init__.py"]["mutants"] == 0
    assert by_position({"mutants": [m for m in doc["mutants"] if m["file"] == "calc/ops.py"]}) == EXPECTED


def doc_score(doc: dict) -> float:
    """The overall score of a stored mutation.json."""
    return total(doc["files"])["score"]


def test_an_unreadable_mutation_record_stops_mutate_and_run_before_any_test(throwaway):
    throwaway.spec("m", suites=["suites/tests/test_ops.py"])
    (throwaway.root / "reports/m").mkdir(parents=True)
    (throwaway.root / "reports/m/mutation.json").write_text("{", encoding="utf-8")
    for args in (("mutate", "m"), ("run", "m")):
        outcome = throwaway.harness(*args)
        assert outcome.exit_code == 2, outcome.output
        assert "mutation.json: not a readable mutation result" in outcome.output
        assert "Mutating" not in outcome.output and "Running" not in outcome.output
    assert not (throwaway.root / "trace.yml").exists()  # no run started
