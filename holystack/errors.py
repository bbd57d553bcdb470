"""One base error, one subclass per stage. The CLI catches the base and prints it."""
from __future__ import annotations

from typing import Any

from .frozen import frozen

SpecPath = tuple[Any, ...]
"""Where a value sits in the spec: ('models', 1, 'prices', 'input')."""
Finding = tuple[SpecPath, str]
"""What a spec check yields: where, and the message (one line naming the field and the fix).
Not doctor.finding.Finding, which is about a running stack."""


def format_path(path: SpecPath) -> str:
    """('models', 1, 'prices', 'input') -> 'models[1].prices.input'."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


class HolystackError(Exception):
    """Anything holystack refuses to do; the message is meant for a person."""

    exit_code = 2


@frozen
class Problem:
    """One problem in a spec, located by its path and, where known, its YAML line."""

    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f" (line {self.line})" if self.line else ""
        return f"{self.path or '<spec>'}: {self.message}{where}"


class SpecError(HolystackError):
    """The spec cannot be read or is not valid; carries every problem found."""

    def __init__(self, source: str, problems: list[Problem]):
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        count = len(problems)
        super().__init__(f"{source}: {count} problem{'s' if count != 1 else ''} in the spec:\n{lines}")


class OutputError(HolystackError):
    """The output folder cannot be written as asked."""


class OutputWarning(UserWarning):
    """OUT was written, but something around it was not cleaned up; the message says what to remove."""


class UsageError(HolystackError):
    """The command was called with arguments that cannot work."""
