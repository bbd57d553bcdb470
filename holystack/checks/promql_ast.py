"""Walking PromQL syntax trees from promql-parser."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import promql_parser

COMPARISONS = {"==", "!=", ">", "<", ">=", "<="}
RATE_FUNCTIONS = {"rate", "irate", "increase"}


def parse(expr: str) -> Any:
    """The syntax tree; ValueError with the parser's message when the expression is invalid."""
    try:
        return promql_parser.parse(expr)
    except Exception as exc:  # the binding raises a plain ValueError-like error
        raise ValueError(str(exc).splitlines()[0]) from None


def children(node: Any) -> list[Any]:
    out = []
    for attribute in ("lhs", "rhs", "expr", "param", "vector_selector"):
        child = getattr(node, attribute, None)
        if child is not None and not isinstance(child, (str, int, float)):
            out.append(child)
    out.extend(getattr(node, "args", None) or [])
    return out


def walk(node: Any) -> Iterator[Any]:
    yield node
    for child in children(node):
        yield from walk(child)


def kind(node: Any) -> str:
    return type(node).__name__


def operator(node: Any) -> str:
    return str(node.op).lower() if hasattr(node, "op") else ""


def function_name(node: Any) -> str:
    return node.func.name if kind(node) == "Call" else ""


def selector_names(tree: Any) -> set[str]:
    """Names of every series the expression reads."""
    return {n.name for n in walk(tree) if kind(n) == "VectorSelector" and n.name}


def range_calls(tree: Any) -> Iterator[tuple[str, Any]]:
    """(function, argument) for every rate, irate and increase call."""
    for node in walk(tree):
        if function_name(node) in RATE_FUNCTIONS:
            yield function_name(node), node.args[0]


def has_comparison(tree: Any) -> bool:
    """Whether the expression filters its result: a comparison, or absent()."""
    while kind(tree) == "ParenExpr":
        tree = tree.expr
    if kind(tree) == "BinaryExpr":
        if operator(tree) in COMPARISONS:
            return True
        if operator(tree) == "and":
            return has_comparison(tree.lhs) or has_comparison(tree.rhs)
        if operator(tree) in ("or", "unless"):
            return has_comparison(tree.lhs) and (operator(tree) == "unless" or has_comparison(tree.rhs))
    return function_name(tree) in ("absent", "absent_over_time")


def uses_absent(tree: Any) -> bool:
    return any(function_name(n) in ("absent", "absent_over_time") for n in walk(tree))


def is_constant_vector(tree: Any) -> bool:
    return function_name(tree) == "vector" and kind(tree.args[0]) == "NumberLiteral"
