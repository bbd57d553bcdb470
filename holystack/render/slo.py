"""SLO recording rules, per endpoint: error ratio and burn rate per window, the objective, and
the error budget left over the SLO period; the same for latency SLOs (the share of logical calls
slower than the threshold, from P_call_duration_seconds). Endpoints without an availability (a
latency_slo) have no availability (latency) SLO."""
from __future__ import annotations

from .. import contract as c
from ..model import Duration, LatencySlo, Stack
from ..promql import number
from ..series import Series, SloSeries
from .recording import Rule, share, source_step, sum_of_steps


def slo_endpoints(stack: Stack) -> list[tuple[str, float]]:
    """(endpoint path, objective as a ratio) of every endpoint with an availability."""
    return [(e.path, e.availability / 100) for e in stack.endpoints if e.availability is not None]


def latency_slo_endpoints(stack: Stack) -> list[tuple[str, LatencySlo]]:
    """(endpoint path, its latency SLO) of every endpoint with a latency_slo."""
    return [(e.path, e.latency_slo) for e in stack.endpoints if e.latency_slo is not None]


def has_slo(stack: Stack) -> bool:
    """Whether any endpoint has an availability or a latency SLO (the SLO rule file exists)."""
    return bool(slo_endpoints(stack) or latency_slo_endpoints(stack))


def bucket_bound(seconds: float) -> str:
    """The le label value of a bucket bound, as prometheus_client writes it (0.5, 1.0, 10.0)."""
    return repr(float(seconds))


def _windows(stack: Stack, long: bool) -> list[Duration]:
    """The burn-rate windows, short ones (below a day, evaluated with the requests) or long ones."""
    found = {w.ms: w for b in stack.slo.burn_rates for w in (b.long_window, b.short_window)}
    return [w for ms, w in sorted(found.items()) if (ms >= 86_400_000) == long]


def _window_rules(slo: SloSeries, window: Duration) -> list[Rule]:
    """Logical calls per second, the bad share and the burn rate of one SLO over one window, summed
    from the recorded per-endpoint counter steps (calls, and the bad ones: failed, or slower than
    the threshold): traffic-weighted (bad calls over all calls), 0 when there were calls and none
    was bad, NaN only without calls. The samples read grow with the endpoints and the window, never
    with the raw series."""
    w, seconds = str(window), number(window.seconds)
    return [
        {"record": slo.calls(w), "expr": f"{sum_of_steps(slo.calls_step, window)} / {seconds}"},
        {"record": slo.bad_ratio(w), "expr": share(f"{sum_of_steps(slo.bad_step, window)} / {seconds}", slo.calls(w))},
        {"record": slo.burn(w), "expr": f"{slo.bad_ratio(w)}\n/ on ({c.ENDPOINT}) (1 - {slo.objective})"},
    ]


def latency_step_rules(stack: Stack) -> list[Rule]:
    """Per endpoint with a latency SLO: its logical calls and those slower than its threshold since
    the previous evaluation, as counter steps of P_call_duration_seconds (its _count, and its
    _count minus the threshold's bucket), and its objective."""
    s, duration = Series(stack), stack.contract.call_duration.name
    rules: list[Rule] = []
    for path, slo in latency_slo_endpoints(stack):
        on_endpoint = (c.ENDPOINT, path, "=")
        calls = source_step(stack, f"{duration}_count", (c.ENDPOINT,), on_endpoint)
        within = source_step(stack, f"{duration}_bucket", (c.ENDPOINT,), on_endpoint,
                                   (c.LE, bucket_bound(slo.threshold.seconds), "="))
        labels = {c.ENDPOINT: path}
        rules += [{"record": s.latency.objective, "expr": f"vector({number(slo.objective / 100)})", "labels": labels},
                  {"record": s.latency.calls_step, "expr": calls, "labels": labels},
                  {"record": s.latency.bad_step, "expr": f"{calls}\n-\n{within}", "labels": labels}]
    return rules


def _all_windows(stack: Stack, s: Series, window: Duration) -> list[Rule]:
    """The window's availability rules and latency rules, for the SLOs the spec has."""
    rules = _window_rules(s.availability, window) if slo_endpoints(stack) else []
    if latency_slo_endpoints(stack):
        rules += _window_rules(s.latency, window)
    return rules


def slo_rules(stack: Stack) -> list[Rule]:
    """The objective of each endpoint and the windows under a day, evaluated with the requests."""
    s = Series(stack)
    rules: list[Rule] = [{"record": s.availability.objective, "expr": f"vector({number(objective)})",
                          "labels": {c.ENDPOINT: path}} for path, objective in slo_endpoints(stack)]
    rules += latency_step_rules(stack)
    for window in _windows(stack, long=False):
        rules += _all_windows(stack, s, window)
    return rules


def slo_long_rules(stack: Stack) -> list[Rule]:
    """The windows of a day and more, and the error budget left over the period: these read days
    of samples and move slowly, so they run in the slower group."""
    s = Series(stack)
    rules: list[Rule] = []
    for window in _windows(stack, long=True) + [stack.slo.period]:
        rules += _all_windows(stack, s, window)
    period = str(stack.slo.period)
    if slo_endpoints(stack):
        rules.append({"record": s.availability.budget_remaining, "expr": f"1 - {s.availability.burn(period)}"})
    if latency_slo_endpoints(stack):
        rules.append({"record": s.latency.budget_remaining, "expr": f"1 - {s.latency.burn(period)}"})
    return rules
