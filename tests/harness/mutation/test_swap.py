"""The fast mode's code swap: a live module behaves as if the mutated file had been imported instead."""

import gc
import importlib.util
import itertools
import sys
from pathlib import Path

import pytest

from harness.mutation import swap
from harness.mutation.generate import generate

SOURCE = '''\
"""Every kind of function the fast mode swaps, and code that runs at import, which it must not."""

import asyncio
import functools

LIMIT = 3


def plain(x):
    if x > LIMIT:
        return x - 1
    return x + 1


class Box:
    size = 2

    def method(self, x):
        return x * self.size

    @staticmethod
    def static(x):
        return x - 1

    @classmethod
    def klass(cls, x):
        return [x] * cls.size

    @property
    def prop(self):
        return self.size + 10


async def coro(x):
    await asyncio.sleep(0)
    return x > 0 and x < 10


def deco(func):
    @functools.wraps(func)
    def wrapper(*args):
        return func(*args) + 100

    return wrapper


@deco
def decorated(x):
    return x * 3


def outer(x):
    def inner(y):
        return x + y

    return inner(1) + sum(y for y in range(x))


adder = lambda n: n + 1  # noqa: E731
'''

_names = itertools.count()


def load(path: Path):
    """`path` imported as a new module (a unique name: every test gets its own objects)."""
    name = f"swapped_{next(_names)}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def handles(module) -> dict:
    """References taken before any swap, as test modules and registries hold them."""
    box = module.Box()
    return {
        "plain": module.plain,
        "method": box.method,
        "static": module.Box.static,
        "klass": module.Box.klass,
        "prop": lambda: box.prop,
        "coro": lambda x: finish(module.coro(x)),
        "decorated": module.decorated,
        "outer": module.outer,
        "adder": module.adder,
    }


def finish(coroutine):
    """Run a coroutine that only awaits `asyncio.sleep(0)` to its end, without an event loop."""
    try:
        while True:
            coroutine.send(None)
    except StopIteration as stop:
        return stop.value


def behaviour(calls: dict) -> dict:
    """What every function returns (or raises) for a few arguments."""
    seen = {}
    for name, func in calls.items():
        for arg in ((), (-1,), (0,), (3,), (5,), (12,)) if name != "prop" else ((),):
            try:
                seen[name, arg] = ("value", func(*arg))
            except Exception as err:  # a mutant may make any of them raise; that is behaviour too
                seen[name, arg] = ("raises", type(err).__name__)
    return seen


@pytest.fixture
def original(tmp_path) -> Path:
    path = tmp_path / "subject.py"
    path.write_text(SOURCE, encoding="utf-8")
    return path


def swapped(path: Path, mutated: str) -> dict:
    """Behaviour of a fresh import of the original after the mutant is swapped into its functions."""
    module = load(path)
    calls = handles(module)
    plan = swap.plan(str(path), SOURCE, mutated)
    swap.apply(swap.matches(plan, swap.live_functions(str(path))))
    return behaviour(calls)


def reimported(tmp_path: Path, mutated: str) -> dict:
    path = tmp_path / f"mutant_{next(_names)}.py"
    path.write_text(mutated, encoding="utf-8")
    return behaviour(handles(load(path)))


# The lines that run when SOURCE is imported: module and class level, and `deco`'s body, which `@deco`
# runs. In a `harness mutate` run the mapping run records them outside any test, and their mutants
# run plain (engine.py); the swap is for the rest.
AT_IMPORT = {6, 16, 40, 44, 59}


SWAPPED = [
    m for m in generate("subject.py", SOURCE) if not AT_IMPORT & set(range(m.lines[0], m.lines[1] + 1))
]
# Run plain instead: the mutant changes which variables the function closes over.
REFUSED = {
    "deco.<locals>.wrapper: the mutant changes its co_freevars",  # `return None`: `func` unused
    "outer.<locals>.inner: the mutant changes its co_freevars",
}


def test_the_mutants_cover_every_kind_of_function():
    kinds = {"plain", "Box.method", "Box.static", "Box.klass", "Box.prop", "coro", "decorated"}
    assert kinds | {"deco.wrapper", "outer", "outer.inner"} <= {m.function for m in SWAPPED}


