"""Mutants of one source file: where each operator applies, the mutated text, its diff and stable id."""

import difflib
import hashlib
from dataclasses import dataclass

from harness.errors import DataError
from harness.mutation.operators import kind, operator_table

NO_MUTATE = "pragma: no mutate"
# Calls whose arguments are never mutated: logging messages are not behaviour, and len/isinstance
# mutations (as mutmut found) are mostly noise. A logging call can still be removed whole.
_LOG_METHODS = {"debug", "info", "warning", "warn", "error", "exception", "critical", "log"}
_QUIET_CALLS = {"len", "isinstance"}


@dataclass(frozen=True)
class Mutant:
    """One mutation of one file; `text` is the whole mutated file (never stored)."""

    id: str
    file: str
    line: int
    lines: tuple[int, int]
    operator: str
    function: str | None
    diff: str
    text: str
    names: tuple[str, ...] = ()  # what a module- or class-level assignment binds (see selection.py)


def generate(file: str, source: str) -> list[Mutant]:
    """Every mutant of `source` (the text of `file`, relative to the root), in source order."""
    import libcst as cst
    from libcst.metadata import MetadataWrapper

    try:
        wrapper = MetadataWrapper(cst.parse_module(source))
    except cst.ParserSyntaxError as err:
        raise DataError(f"{file}: cannot be mutated, it does not parse: {str(err).splitlines()[0]}") from err
    finder = _Finder(operator_table(), source.splitlines())
    wrapper.visit(finder)
    starts = [0]
    for line in source.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    mutants: list[Mutant] = []
    seen: dict[str, int] = {}
    for node, mutated, operator, span, function, where, indent, names in finder.found:
        text = _splice(wrapper.module, source, starts, (where, indent), node, mutated)
        if text == source or not _compiles(text, file):
            continue
        diff, line, change = _diff(file, source, text)
        key = f"{file}\0{function}\0{operator}\0{change}"
        seen[key] = seen.get(key, 0) + 1
        mutant_id = hashlib.sha256(f"{key}\0{seen[key]}".encode()).hexdigest()[:12]
        mutants.append(Mutant(mutant_id, file, line, span, operator, function, diff, text, names))
    return mutants


def _splice(module, source: str, starts: list[int], place, node, mutated) -> str:
    """The mutated file: the node's text replaced in place (whole-tree code generation is 10x slower)."""
    where, indent = place
    begin = starts[where.start.line - 1] + where.start.column
    end = starts[where.end.line - 1] + where.end.column
    if source[begin:end] != _code(module, node, indent):
        return module.deep_replace(node, mutated).code  # the node's text is not where its range says
    return source[:begin] + _code(module, mutated, indent) + source[end:]


def _code(module, node, indent: list[str]) -> str:
    """`node`'s code inside blocks indented by `indent` (Module.code_for_node knows no enclosing block)."""
    try:
        from libcst._nodes.internal import CodegenState
    except ImportError:  # a libcst without it: the caller falls back to whole-tree code generation
        return ""
    state = CodegenState(module.default_indent, module.default_newline, indent_tokens=list(indent))
    node._codegen(state)
    return "".join(state.tokens)


