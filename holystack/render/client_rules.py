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
    s, contract, w = Series(stack), stack.contract, str(stack.rate_window)
    success = selector(contract.calls.name, matcher(c.STATUS_CODE, c.SUCCESS, "=~"))
    return [
        {"record": s.calls_by_endpoint_model,
         "expr": f"sum {by(LOGICAL_CALL_LABELS)} (rate({contract.calls.name}[{w}]))"},
        {"record": s.calls, "expr": f"sum({s.calls_by_endpoint_model})"},
        # SuccessRatioLow: the share of logical calls whose last attempt succeeded.
        {"record": s.call_ratio("success"),
         "expr": share(f"sum {by(LOGICAL_CALL_LABELS)} (rate({success}[{w}]))", s.calls_by_endpoint_model)},
        {"record": s.fallback_share,
         "expr": f"sum {by(FALLBACK_LABELS)} (rate({contract.fallbacks.name}[{w}]))\n/ on () group_left ()\n{s.calls}"},
        {"record": s.retry_ratio,
         "expr": f"sum {by((c.PROVIDER,))} (rate({contract.retries.name}[{w}]))\n"
                 f"/\nsum {by((c.PROVIDER,))} ({s.requests})"},
        {"record": s.ratelimit_headroom,
         "expr": f"min {by(HEADROOM_LABELS)} (\n  {contract.ratelimit_remaining.name}\n"
                 f"  / {contract.ratelimit_limit.name}\n)"},
        {"record": s.circuit_state, "expr": f"max {by((c.PROVIDER, c.STATE))} ({contract.circuit_state.name})"},
        {"record": s.ttft_buckets,
         "expr": f"sum {by((c.ENDPOINT, c.LE))} (rate({contract.time_to_first_token.name}_bucket[{w}]))"},
        {"record": s.ttft_quantile, "expr": f"histogram_quantile({number(float(P95))}, {s.ttft_buckets})",
         "labels": {QUANTILE: P95}},
    ]


def circuit_not_closed(stack: Stack) -> str:
    """Per provider, 1 when a breaker is open or half-open (probing): not yet recovered."""
    return f"max {by((c.PROVIDER,))} ({selector(Series(stack).circuit_state, matcher(c.STATE, c.CIRCUIT_CLOSED, '!='))})"
