"""LatencyBudgetBurn: the latency SLOs' multi-window, multi-burn-rate alerts, per endpoint. The budget
is the share of logical calls allowed to end later than the endpoint's threshold (P_call_duration_seconds:
what the user waited, retries and waits included); pairs and guards are ErrorBudgetBurn's."""
from __future__ import annotations

from ... import contract as c
from ...identifiers import SLO_DASHBOARD
from ...series import Series
from ...model import Stack
from ...sources.base import LOGICAL_CALLS
from ..slo import bucket_bound, latency_slo_endpoints
from . import steps as step_cases
from .burn_rate import PAGE_WITHIN, pair_rules, scenarios
from .family import AlertFamily
from .promtool import CaseBuilder, PromtoolCase, Series as InputSeries, ramp, series_text
from .rule import AlertRule

LATENCY_BUDGET_BURN = "LatencyBudgetBurn"


def rules(stack: Stack) -> list[AlertRule]:
    """Only endpoints with a latency_slo have a latency burn rate."""
    if not latency_slo_endpoints(stack):
        return []
    series = Series(stack)
    return pair_rules(stack, LATENCY_BUDGET_BURN, series.latency.burn, series.latency.calls)


def call_durations(b: CaseBuilder, call: dict[str, str], threshold: float, per_sample: float,
                   slow: float) -> list[InputSeries]:
    """P_call_duration_seconds of one endpoint and model: per_sample calls per sample, slow of them
    above threshold (the threshold's bucket, +Inf and _count; the rules read no other bucket)."""
    name = b.contract.call_duration.name
    labels = {c.ENDPOINT: call[c.ENDPOINT], c.MODEL: call[c.MODEL]}
    return [(series_text(f"{name}_bucket", {**labels, c.LE: bucket_bound(threshold), **b.target}),
             ramp(per_sample - slow, b.samples)),
            (series_text(f"{name}_bucket", {**labels, c.LE: "+Inf", **b.target}), ramp(per_sample, b.samples)),
            (series_text(f"{name}_count", {**labels, **b.target}), ramp(per_sample, b.samples))]


def cases(b: CaseBuilder) -> list[PromtoolCase]:
    """ErrorBudgetBurn's scenarios on the first endpoint with a latency SLO, the slow calls in
    place of the failed ones. The latency steps count only what Prometheus saw, and this alert does
    not fire on what it did not."""
    rules = b.rules_of(LATENCY_BUDGET_BURN)
    endpoints = latency_slo_endpoints(b.stack)
    if not endpoints:
        return []
    path, slo = endpoints[0]
    budget = 1 - slo.objective / 100
    out = step_cases.latency_cases(b, path, bucket_bound(slo.threshold.seconds), budget,
                                   [LATENCY_BUDGET_BURN] if rules else [])
    if not rules:
        return out
    call = b.on_endpoint(b.call, path)
    for one in scenarios(b, rules, budget):
        out.append(b.case(f"LatencyBudgetBurn on {path}: {one.name} (share above {slo.threshold} "
                          f"{one.share:.4g}, budget {budget:.4g})",
                          call_durations(b, call, slo.threshold.seconds, one.per_sample, one.per_sample * one.share),
                          str(PAGE_WITHIN), LATENCY_BUDGET_BURN,
                          [b.expected(r, {c.ENDPOINT: path, **dict(r.labels)}, one.burn) for r in one.firing]))
    return out


FAMILY = AlertFamily("latency burn rate", (LATENCY_BUDGET_BURN,), rules, cases, dashboard=SLO_DASHBOARD,
                     requires={LATENCY_BUDGET_BURN: frozenset({LOGICAL_CALLS})})