def _compiles(text: str, file: str) -> bool:
    """Mutants that are not valid Python (e.g. `break` -> `return` outside a function) are not made."""
    try:
        compile(text, file, "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    return True


def _diff(file: str, before: str, after: str) -> tuple[str, int, str]:
    """A `git apply`-able unified diff, the first changed line, and the changed lines without indentation."""
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    first = next(i for i, (a, b) in enumerate(zip([*old, ""], [*new, ""], strict=False)) if a != b)
    out = []
    for line in difflib.unified_diff(old, new, f"a/{file}", f"b/{file}"):
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    changed = "".join(
        line[0] + line[1:].strip() + "\n" for line in out[2:] if line[:1] in "+-" and line[1:].strip()
    )
    return "".join(out), first + 1, changed


class _Finder:
    """A libcst visitor collecting (node, mutated node, operator, line span, function) in source order."""

    def __new__(cls, operators, lines):
        import libcst as cst
        from libcst.metadata import PositionProvider, WhitespaceInclusivePositionProvider

        class Finder(cst.CSTVisitor):
            METADATA_DEPENDENCIES = (PositionProvider, WhitespaceInclusivePositionProvider)

            def __init__(self):
                super().__init__()
                self.found: list = []
                self.scope: list[str] = []
                self.indent: list[str] = []
                self.functions = 0
                self.binding: list[tuple[str, ...]] = []
                self.skipped: set[int] = set()

            def on_visit(self, node) -> bool:
                if _skipped(cst, node):
                    self.skipped.add(id(node))
                    return False
                if isinstance(node, cst.FunctionDef | cst.ClassDef):
                    self.scope.append(node.name.value)
                    self.functions += isinstance(node, cst.FunctionDef)
                if isinstance(node, cst.Assign | cst.AnnAssign | cst.AugAssign):
                    self.binding.append(_bound(cst, node) if not self.functions else ())
                if isinstance(node, cst.Module):
                    self.default_indent = node.default_indent
                if isinstance(node, cst.IndentedBlock):
                    self.indent.append(node.indent if node.indent is not None else self.default_indent)
                position = self.get_metadata(PositionProvider, node, None)
                if (
                    position
                    and NO_MUTATE not in (lines[position.start.line - 1 : position.start.line] or [""])[0]
                ):
                    span = (position.start.line, position.end.line)
                    function = ".".join(self.scope) or None
                    where = self.get_metadata(WhitespaceInclusivePositionProvider, node)
                    for node_type, func, name in operators:
                        if isinstance(node, node_type):
                            for mutated in func(node):
                                operator = kind(name, node, mutated)
                                names = self.binding[-1] if self.binding else ()
                                found = (
                                    node,
                                    mutated,
                                    operator,
                                    span,
                                    function,
                                    where,
                                    tuple(self.indent),
                                    names,
                                )
                                self.found.append(found)
                return True

            def on_leave(self, original_node) -> None:
                if id(original_node) in self.skipped:
                    return  # libcst leaves a node whose visit said "skip" too
                if isinstance(original_node, cst.FunctionDef | cst.ClassDef):
                    self.scope.pop()
                    self.functions -= isinstance(original_node, cst.FunctionDef)
                if isinstance(original_node, cst.Assign | cst.AnnAssign | cst.AugAssign):
                    self.binding.pop()
                if isinstance(original_node, cst.IndentedBlock):
                    self.indent.pop()

        return Finder()


def _skipped(cst, node) -> bool:
    """Positions whose mutants are equivalent or noise by construction (see docs/harness.md)."""
    if isinstance(node, cst.Annotation | cst.Decorator | cst.Import | cst.ImportFrom):
        return True
    if isinstance(node, cst.Expr) and isinstance(node.value, cst.SimpleString | cst.ConcatenatedString):
        return True  # docstrings and other bare strings do nothing
    if isinstance(node, cst.If) and _name(node.test) == "TYPE_CHECKING":
        return True
    if isinstance(node, cst.Assign) and any(_name(t.target) == "__all__" for t in node.targets):
        return True
    if isinstance(node, cst.Param) and node.default is not None:
        # Defaults run at import: only plain literals, as mutmut does, so a mutant cannot break the import.
        return not isinstance(node.default, cst.Name | cst.BaseNumber | cst.BaseString)
    if isinstance(node, cst.Call):
        func = node.func
        if isinstance(func, cst.Name) and func.value in _QUIET_CALLS:
            return True
        if isinstance(func, cst.Attribute) and func.attr.value in _LOG_METHODS:
            return "log" in (_name(func.value) or "").lower()
    return False


def _bound(cst, node) -> tuple[str, ...]:
    """The plain names an assignment statement binds (`A = B = 1`, `X: int = 2`, `N += 1`)."""
    targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
    return tuple(t.value for t in targets if isinstance(t, cst.Name))


def _name(node) -> str | None:
    """The last name of `x` or `a.b.x`."""
    import libcst as cst

    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return node.attr.value
    return None
