"""Prometheus reachable, its version, and its retention against the longest window the stack reads."""
from __future__ import annotations

from ..checks.retention import longest_window_ms
from ..durations import format_ms, parse_ms
from ..render.prometheus import RETENTION_FLAG, retention
from .context import Context
from .finding import Finding

AREA = "prometheus"
RETENTION_KEY = RETENTION_FLAG.removeprefix("--")  # as /api/v1/status/flags names it
# Prometheus keeps this long when neither a time nor a size retention is set.
DEFAULT_RETENTION = "15d"


def version(context: Context) -> str:
    """The version /api/v1/status/buildinfo reports; raises ApiError when Prometheus does not answer."""
    return str(context.prometheus.data("/api/v1/status/buildinfo").get("version", "?"))


def retention_findings(context: Context, flags: dict[str, str]) -> list[Finding]:
    value = flags.get(RETENTION_KEY) or DEFAULT_RETENTION
    kept = parse_ms(value) if value not in ("0", "0s") else parse_ms(DEFAULT_RETENTION)
    rules = [{"groups": list(context.rule_groups)}]
    longest = longest_window_ms(context.stack, dict(enumerate(rules)))
    if kept >= longest:
        return []
    return [Finding(AREA, f"retention {format_ms(kept)} is shorter than the {format_ms(longest)} the rules read",
                    f"/api/v1/status/flags: {RETENTION_KEY}={value}",
                    f"start Prometheus with {RETENTION_FLAG}={retention(context.stack)}")]
