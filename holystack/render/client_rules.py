"""Recording rules of what the instrumented client reports beyond each attempt: logical calls,
retries, fallbacks, circuit breakers, rate-limit headroom and time to first token. The resilience
alerts and the overview panels read these."""
from __future__ import annotations

from .. import contract as c
from ..model import Stack
from ..promql import by, matcher, number, selector
from ..series import FALLBACK_LABELS, HEADROOM_LABELS, LOGICAL_CALL_LABELS, P95, QUANTILE, Series
from .recording import Rule, share


def client_rules(stack: Stack) -> list[Rule]:
    s, contract, source, w = Series(stack), stack.contract, stack.source, str(stack.rate_window)
    success: tuple[str, str, str] = (c.STATUS_CODE, c.SUCCESS, "=~")
    return [
        {"record": s.calls_by_endpoint_model,
         "expr": source.rate(stack, contract.calls.name, LOGICAL_CALL_LABELS, w)},
        {"record": s.calls, "expr": f"sum({s.calls_by_endpoint_model})"},
        # SuccessRatioLow: the share of logical calls whose last attempt succeeded.
        {"record": s.call_ratio("success"),
         "expr": share(source.rate(stack, contract.calls.name, LOGICAL_CALL_LABELS, w, success), s.calls_by_endpoint_model)},
        {"record": s.fallback_share,
         "expr": f"{source.rate(stack, contract.fallbacks.name, FALLBACK_LABELS, w)}\n/ on () group_left ()\n{s.calls}"},
        {"record": s.retry_ratio,
         "expr": f"{source.rate(stack, contract.retries.name, (c.PROVIDER,), w)}\n"
                 f"/\nsum {by((c.PROVIDER,))} ({s.requests})"},
        {"record": s.ratelimit_headroom,
         "expr": f"min {by(HEADROOM_LABELS)} (\n  {source.gauge(stack, contract.ratelimit_remaining.name)}\n"
                 f"  / {source.gauge(stack, contract.ratelimit_limit.name)}\n)"},
        {"record": s.circuit_state, "expr": f"max {by((c.PROVIDER, c.STATE))} ({source.gauge(stack, contract.circuit_state.name)})"},
        {"record": s.ttft_buckets,
         "expr": source.rate(stack, f"{contract.time_to_first_token.name}_bucket", (c.ENDPOINT, c.LE), w)},
        {"record": s.ttft_quantile, "expr": f"histogram_quantile({number(float(P95))}, {s.ttft_buckets})",
         "labels": {QUANTILE: P95}},
    ]


def circuit_not_closed(stack: Stack) -> str:
    """Per provider, 1 when a breaker is open or half-open (probing): not yet recovered."""
    return f"max {by((c.PROVIDER,))} ({selector(Series(stack).circuit_state, matcher(c.STATE, c.CIRCUIT_CLOSED, '!='))})"
