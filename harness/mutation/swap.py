"""Applying a mutant to a running process: the changed functions' code objects swapped in place.

A module that was imported has run its top-level code and its class bodies once; what can still run
differently are its functions. So a mutant can be applied to live objects exactly when the mutated
module compiles to the same module and class-body code (apart from line numbers) and differs only
inside functions: then every live function object whose code is an original function's code gets
the mutated code (`func.__code__ = new`), which reaches every reference to it (imported names,
methods, decorated originals, bound methods, registries). Anything else is `NotSwappable`.
"""

import functools
import gc
import os
import sys
import types
from collections.abc import Iterable
from dataclasses import dataclass

CodeType = types.CodeType
_OPTIMIZED = 0x1  # CO_OPTIMIZED: a function's code (class bodies and modules run in a namespace)
# Nested code that runs where it is defined, once: comprehensions, generator expressions, and the
# scopes of PEP 695 type parameters. In an already-run scope they are never called again.
_RUN_IN_PLACE = ("<listcomp>", "<dictcomp>", "<setcomp>", "<genexpr>", "<generic parameters of")


class NotSwappable(Exception):
    """The mutant changes what already ran (module or class level), or a function's closure shape."""


@dataclass(frozen=True)
class Swap:
    """(original code, mutated code) of every function that differs, and the top-level ones among them."""

    pairs: tuple[tuple[CodeType, CodeType], ...]
    # Indexes into `pairs` of the functions defined in a module or class body that changed beyond
    # line numbers: each must have a live function object (see `matches`).
    top: frozenset[int]


def plan(filename: str, original: str, mutated: str) -> Swap:
    """The code objects to swap for `mutated`, both texts compiled as the import system compiles them."""
    old = compile(original, filename, "exec", dont_inherit=True)
    try:
        new = compile(mutated, filename, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as err:
        raise NotSwappable(f"the mutant does not compile: {err}") from None
    pairs: list[tuple[CodeType, CodeType]] = []
    top: set[int] = set()
    _scope(old, new, pairs, top)
    return Swap(tuple(pairs), frozenset(top))


def _scope(old: CodeType, new: CodeType, pairs: list, top: set) -> None:
    """A module or class body, which already ran: only the functions defined in it may differ."""
    if _bare(old) != _bare(new):
        raise NotSwappable(f"code that runs at import changed ({old.co_qualname or 'module level'})")
    for o, n in zip(_nested(old), _nested(new), strict=True):
        if not o.co_flags & _OPTIMIZED:
            _scope(o, n, pairs, top)
        elif o.co_name.startswith(_RUN_IN_PLACE):
            if _differ(o, n):
                raise NotSwappable(f"code that runs at import changed ({o.co_qualname})")
        elif o != n:
            if _differ(o, n):
                top.add(len(pairs))
            _function(o, n, pairs)


def _function(old: CodeType, new: CodeType, pairs: list) -> None:
    """A function that differs, and the functions nested in it that differ: closures made before the
    swap run their own code objects. Comprehensions are made anew on every call; they need no pair."""
    for attr in ("co_freevars", "co_flags", "co_qualname"):
        if getattr(old, attr) != getattr(new, attr):
            raise NotSwappable(f"{old.co_qualname}: the mutant changes its {attr}")
    pairs.append((old, new))
    inner_old, inner_new = _closures(old), _closures(new)
    if [c.co_qualname for c in inner_old] != [c.co_qualname for c in inner_new]:
        raise NotSwappable(f"{old.co_qualname}: the mutant changes the functions defined in it")
    for o, n in zip(inner_old, inner_new, strict=True):
        if o != n:
            _function(o, n, pairs)


def _closures(code: CodeType) -> list[CodeType]:
    return [c for c in _nested(code) if not c.co_name.startswith(_RUN_IN_PLACE)]


def _nested(code: CodeType) -> list[CodeType]:
    return [c for c in code.co_consts if isinstance(c, CodeType)]


def _differ(old: CodeType, new: CodeType) -> bool:
    """Whether two code objects differ in more than line numbers."""
    return _bare(old) != _bare(new) or any(map(_differ, _nested(old), _nested(new)))


def _bare(code: CodeType) -> CodeType:
    """`code` without line numbers and with nested code objects reduced to their names."""
    consts = tuple(("<code>", c.co_qualname) if isinstance(c, CodeType) else c for c in code.co_consts)
    return code.replace(co_consts=consts, co_linetable=b"", co_firstlineno=1)


def imported(filename: str) -> bool:
    """Whether a module of this process was loaded from `filename`."""
    wanted = _real(filename)
    # The module's own namespace, not getattr: a module-level `__getattr__` (lazy submodules, as
    # autobahn's) would import on the spot, and what it imports may start threads in the server.
    files = (
        vars(m).get("__file__") if isinstance(m, types.ModuleType) else None
        for m in list(sys.modules.values())
    )
    return any(isinstance(file, str) and _real(file) == wanted for file in files)


def live_functions(filename: str) -> list[types.FunctionType]:
    """Every function object in this process whose code was compiled from `filename`.

    Objects `gc.freeze()` moved to the permanent generation are not listed by `gc.get_objects()`:
    they are unfrozen first (the server freezes again before each fork).
    """
    gc.unfreeze()
    wanted = _real(filename)
    return [
        obj
        for obj in gc.get_objects()
        if type(obj) is types.FunctionType and _real(obj.__code__.co_filename) == wanted
    ]


@functools.lru_cache(maxsize=4096)
def _real(path: str) -> str:
    return os.path.realpath(path)


def matches(swap: Swap, functions: Iterable[types.FunctionType]) -> list[tuple[types.FunctionType, CodeType]]:
    """(live function, its mutated code) for every live function running an original code object.

    A top-level function without a live object means the module's objects are not what its source
    says (deleted, replaced, rewritten at import): that is `NotSwappable`, never silently skipped.
    """
    by_code: dict[tuple[str, int], list[types.FunctionType]] = {}
    for func in functions:
        by_code.setdefault((func.__code__.co_qualname, func.__code__.co_firstlineno), []).append(func)
    found = []
    for index, (old, new) in enumerate(swap.pairs):
        live = [f for f in by_code.get((old.co_qualname, old.co_firstlineno), []) if f.__code__ == old]
        if index in swap.top and not live:
            raise NotSwappable(f"{old.co_qualname}: no live function runs the code of its source")
        found += [(f, new) for f in live]
    return found


def apply(found: list[tuple[types.FunctionType, CodeType]]) -> None:
    """Swap the code of each live function (in a forked child: the parent keeps the originals)."""
    for func, new in found:
        func.__code__ = new
