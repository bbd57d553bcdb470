"""SLO recording rules, per endpoint: error ratio and burn rate per window, the objective, and
the error budget left over the SLO period. Endpoints without an availability have no SLO."""
from __future__ import annotations

from .. import contract as c
from ..model import Duration, Stack
from ..promql import number
from ..series import Series
from .recording import Rule, share, sum_of_steps


def slo_endpoints(stack: Stack) -> list[tuple[str, float]]:
    """(endpoint path, objective as a ratio) of every endpoint with an availability."""
    return [(e.path, e.availability / 100) for e in stack.endpoints if e.availability is not None]


def _windows(stack: Stack, long: bool) -> list[Duration]:
    """The burn-rate windows, short ones (below a day, evaluated with the requests) or long ones."""
    found = {w.ms: w for b in stack.slo.burn_rates for w in (b.long_window, b.short_window)}
    return [w for ms, w in sorted(found.items()) if (ms >= 86_400_000) == long]


def _window_rules(stack: Stack, s: Series, window: Duration) -> list[Rule]:
    """Logical calls per second, the failed share and the burn rate over one window, summed from the
    recorded per-endpoint counter steps: traffic-weighted (failed calls over all calls), 0 when
    there were calls and no failures, NaN only without calls. The samples read grow with the
    endpoints and the window, never with the raw series."""
    w, seconds = str(window), number(window.seconds)
    return [
        {"record": s.endpoint_calls(w), "expr": f"{sum_of_steps(s.endpoint_calls_step, window)} / {seconds}"},
        {"record": s.endpoint_error_ratio(w),
         "expr": share(f"{sum_of_steps(s.endpoint_failed_calls_step, window)} / {seconds}", s.endpoint_calls(w))},
        {"record": s.error_budget_burn(w),
         "expr": f"{s.endpoint_error_ratio(w)}\n/ on ({c.ENDPOINT}) (1 - {s.slo_objective})"},
    ]


def slo_rules(stack: Stack) -> list[Rule]:
    """The objective of each endpoint and the windows under a day, evaluated with the requests."""
    s = Series(stack)
    rules: list[Rule] = [{"record": s.slo_objective, "expr": f"vector({number(objective)})",
                          "labels": {c.ENDPOINT: path}} for path, objective in slo_endpoints(stack)]
    for window in _windows(stack, long=False):
        rules += _window_rules(stack, s, window)
    return rules


def slo_long_rules(stack: Stack) -> list[Rule]:
    """The windows of a day and more, and the error budget left over the period: these read days
    of samples and move slowly, so they run in the slower group."""
    s = Series(stack)
    rules: list[Rule] = []
    for window in _windows(stack, long=True) + [stack.slo.period]:
        rules += _window_rules(stack, s, window)
    period = str(stack.slo.period)
    rules.append({"record": s.error_budget_remaining, "expr": f"1 - {s.error_budget_burn(period)}"})
    return rules
