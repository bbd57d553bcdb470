"""ErrorBudgetBurn: multi-window, multi-burn-rate SLO alerts (Google SRE workbook), per endpoint."""
from __future__ import annotations

import math
from collections.abc import Callable

from ... import contract as c
from ...frozen import frozen
from ...identifiers import SLO_DASHBOARD
from ...model import Duration, Stack
from ...promql import number
from ...series import Series
from ...sources.base import LOGICAL_CALLS
from ..slo import slo_endpoints
from . import steps as step_cases
from .family import AlertFamily
from .ratios import SUCCESS_RATIO_LOW
from .promtool import CaseBuilder, PromtoolCase
from .rule import AlertRule

ERROR_BUDGET_BURN = "ErrorBudgetBurn"
LONG_WINDOW, SHORT_WINDOW = "long_window", "short_window"
# When the generated fast-burn case checks that every pair pages.
PAGE_WITHIN = Duration(10 * 60_000)
# The objective the call-step cases assume on a spec without SLOs (their failures are half its budget).
STEPS_OBJECTIVE = 0.99


def pair_rules(stack: Stack, kind: str, burn_rate: Callable[[str], str], calls: Callable[[str], str]) -> list[AlertRule]:
    """One alert of kind per burn-rate pair: both windows burn faster than its factor (burn_rate:
    window -> the recorded burn rate), and the long window holds at least slo.min_calls logical
    calls (calls: window -> the recorded calls per second)."""
    out = []
    for burn in stack.slo.burn_rates:
        long, short = str(burn.long_window), str(burn.short_window)
        factor = number(burn.factor)
        expr = (f"{burn_rate(long)} > {factor}\nand\n{burn_rate(short)} > {factor}\n"
                f"and on ({c.ENDPOINT})\n{calls(long)} * {number(burn.long_window.seconds)}"
                f" >= {stack.slo.min_calls}")
        out.append(AlertRule(kind, burn.severity, expr, Duration(0),
                             {"factor": f"{burn.factor:g}", "long_window": long, "short_window": short,
                              "period": str(stack.slo.period), "min_calls": str(stack.slo.min_calls)},
                             burn.factor, labels=((LONG_WINDOW, long), (SHORT_WINDOW, short))))
    return out


def rules(stack: Stack) -> list[AlertRule]:
    """Only endpoints with an availability have a burn rate."""
    if not slo_endpoints(stack):
        return []
    series = Series(stack)
    return pair_rules(stack, ERROR_BUDGET_BURN, series.availability.burn, series.availability.calls)


@frozen
class Scenario:
    """One generated burn: calls per sample, the share of them that spend the budget, who fires."""

    name: str
    share: float
    per_sample: float
    burn: float
    firing: list[AlertRule]


def scenarios(b: CaseBuilder, rules: list[AlertRule], budget: float) -> list[Scenario]:
    """A fast burn pages within minutes; a slow burn opens a ticket and does not page; a fast
    burn on too few calls stays silent."""
    top = max(r.threshold or 0 for r in rules)
    fast = min(1.25 * top * budget, (top * budget + 1) / 2)  # above every factor, below 100%
    slow = 2 * budget  # above 1x, below 3x: only the slowest pair
    min_calls = b.stack.slo.min_calls
    steps = PAGE_WITHIN.ms // b.interval.ms
    enough = math.ceil(2 * min_calls / steps)  # calls per sample: 2x the guard by then
    scant = min_calls / 2 / (b.samples + 1)  # half the guard over the whole run
    out = []
    for name, share, per_sample in (("fast burn pages within minutes", fast, enough),
                                    ("slow burn opens a ticket and does not page", slow, enough),
                                    (f"fast burn on fewer than {min_calls} calls stays silent", fast, scant)):
        burn = share / budget
        guarded = per_sample * (steps + 1) >= min_calls
        out.append(Scenario(name, share, per_sample, burn,
                            [r for r in rules if guarded and burn > (r.threshold or 0)]))
    return out


def cases(b: CaseBuilder) -> list[PromtoolCase]:
    """Each scenario on the first endpoint with an availability, from its logical-call counters. The
    call steps count only what Prometheus saw, and neither this alert nor SuccessRatioLow fires on
    what it did not."""
    rules = b.rules_of(ERROR_BUDGET_BURN)
    endpoints = slo_endpoints(b.stack)
    silent = [ERROR_BUDGET_BURN, SUCCESS_RATIO_LOW] if rules else [SUCCESS_RATIO_LOW]
    path, objective = endpoints[0] if endpoints else (b.stack.endpoints[0].path, STEPS_OBJECTIVE)
    # Failures at half the error budget and half what SuccessRatioLow allows: below every threshold.
    success = max(level for _, level in b.stack.thresholds.success_ratio.levels)
    out = step_cases.calls_cases(b, path, min(1 - objective, 1 - success) / 2, silent)
    if not rules or not endpoints:
        return out
    budget = 1 - objective
    call = {**b.call, c.ENDPOINT: path}
    for one in scenarios(b, rules, budget):
        failed = one.per_sample * one.share
        out.append(b.case(f"ErrorBudgetBurn on {path}: {one.name} (error ratio {one.share:.4g}, budget {budget:.4g})",
                          b.logical_calls(call, {"200": one.per_sample - failed, "503": failed}), str(PAGE_WITHIN),
                          ERROR_BUDGET_BURN,
                          [b.expected(r, {c.ENDPOINT: path, **dict(r.labels)}, one.burn) for r in one.firing]))
    return out


FAMILY = AlertFamily("burn rate", (ERROR_BUDGET_BURN,), rules, cases, dashboard=SLO_DASHBOARD,
                     requires={ERROR_BUDGET_BURN: frozenset({LOGICAL_CALLS})})
