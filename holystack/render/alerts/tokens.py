"""Tokens per hour above the spec's level; cached prompt tokens are counted once, inside prompt."""
from __future__ import annotations

from ... import contract as c
from ...model import Stack
from ...promql import SECONDS_PER_HOUR, matcher, number, selector
from ...series import Series
from ...thresholds import TOKENS_PER_HOUR
from .family import AlertFamily
from .promtool import CaseBuilder, PromtoolCase, ramp
from .rule import AlertRule

TOKEN_USAGE_HIGH = "TokenUsageHigh"


def rules(stack: Stack) -> list[AlertRule]:
    series, levels = Series(stack), stack.thresholds.tokens_per_hour
    billable = matcher(c.TOKEN_TYPE, "|".join(c.BILLABLE_TOKEN_TYPES), "=~")
    return [AlertRule(TOKEN_USAGE_HIGH, severity,
                      f"sum({selector(series.tokens, billable)}) * {SECONDS_PER_HOUR} > {number(per_hour)}",
                      levels.for_, {"threshold": f"{per_hour:,.0f}"}, per_hour)
            for severity, per_hour in levels.levels]


def cases(b: CaseBuilder) -> list[PromtoolCase]:
    out = []
    for rule in b.rules_of(TOKEN_USAGE_HIGH):
        per_hour = rule.threshold or 0
        for share, fire in ((1.5, True), (0.5, False)):
            # Cached tokens are inside prompt: counting them again would push 0.5x over.
            rates = {c.TOKEN_PROMPT: 0.3 * share, c.TOKEN_COMPLETION: 0.7 * share, c.TOKEN_CACHED_PROMPT: 0.6}
            values = {tt: ramp(b.per_sample(r * per_hour / SECONDS_PER_HOUR), b.samples) for tt, r in rates.items()}
            out.append(b.case(f"TokenUsageHigh {'fires' if fire else 'stays silent'} at "
                              f"{share:g}x {per_hour:g} tokens per hour (cached tokens counted once)",
                              b.tokens(b.call[c.PROVIDER], b.call[c.MODEL], values), b.eval_time(rule.for_),
                              TOKEN_USAGE_HIGH, [b.expected(rule, {}, share * per_hour)] if fire else []))
    return out


FAMILY = AlertFamily("tokens", (TOKEN_USAGE_HIGH,), rules, cases,
                     thresholds=(TOKENS_PER_HOUR,))
