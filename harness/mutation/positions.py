"""Where operators apply: a libcst visitor over one file (imported only once the mutation extra is there)."""

from dataclasses import dataclass

import libcst as cst
from libcst.metadata import CodeRange, PositionProvider, WhitespaceInclusivePositionProvider

from harness.mutation.operators import kind

NO_MUTATE = "pragma: no mutate"
# Calls whose arguments are never mutated: logging messages are not behaviour, and len/isinstance
# mutations (as mutmut found) are mostly noise. A logging call can still be removed whole.
_LOG_METHODS = {"debug", "info", "warning", "warn", "error", "exception", "critical", "log"}
_QUIET_CALLS = {"len", "isinstance"}
_ASSIGNMENTS = cst.Assign | cst.AnnAssign | cst.AugAssign


@dataclass(frozen=True)
class Found:
    """One mutation of one node, with what generate.py needs to splice it and describe it."""

    node: cst.CSTNode
    mutated: cst.CSTNode
    operator: str
    span: tuple[int, int]
    function: str | None
    where: CodeRange
    indent: tuple[str, ...]
    names: tuple[str, ...]


class Finder(cst.CSTVisitor):
    """Collects every mutation in source order, tracking the enclosing function and block indentation."""

    METADATA_DEPENDENCIES = (PositionProvider, WhitespaceInclusivePositionProvider)

    def __init__(self, operators, lines: list[str]):
        super().__init__()
        self.operators, self.lines = operators, lines
        self.found: list[Found] = []
        self.scope: list[str] = []
        self.indent: list[str] = []
        self.functions = 0
        self.binding: list[tuple[str, ...]] = []
        self.skipped: set[int] = set()
        self.default_indent = "    "

    def on_visit(self, node) -> bool:
        if skipped(node):
            self.skipped.add(id(node))
            return False
        self._enter(node)
        position = self.get_metadata(PositionProvider, node, None)
        if (
            position
            and NO_MUTATE not in (self.lines[position.start.line - 1 : position.start.line] or [""])[0]
        ):
            self._collect(node, (position.start.line, position.end.line))
        return True

    def on_leave(self, original_node) -> None:
        if id(original_node) in self.skipped:
            return  # libcst leaves a node whose visit said "skip" too
        if isinstance(original_node, cst.FunctionDef | cst.ClassDef):
            self.scope.pop()
            self.functions -= isinstance(original_node, cst.FunctionDef)
        if isinstance(original_node, _ASSIGNMENTS):
            self.binding.pop()
        if isinstance(original_node, cst.IndentedBlock):
            self.indent.pop()

    def _enter(self, node) -> None:
        if isinstance(node, cst.FunctionDef | cst.ClassDef):
            self.scope.append(node.name.value)
            self.functions += isinstance(node, cst.FunctionDef)
        if isinstance(node, _ASSIGNMENTS):
            self.binding.append(bound(node) if not self.functions else ())
        if isinstance(node, cst.Module):
            self.default_indent = node.default_indent
        if isinstance(node, cst.IndentedBlock):
            self.indent.append(node.indent if node.indent is not None else self.default_indent)

    def _collect(self, node, span: tuple[int, int]) -> None:
        where = self.get_metadata(WhitespaceInclusivePositionProvider, node)
        context = (
            ".".join(self.scope) or None,
            where,
            tuple(self.indent),
            self.binding[-1] if self.binding else (),
        )
        for node_type, func, name in self.operators:
            if isinstance(node, node_type):
                for mutated in func(node):
                    self.found.append(Found(node, mutated, kind(name, node, mutated), span, *context))


def skipped(node) -> bool:
    """Positions whose mutants are equivalent or noise by construction (see docs/harness.md)."""
    if isinstance(node, cst.Annotation | cst.Decorator | cst.Import | cst.ImportFrom):
        return True
    if isinstance(node, cst.Expr) and isinstance(node.value, cst.SimpleString | cst.ConcatenatedString):
        return True  # docstrings and other bare strings do nothing
    if isinstance(node, cst.If) and last_name(node.test) == "TYPE_CHECKING":
        return True
    if isinstance(node, cst.Assign) and any(last_name(t.target) == "__all__" for t in node.targets):
        return True
    if isinstance(node, cst.Param) and node.default is not None:
        # Defaults run at import: only plain literals, as mutmut does, so a mutant cannot break the import.
        return not isinstance(node.default, cst.Name | cst.BaseNumber | cst.BaseString)
    if isinstance(node, cst.Call):
        func = node.func
        if isinstance(func, cst.Name) and func.value in _QUIET_CALLS:
            return True
        if isinstance(func, cst.Attribute) and func.attr.value in _LOG_METHODS:
            return "log" in (last_name(func.value) or "").lower()
    return False


def bound(node) -> tuple[str, ...]:
    """The plain names an assignment statement binds (`A = B = 1`, `X: int = 2`, `N += 1`)."""
    targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
    return tuple(t.value for t in targets if isinstance(t, cst.Name))


def last_name(node) -> str | None:
    """The last name of `x` or `a.b.x`."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return node.attr.value
    return None
