"""Mutation operators: mutmut's libcst operator table, two more, and the names reports show."""

import importlib
from collections.abc import Callable, Iterable

from harness.errors import UsageError

INSTALL_HINT = "harness mutate needs the mutation extra: pip install 'harness[mutation]' (mutmut, libcst)"

# mutmut's operator functions, named by what they change. `swap` and `keywords` cover several kinds and
# are named from the node they change (see `kind`).
_NAMES = {
    "operator_number": "constant",
    "operator_string": "constant",
    "operator_name": "boolean",
    "operator_assignment": "assignment",
    "operator_augmented_assignment": "assignment",
    "operator_remove_unary_ops": "boolean",
    "operator_dict_arguments": "keyword-argument",
    "operator_arg_removal": "argument",
    "operator_symmetric_string_methods_swap": "string-method",
    "operator_unsymmetrical_string_methods_swap": "string-method",
    "operator_lambda": "lambda",
    "operator_match": "match-case",
    "operator_if_exp": "conditional",
}

Operator = tuple[type, Callable[..., Iterable], str]


def _libraries():
    """libcst and mutmut's operator module, or a usage error saying how to install them."""
    try:
        cst = importlib.import_module("libcst")
        mutators = importlib.import_module("mutmut.mutation.mutators")
    except ImportError as err:
        raise UsageError(INSTALL_HINT) from err
    return cst, mutators


def operator_table() -> list[Operator]:
    """(node type, function yielding mutated nodes, operator name) for every operator applied."""
    cst, mutators = _libraries()
    table: list[Operator] = [
        (t, func, _NAMES.get(func.__name__, "")) for t, func in mutators.mutation_operators
    ]
    table += [(cst.Return, return_value, "return-value"), (cst.Expr, removed_call, "removed-call")]
    return table


def return_value(node) -> Iterable:
    """`return x` -> `return None` (a bare `return` or `return None` has nothing to change)."""
    import libcst as cst

    if node.value is not None and not (isinstance(node.value, cst.Name) and node.value.value == "None"):
        yield node.with_changes(value=cst.Name("None"))


def removed_call(node) -> Iterable:
    """A call made for its effect (`f(x)`, `await f(x)`) -> `pass`."""
    import libcst as cst

    value = node.value.expression if isinstance(node.value, cst.Await) else node.value
    if isinstance(value, cst.Call):
        yield cst.Pass(semicolon=node.semicolon)


def kind(name: str, node, mutated) -> str:
    """The operator name for one mutation: from the table, or from the node a shared operator changed."""
    import libcst as cst

    if name == "argument" and _changed_keyword(node, mutated):
        return "keyword-argument"
    if name == "boolean" and isinstance(node, cst.Name) and node.value not in ("True", "False"):
        return "name"  # deepcopy -> copy
    if (
        name == "boolean"
        and isinstance(node, cst.UnaryOperation)
        and isinstance(node.operator, cst.BitInvert)
    ):
        return "arithmetic"
    if name:
        return name
    if isinstance(node, cst.Break | cst.Continue):
        return "break-continue"
    if isinstance(node, cst.ComparisonTarget | cst.Is | cst.IsNot | cst.In | cst.NotIn):
        return "comparison"
    if isinstance(node, cst.BooleanOperation):
        return "boolean"
    return "arithmetic"  # BinaryOperation, UnaryOperation, AugAssign


def _changed_keyword(node, mutated) -> bool:
    """Whether an argument mutation removed or replaced a keyword argument."""
    before = {arg.keyword.value: arg for arg in node.args if arg.keyword}
    after = {arg.keyword.value: arg for arg in mutated.args if arg.keyword}
    return any(name not in after or after[name].value is not arg.value for name, arg in before.items())
