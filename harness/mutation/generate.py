"""Mutants of one source file: where each operator applies, the mutated text, its diff and stable id."""

import difflib
import hashlib
from dataclasses import dataclass

from harness.errors import DataError
from harness.mutation.operators import operator_table


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
    table = operator_table()  # first: without the mutation extra this says how to install it
    import libcst as cst
    from libcst.metadata import MetadataWrapper

    from harness.mutation.positions import Finder

    try:
        wrapper = MetadataWrapper(cst.parse_module(source))
    except cst.ParserSyntaxError as err:
        raise DataError(f"{file}: cannot be mutated, it does not parse: {str(err).splitlines()[0]}") from err
    finder = Finder(table, source.splitlines())
    wrapper.visit(finder)
    starts = [0]
    for line in source.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    mutants: list[Mutant] = []
    seen: dict[str, int] = {}
    for found in finder.found:
        text = _splice(wrapper.module, source, starts, found)
        if text == source or not _compiles(text, file):
            continue
        diff, line, change = _diff(file, source, text)
        key = f"{file}\0{found.function}\0{found.operator}\0{change}"
        seen[key] = seen.get(key, 0) + 1
        mutant_id = hashlib.sha256(f"{key}\0{seen[key]}".encode()).hexdigest()[:12]
        fields = (found.span, found.operator, found.function, diff, text, found.names)
        mutants.append(Mutant(mutant_id, file, line, *fields))
    return mutants


def _splice(module, source: str, starts: list[int], found) -> str:
    """The mutated file: the node's text replaced in place (whole-tree code generation is 10x slower)."""
    where = found.where
    begin = starts[where.start.line - 1] + where.start.column
    end = starts[where.end.line - 1] + where.end.column
    if source[begin:end] != _code(module, found.node, found.indent):
        return module.deep_replace(found.node, found.mutated).code  # the text is not where the range says
    return source[:begin] + _code(module, found.mutated, found.indent) + source[end:]


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
