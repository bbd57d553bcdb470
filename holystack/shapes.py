"""Reading raw spec data of any shape: the raw-input checks (hygiene.py, secrets.py, semantics.py)
run before the schema, so a section may be a list, a string or missing. These accessors give what
is of the right shape and nothing else, so that a check skips the one wrongly shaped item (the
schema names it) and still reports every other problem."""
from __future__ import annotations

from typing import Any


def section(data: Any, *keys: str) -> dict[str, Any]:
    """data[keys[0]][keys[1]]..., or {} where any step is missing or not a mapping."""
    node = data
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else {}


def indexed(value: Any) -> list[tuple[int, dict[str, Any]]]:
    """(index, item) of the mappings in a list; nothing when value is not a list."""
    return [(i, item) for i, item in enumerate(value) if isinstance(item, dict)] if isinstance(value, list) else []


def items(value: Any) -> list[tuple[int, Any]]:
    """(index, item) of a list; nothing when value is not a list."""
    return list(enumerate(value)) if isinstance(value, list) else []


def text(value: Any) -> str | None:
    """value when it is a string, else None."""
    return value if isinstance(value, str) else None
