"""Where two versions of a Python file differ: in module-level code, or only inside function bodies.

Module-level code (imports, constants, class bodies, decorators, signatures and their defaults) runs
when the module is imported, once for every test of a session, so a change there may affect any test.
A change inside a function's body affects only the tests that call the function. The comparison is
of syntax trees, so comments, blank lines and moved code change nothing; a new undecorated function
under a new name changes no existing behaviour and is left out of the module-level comparison.
"""

import ast
import copy
from dataclasses import dataclass

Key = tuple[str, int]  # a function's qualified name and which of that name it is (0 for the first)


@dataclass(frozen=True)
class ChangedFunction:
    """A function whose body differs, and where its body was in the old text."""

    name: str
    first: int
    last: int


@dataclass(frozen=True)
class SourceDiff:
    module_line: int | None  # the first new-side line of a module-level difference; None if none
    functions: tuple[ChangedFunction, ...]


def compare(old: str, new: str) -> SourceDiff:
    """How `new` differs from `old`. Raises SyntaxError (or ValueError) if either does not parse."""
    old_tree, new_tree = ast.parse(old), ast.parse(new)
    old_units, new_units = _units(old_tree), _units(new_tree)
    added = {
        (node.lineno, node.name)
        for key, node in new_units.items()
        if key not in old_units and _pure_addition(node, old_units)
    }
    line = _first_difference(_skeleton(old_tree, set()), _skeleton(new_tree, added))
    changed = [
        ChangedFunction(key[0], node.body[0].lineno, node.end_lineno or node.body[-1].lineno)
        for key, node in old_units.items()
        if key in new_units and _body(node) != _body(new_units[key])
    ]
    return SourceDiff(line, tuple(changed))


def _units(tree: ast.Module) -> dict[Key, ast.FunctionDef | ast.AsyncFunctionDef]:
    """Every function defined at module or class level (in `if`, `try` and `with` blocks too), by
    qualified name; functions inside function bodies belong to their enclosing function."""
    found: dict[Key, ast.FunctionDef | ast.AsyncFunctionDef] = {}

    def visit(nodes, scope: str) -> None:
        for node in nodes:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{scope}{node.name}"
                index = sum(1 for key in found if key[0] == name)
                found[(name, index)] = node
            elif isinstance(node, ast.ClassDef):
                visit(node.body, f"{scope}{node.name}.")
            else:
                for field in ("body", "orelse", "finalbody", "handlers", "cases"):
                    visit(getattr(node, field, ()) or (), scope)

    visit(tree.body, "")
    return found


def _pure_addition(node, old_units: dict[Key, object]) -> bool:
    """A new function under a name the old file did not define there, with no decorator (a decorator
    may register it somewhere at import)."""
    return not node.decorator_list and not any(key[0].rsplit(".", 1)[-1] == node.name for key in old_units)


def _body(node) -> str:
    return ast.dump(ast.Module(body=node.body, type_ignores=[]), include_attributes=False)


def _skeleton(tree: ast.Module, drop: set[tuple[int, str]]) -> list[ast.stmt]:
    """The module with every function body emptied and the functions in `drop` (line, name) taken
    out: what runs at import, statement by statement. Works on a copy."""

    class Blank(ast.NodeTransformer):
        def visit_FunctionDef(self, node):
            if (node.lineno, node.name) in drop:
                return None
            node.body = [ast.Pass()]  # not visited further: inner functions are part of the body
            return node

        visit_AsyncFunctionDef = visit_FunctionDef

    return Blank().visit(copy.deepcopy(tree)).body


def _first_difference(old: list[ast.stmt], new: list[ast.stmt]) -> int | None:
    """The new-side line of the first top-level statement that differs, or None if none does."""
    for index in range(max(len(old), len(new))):
        a = old[index] if index < len(old) else None
        b = new[index] if index < len(new) else None
        if a is None or b is None or _dump(a) != _dump(b):
            where = b if b is not None else (new[-1] if new else None)
            return where.lineno if where is not None else 1
    return None


def _dump(stmt: ast.stmt) -> str:
    return ast.dump(stmt, include_attributes=False)
