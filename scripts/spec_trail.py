"""Follow a module spec through `harness run`: which harness functions it passes, file by file.

    .venv/bin/python scripts/spec_trail.py MODULE [--root DIR] [-v]

Runs `harness run MODULE` in this process with a profiler that notes every call of a harness
function that receives the module's `ModuleSpec` as an argument. Consecutive calls in one file are one
*stay*; a stay in a file of a higher stage than the stay before it (spec → store → run → measure →
mutation → evaluate → report → the commands) is a *climb back up*. Fewer stays mean narrower
interfaces (a function that needs two fields of the spec is given those); fewer climbs mean a lower
stage that does its work without handing back to a higher one. docs/architecture.md states the bounds.
"""

import argparse
import itertools
import sys
from dataclasses import dataclass
from pathlib import Path

STAGES = ("spec", "store", "run", "measure", "mutation", "evaluate", "report")


@dataclass(frozen=True)
class Trail:
    calls: list[tuple[str, str]]  # (file relative to harness/, function) in call order

    @property
    def stays(self) -> list[tuple[str, list[str]]]:
        grouped: list[tuple[str, list[str]]] = []
        for file, function in self.calls:
            if grouped and grouped[-1][0] == file:
                grouped[-1][1].append(function)
            else:
                grouped.append((file, [function]))
        return grouped

    @property
    def climbs(self) -> int:
        levels = [stage(file) for file, _ in self.stays]
        return sum(1 for before, after in itertools.pairwise(levels) if after > before)

    @property
    def files(self) -> set[str]:
        return {file for file, _ in self.calls}


def stage(file: str) -> int:
    """A file's stage (relative to harness/): its folder's place in STAGES; the commands above them all."""
    first = file.split("/")[0]
    return STAGES.index(first) if first in STAGES else len(STAGES)


def follow(args: list[str]) -> Trail:
    """Run the harness CLI with `args` and collect the trail of its ModuleSpec."""
    import harness
    from harness.cli import main
    from harness.spec.model import ModuleSpec

    package = Path(harness.__file__).parent
    calls: list[tuple[str, str]] = []

    def profile(frame, event, arg):
        if event != "call":
            return
        code = frame.f_code
        path = Path(code.co_filename)
        if not path.is_relative_to(package) or path.is_relative_to(package / "plugin"):
            return
        count = code.co_argcount + code.co_kwonlyargcount
        if any(isinstance(frame.f_locals.get(name), ModuleSpec) for name in code.co_varnames[:count]):
            calls.append((path.relative_to(package).as_posix(), code.co_qualname))

    sys.setprofile(profile)
    try:
        main(args, standalone_mode=False)
    except SystemExit:
        pass
    finally:
        sys.setprofile(None)
    return Trail(calls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("module")
    parser.add_argument("--root", default=None)
    parser.add_argument("-v", "--verbose", action="store_true", help="list every stay")
    options = parser.parse_args()
    root = ["--root", options.root] if options.root else []
    trail = follow([*root, "run", options.module, "-q"])
    if options.verbose:
        for file, functions in trail.stays:
            print(f"  {file}: {', '.join(functions)}")
    print(f"{len(trail.stays)} stays in {len(trail.files)} files, {trail.climbs} climbs back up")


if __name__ == "__main__":
    main()
