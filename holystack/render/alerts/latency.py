"""p95 latency above each endpoint's objective (its own latency_p95, else the default)."""
from __future__ import annotations

from ... import contract as c
from ...model import Stack
from ...promql import alternation, matcher, number, selector
from ...series import LATENCY_LABELS, P95, QUANTILE, Series
from ...sources.base import ATTEMPTS
from ...thresholds import LATENCY_P95
from .family import AlertFamily
from .promtool import CaseBuilder, PromtoolCase
from .rule import AlertRule, seconds_text

LATENCY_P95_HIGH = "LatencyP95High"


def latency_thresholds(stack: Stack) -> tuple[list[tuple[str, float]], float | None]:
    """(endpoint, seconds) for endpoints with their own latency_p95, and the default."""
    overrides = [(e.path, stack.latency_p95_of(e)) for e in stack.endpoints if e.latency_p95 is not None]
    return overrides, stack.thresholds.latency_p95.get("warning")


def _p95(quantiles: str) -> str:
    """The p95 series without its quantile label, so the alert keeps provider, endpoint, model."""
    return f"max without ({QUANTILE}) ({quantiles})"


def rules(stack: Stack) -> list[AlertRule]:
    series = Series(stack)
    levels = stack.thresholds.latency_p95
    overrides, default = latency_thresholds(stack)
    quantile = matcher(QUANTILE, P95)
    out = []
    for path, seconds in overrides:
        expr = f"{_p95(selector(series.duration_quantile, quantile, matcher(c.ENDPOINT, path)))} > {number(seconds)}"
        out.append(AlertRule(LATENCY_P95_HIGH, "warning", expr, levels.for_,
                             {"threshold": seconds_text(seconds), "window": str(stack.rate_window)}, seconds, path))
    if default is not None:
        others = [quantile]
        if overrides:
            others.append(matcher(c.ENDPOINT, alternation(path for path, _ in overrides), "!~"))
        expr = f"{_p95(selector(series.duration_quantile, *others))} > {number(default)}"
        out.append(AlertRule(LATENCY_P95_HIGH, "warning", expr, levels.for_,
                             {"threshold": seconds_text(default), "window": str(stack.rate_window)}, default))
    return out


def _bucket_around(bounds: tuple[float, ...], threshold: float, above: bool) -> tuple[float | None, float]:
    """(lower, upper) bound of a bucket wholly above (or at most) the threshold.
    lower None: the +Inf bucket, where histogram_quantile answers the last finite bound."""
    if above:
        for lower, upper in zip(bounds, bounds[1:]):
            if lower >= threshold:
                return lower, upper
        return None, bounds[-1]
    index = max(i for i, b in enumerate(bounds) if b <= threshold)
    return (bounds[index - 1] if index else 0.0), bounds[index]


def cases(b: CaseBuilder) -> list[PromtoolCase]:
    """Each rule fires with every call in a bucket above its threshold, and stays silent in one below."""
    overrides, _ = latency_thresholds(b.stack)
    listed = {path for path, _ in overrides}
    plain = [e.path for e in b.stack.endpoints if e.path not in listed]
    out = []
    for rule in b.rules_of(LATENCY_P95_HIGH):
        path = rule.endpoint or (plain[0] if plain else b.stack.source.unlisted_endpoint)
        threshold = rule.threshold or 0.0
        call = b.on_endpoint(b.call, path)
        for fire in (True, False):
            low, high = _bucket_around(b.stack.latency_buckets, threshold, fire)
            value = high if low is None else low + (high - low) * 0.95
            verb = "fires" if fire else "stays silent"
            out.append(b.case(f"LatencyP95High {verb} on {path}: p95 {value:g}s against {threshold:g}s",
                              b.histogram(call, low, high) + b.calls(call, {"200": 100}), b.eval_time(rule.for_),
                              LATENCY_P95_HIGH, [b.expected(rule, {k: call[k] for k in LATENCY_LABELS}, value)] if fire else []))
    return out


FAMILY = AlertFamily("latency", (LATENCY_P95_HIGH,), rules, cases, requires={LATENCY_P95_HIGH: frozenset({ATTEMPTS})},
                     thresholds=(LATENCY_P95,))
