"""The query server reachable, its version, and its retention against the longest window the stack
reads: Prometheus' /api/v1/status/flags, or VictoriaMetrics' /flags (it has no status/flags API)."""
from __future__ import annotations

import re

from ..checks.retention import longest_window_ms
from ..durations import format_ms, parse_ms
from ..render.prometheus import RETENTION_FLAG, retention
from ..live.victoriametrics import RETENTION_FLAG as VM_RETENTION_FLAG
from .context import PROMETHEUS, Context
from .finding import Finding

AREA = "prometheus"
RETENTION_KEY = RETENTION_FLAG.removeprefix("--")  # as /api/v1/status/flags names it
# Prometheus keeps this long when neither a time nor a size retention is set.
DEFAULT_RETENTION = "15d"
# VictoriaMetrics' retention counts months of 31 days when it has no unit; 1 unless set.
VM_DEFAULT_RETENTION = "1"
VM_MONTH_MS = 31 * 24 * 3600 * 1000
VM_YEAR_MS = 365 * 24 * 3600 * 1000


def version(context: Context) -> str:
    """The version the server reports; raises ApiError when it does not answer. VictoriaMetrics
    answers /api/v1/status/buildinfo with no version: its /metrics has vm_app_version."""
    found = context.prometheus.data("/api/v1/status/buildinfo").get("version")
    if found or context.engine == PROMETHEUS:
        return str(found or "?")
    match = re.search(r'vm_app_version\{[^}]*short_version="([^"]*)"', context.prometheus.text("/metrics"))
    return f"VictoriaMetrics {match[1] if match and match[1] else '(version not reported)'}"


def kept_ms(context: Context) -> tuple[int, str]:
    """How long the server keeps samples, and the flag as it reports it."""
    if context.engine == PROMETHEUS:
        value = context.prometheus.data("/api/v1/status/flags").get(RETENTION_KEY) or DEFAULT_RETENTION
        kept = parse_ms(value) if value not in ("0", "0s") else parse_ms(DEFAULT_RETENTION)
        return kept, f"/api/v1/status/flags: {RETENTION_KEY}={value}"
    flags = context.prometheus.text("/flags")
    match = re.search(rf'^{VM_RETENTION_FLAG}="([^"]*)"', flags, re.MULTILINE)
    value = match[1] if match else VM_DEFAULT_RETENTION
    if value.isdigit():
        kept = int(value) * VM_MONTH_MS
    elif value.endswith("y") and value[:-1].isdigit():
        kept = int(value[:-1]) * VM_YEAR_MS
    else:
        kept = parse_ms(value)
    return kept, f"/flags: {VM_RETENTION_FLAG}={value}" + ("" if match else " (the default)")


def retention_findings(context: Context) -> list[Finding]:
    kept, evidence = kept_ms(context)
    longest = longest_window_ms(context.stack, {0: {"groups": list(context.rule_groups)}})
    if kept >= longest:
        return []
    fix = (f"start Prometheus with {RETENTION_FLAG}={retention(context.stack)}" if context.engine == PROMETHEUS
           else f"start VictoriaMetrics with {VM_RETENTION_FLAG}={retention(context.stack)}")
    return [Finding(AREA, f"retention {format_ms(kept)} is shorter than the {format_ms(longest)} the rules read",
                    evidence, fix)]
