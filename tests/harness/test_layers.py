"""The layout shows the pipeline: each stage imports only its own stage and the stages below it.

spec → store → run → measure → mutation → evaluate → report, then the commands on top (publish,
workflow, repetitions, changed, mutate, init, options, cli). The pytest plugin of fixtures
(`harness/plugin/`) stands apart: it may import nothing of the harness but its errors.
"""

import ast
import importlib.util
from pathlib import Path

import harness

PACKAGE = Path(harness.__file__).parent
STAGES = ["spec", "store", "run", "measure", "mutation", "evaluate", "report"]
TOP = len(STAGES)  # publish, workflow, repetitions, mutate, changed, init, options, cli
FOUNDATION = {"harness", "harness.errors"}


def _stage(module: str) -> int:
    if module in FOUNDATION:
        return -1
    parts = module.split(".")
    if parts[1] in STAGES:
        return STAGES.index(parts[1])
    return TOP


def _imports(path: Path) -> set[str]:
    """Every harness module `path` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "harness":
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            found |= {n for n in names if (PACKAGE.parent / (n.replace(".", "/") + ".py")).is_file()}
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "harness"}
    return found


def _modules() -> dict[str, Path]:
    return {
        ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__"): path
        for path in sorted(PACKAGE.rglob("*.py"))
    }


def test_no_stage_imports_a_stage_above_it():
    climbs = []
    for module, path in _modules().items():
        if module.startswith("harness.plugin"):
            continue
        for imported in _imports(path):
            if _stage(imported) > _stage(module):
                climbs.append(f"{module} imports {imported}")
    assert climbs == []


def test_the_fixtures_plugin_imports_only_its_own_modules_and_the_errors():
    reaching_out = [
        f"{module} imports {imported}"
        for module, path in _modules().items()
        if module.startswith("harness.plugin")
        for imported in _imports(path)
        if not imported.startswith("harness.plugin") and imported not in FOUNDATION
    ]
    assert reaching_out == []


def test_every_module_is_in_a_stage_folder_or_is_one_of_the_commands():
    """A new top-level module is a decision (a new command's orchestration), not a place to put things."""
    top = {
        module for module, path in _modules().items() if path.parent == PACKAGE and path.stem != "__init__"
    }
    assert top == {
        "harness.changed",  # `--changed` on run, mutate and check: the change in front of the reviewer
        "harness.cli",
        "harness.errors",
        "harness.init",
        "harness.mutate",
        "harness.options",  # the click options several commands share, and what their values mean
        "harness.publish",
        "harness.repetitions",  # `harness run --repeat N`: sessions (run), reading (measure), replays
        "harness.workflow",
    }


def _trail_module():
    path = PACKAGE.parent / "scripts" / "spec_trail.py"
    loaded = importlib.util.spec_from_file_location("spec_trail", path)
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)
    return module


def test_the_spec_passes_through_few_files_and_seldom_climbs_back_up(throwaway):
    """`scripts/spec_trail.py` on a module with steps, a baseline module, carried items, mutation targets."""
    steps = [{"name": "Box", "suites": ["suites/tests/test_box.py"], "targets": {"calc/ops.py": 10}}]
    throwaway.spec("base", suites=["suites/tests/test_box.py"], targets={"calc/ops.py": 99})
    assert throwaway.harness("run", "base").exit_code == 1
    assert throwaway.harness("accept", "base", "--rationale", "later").exit_code == 0
    throwaway.spec(
        "mod-a",
        suites=["suites/tests/test_ops.py"],
        steps=steps,
        targets={"calc/ops.py": {"percent": 50, "mutation": 50}},
        baseline={"module": "base"},
        carry_forward={"from": "base"},
    )
    trail = _trail_module().follow(["--root", str(throwaway.root), "run", "mod-a", "-q"])
    assert trail.stays and throwaway.result("mod-a")["module"] == "mod-a"
    assert len(trail.stays) <= 30, trail.stays
    assert trail.climbs <= 10, trail.stays
