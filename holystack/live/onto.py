"""A spec moved onto another metric source, for the live runs and the scale benchmark: the same
providers, endpoints, models and alerting, read from what that source emits.

Only what the source cannot carry changes, each change said in one line: metrics fields the source
does not read are dropped, latency SLO thresholds move to the nearest of the source's fixed
buckets, fallback chains go when the source cannot observe them, and the source makes what other
changes it needs (Source.moved_onto: what tells the endpoints apart, say)."""
from __future__ import annotations

import copy
from typing import Any

from .. import sources
from ..durations import parse_ms
from ..errors import UsageError
from ..sources import DEFAULT_SOURCE, GENERAL_OPTIONS, source_names
from ..sources.base import FALLBACKS


def source_class(name: str, option: str = "--source") -> type:
    """The registered source called name, or one line naming the known ones (exit 2)."""
    if name not in source_names():
        raise UsageError(f"{option}: {name!r} is not a metric source; pick one of {', '.join(source_names())}")
    return sources.source_class(name)


def spec_on_source(data: dict[str, Any], name: str) -> tuple[dict[str, Any], list[str]]:
    """data read from metrics.source name, and what had to change for it (one line each)."""
    cls = source_class(name)
    spec = copy.deepcopy(data)
    metrics = spec.setdefault("metrics", {})
    changes: list[str] = []
    if metrics.get("source", DEFAULT_SOURCE) == name:
        return spec, changes
    if name == DEFAULT_SOURCE:
        metrics.pop("source", None)
    else:
        metrics["source"] = name
    for key in sorted(set(metrics) - GENERAL_OPTIONS - cls.options):
        del metrics[key]
        changes.append(f"metrics.{key}: dropped, {name} does not read it")
    if cls.fixed_buckets is not None:
        for endpoint in spec.get("endpoints", []):
            slo = endpoint.get("latency_slo")
            if not isinstance(slo, dict) or "threshold" not in slo:
                continue
            seconds = parse_ms(str(slo["threshold"])) / 1000
            nearest = min(cls.fixed_buckets, key=lambda bound: (abs(bound - seconds), bound))
            if nearest != seconds:
                slo["threshold"] = f"{round(nearest * 1000)}ms"
                changes.append(f"{endpoint['path']}: latency_slo.threshold {slo['threshold']}, the nearest "
                               f"{name} bucket")
    resilience = spec.get("resilience") or {}
    if resilience.get("fallbacks") and FALLBACKS not in cls.capabilities:
        del resilience["fallbacks"]
        changes.append(f"resilience.fallbacks: dropped, {name} cannot observe a fallback")
    return spec, changes + cls.moved_onto(spec)
