"""Prometheus durations (30s, 5m, 1h30m): parse to milliseconds and format back."""
from __future__ import annotations

import re

from .frozen import frozen

UNITS_MS: dict[str, int] = {
    "y": 365 * 24 * 3600 * 1000,
    "w": 7 * 24 * 3600 * 1000,
    "d": 24 * 3600 * 1000,
    "h": 3600 * 1000,
    "m": 60 * 1000,
    "s": 1000,
    "ms": 1,
}
# Same grammar as Prometheus: units in descending order, each at most once.
DURATION_PATTERN = r"^(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?$"
_DURATION_RE = re.compile(DURATION_PATTERN)
_ORDER = ["y", "w", "d", "h", "m", "s", "ms"]


def parse_ms(text: str) -> int:
    """Milliseconds in a Prometheus duration; ValueError when it is not one."""
    match = _DURATION_RE.match(text)
    if not text or text == "0" or not match:
        if text == "0":
            return 0
        raise ValueError(f"{text!r} is not a Prometheus duration such as 30s, 5m or 1h")
    total = 0
    for index, unit in enumerate(_ORDER):
        value = match.group(2 * index + 2)
        if value:
            total += int(value) * UNITS_MS[unit]
    return total


def format_ms(ms: int) -> str:
    """A duration as Prometheus reads it, largest unit first: 90000 -> '1m30s'. Days are the largest
    unit written (30 days is '30d', not '4w2d'); 'y' is not exact in days and 'w' reads worse."""
    if ms == 0:
        return "0s"
    parts = []
    for unit in ["d", "h", "m", "s", "ms"]:
        size = UNITS_MS[unit]
        if ms >= size:
            parts.append(f"{ms // size}{unit}")
            ms %= size
    return "".join(parts)


@frozen
class Duration:
    """A duration kept in milliseconds, shown in canonical Prometheus notation."""

    ms: int

    @classmethod
    def parse(cls, text: str) -> "Duration":
        return cls(parse_ms(text))

    @property
    def seconds(self) -> float:
        return self.ms / 1000

    def __str__(self) -> str:
        return format_ms(self.ms)