@pytest.mark.parametrize("mutant", SWAPPED, ids=lambda m: f"{m.line}-{m.operator}")
def test_swapped_functions_behave_like_the_reimported_mutant(mutant, original, tmp_path):
    """Functions, methods (plain, static, class, property), async, decorated, nested, lambdas."""
    try:
        after = swapped(original, mutant.text)
    except swap.NotSwappable as err:
        assert str(err) in REFUSED
        return
    assert after == reimported(tmp_path, mutant.text), mutant.diff


def test_code_that_ran_at_import_is_refused_or_is_why_such_mutants_run_plain(original, tmp_path):
    at_import = [m for m in generate("subject.py", SOURCE) if m.line in AT_IMPORT]
    refused = []
    for mutant in at_import:
        try:
            swap.plan(str(original), SOURCE, mutant.text)
        except swap.NotSwappable:
            refused.append(mutant.line)
    assert set(refused) == {6, 16, 59}  # LIMIT, Box.size, `adder = None`
    # `deco` already ran: swapping its code cannot undo the wrapper it made, a new import would.
    mutated = SOURCE.replace("    return wrapper", "    return None")
    assert swapped(original, mutated) != reimported(tmp_path, mutated)


@pytest.mark.parametrize(
    "change, reason",
    [
        (("LIMIT = 3", "LIMIT = 4"), "runs at import"),
        (("def deco(func):", "def deco(func, extra=1):"), "runs at import"),  # signature: module level
        (("    size = 2", "    size = 3"), "runs at import changed (Box)"),
        (("        return x + y", "        return 1 + y"), "co_freevars"),  # inner no longer closes over x
        (("        return x + y\n", "        return x + y\n    sum(map(lambda: 1, ()))\n"), "defined in it"),
    ],
)
def test_what_cannot_be_swapped_is_refused_with_the_reason(change, reason):
    with pytest.raises(swap.NotSwappable, match=reason.replace("(", r"\(").replace(")", r"\)")):
        swap.plan("subject.py", SOURCE, SOURCE.replace(*change))


def test_a_function_shifted_by_lines_only_is_swapped_for_its_line_numbers_but_not_required(original):
    mutated = SOURCE.replace("import functools\n", "import functools\n\n\n")
    plan = swap.plan(str(original), SOURCE, mutated)
    assert plan.pairs and not plan.top  # every function moved, none changed: nothing must be live
    assert swap.matches(plan, []) == []


def test_live_functions_are_found_after_a_gc_freeze(original):
    """The server freezes the heap before each fork; a later first look at another file must see it."""
    module = load(original)
    gc.freeze()
    try:
        assert module.plain in swap.live_functions(str(original))
    finally:
        gc.unfreeze()


def test_a_loaded_module_without_its_function_alive_is_refused(original):
    module = load(original)
    plan = swap.plan(str(original), SOURCE, SOURCE.replace("return x * 3", "return x * 4"))
    live = [f for f in swap.live_functions(str(original)) if f.__name__ != "decorated"]
    with pytest.raises(swap.NotSwappable, match="no live function"):
        swap.matches(plan, live)
    assert swap.imported(str(original)) and module.decorated(1) == 103


def test_a_module_imported_from_a_mutated_file_is_never_taken_for_the_original(original):
    """The server must have imported the original: live code that differs from it matches nothing."""
    mutated = SOURCE.replace("return x * 3", "return x * 4")
    original.write_text(mutated, encoding="utf-8")
    load(original)
    plan = swap.plan(str(original), SOURCE, mutated)
    with pytest.raises(swap.NotSwappable, match="no live function"):
        swap.matches(plan, swap.live_functions(str(original)))


def test_looking_for_a_module_never_runs_a_modules_lazy_getattr(monkeypatch, tmp_path):
    """autobahn's lazy `__getattr__` imported numpy (and its threads) when asked for `__file__`; daphne
    brings autobahn into every Channels project, and a thread in the server turns the fast mode off."""
    import types

    asked = []
    lazy = types.ModuleType("lazy_thing")

    def __getattr__(name):
        asked.append(name)
        raise AttributeError(name)

    lazy.__getattr__ = __getattr__
    monkeypatch.setitem(sys.modules, "lazy_thing", lazy)
    assert not swap.imported(str(tmp_path / "nowhere.py"))
    assert asked == []
