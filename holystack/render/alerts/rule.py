"""The alert rule every family builds, and the labels every alert carries."""
from __future__ import annotations

from dataclasses import field
from typing import Any

from ...frozen import frozen
from ...model import Duration

SEVERITY = "severity"
SEVERITIES = ("critical", "warning", "info", "none")


@frozen
class AlertRule:
    kind: str
    severity: str
    expr: str
    for_: Duration
    context: dict[str, Any] = field(default_factory=dict, hash=False)
    # The threshold the expression compares with, for generated tests; None when it has none.
    threshold: float | None = None
    # The endpoint a per-endpoint rule covers; None for rules over every endpoint.
    endpoint: str | None = None
    # Static labels besides severity (the windows of a burn-rate alert).
    labels: tuple[tuple[str, str], ...] = ()
    # How long it keeps firing once its expression no longer holds.
    keep_firing_for: Duration = Duration(0)


def percent(value: float) -> str:
    return f"{value * 100:g}%"


def seconds_text(value: float) -> str:
    return str(Duration(round(value * 1000)))
