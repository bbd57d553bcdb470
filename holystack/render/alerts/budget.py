"""Spend: the trailing 24 h above the daily budget, and the month's forecast above the monthly one."""
from __future__ import annotations

import math
from typing import Any

from ... import contract as c
from ...identifiers import COST_DASHBOARD
from ...model import PER_MILLION, Duration, LlmModel, Stack
from ...promql import SECONDS_PER_DAY, number
from ...series import Series
from ...sources.base import CACHED_TOKENS
from ..recording import month_forecast
from . import steps
from ...thresholds import BUDGET
from .family import AlertFamily
from .promtool import RUN, SETTLE, CaseBuilder, PromtoolCase
from .rule import AlertRule

DAILY_BUDGET_EXCEEDED = "DailyBudgetExceeded"
MONTHLY_BUDGET_FORECAST = "MonthlyBudgetForecast"
# promtool's tests start at 1970-01-01: January.
PROMTOOL_MONTH_DAYS = 31
# How long a case's token counters rise (then they stay flat): the budget alerts read a 24 h sum
# of recorded steps, so the case is judged once the last step has reached it and for: has passed.
RAMP = Duration(10 * 60_000)


def rules(stack: Stack) -> list[AlertRule]:
    series, t = Series(stack), stack.thresholds
    out = []
    if t.daily_budget_usd is not None:
        out.append(AlertRule(DAILY_BUDGET_EXCEEDED, "warning", f"sum({series.cost_24h}) > {number(t.daily_budget_usd)}",
                             t.budget_for, {"threshold": f"${t.daily_budget_usd:g}"}, t.daily_budget_usd))
    if t.monthly_budget_usd is not None:
        # Month-to-date spend at the prices of the time, plus the rest of the month at the pace of
        # the last 24 hours: a whole daily cycle, so a busy afternoon does not look like a trend.
        forecast = month_forecast(series.cost_month_to_date, series.cost_24h)
        out.append(AlertRule(MONTHLY_BUDGET_FORECAST, "warning", f"{forecast}\n> {number(t.monthly_budget_usd)}",
                             t.budget_for, {"threshold": f"${t.monthly_budget_usd:g}"}, t.monthly_budget_usd))
    return out


def forecast_usd(month_to_date: float, last_24h: float, seconds_left: float) -> float:
    """month_forecast, in Python: the month so far plus the seconds left at the last 24 h's pace."""
    return month_to_date + last_24h / SECONDS_PER_DAY * seconds_left


def cases(b: CaseBuilder) -> list[PromtoolCase]:
    """Each budget alert just above and just below its budget, decided by cached-token pricing; the
    cost steps count only what Prometheus saw, and the budget alerts stay silent on what it did not."""
    t = b.stack.thresholds
    at = budget_eval_time(b)
    # At the end of a case (that far into a 31-day month) the month so far and the trailing 24 h
    # both hold the case's whole cost.
    month_factor = forecast_usd(1, 1, PROMTOOL_MONTH_DAYS * SECONDS_PER_DAY - at.seconds)
    kinds = [(DAILY_BUDGET_EXCEEDED, t.daily_budget_usd, 1.0, "over the last 24 h"),
             (MONTHLY_BUDGET_FORECAST, t.monthly_budget_usd, month_factor,
              "this month so far plus the rest of it at the last 24 h's pace")]
    # The model whose cached tokens save the most, so that their pricing decides the case; one whose
    # cache writes cost more than input first, so that their pricing decides it too.
    model = max(b.stack.models, key=lambda m: (_write_surcharge(m) > 0,
                                               m.prices.input - m.prices.effective_cached_input, m.prices.input))
    cache = CACHED_TOKENS in b.stack.source.capabilities
    writes = ", cache writes at cache_write" if _write_surcharge(model) > 0 else ""
    pricing = (f"cached tokens priced at cached_input{writes}" if cache
               else "all input priced at input (the source reports no cached tokens)")
    budgets = [budget for _, budget, _, _ in kinds if budget is not None]
    out = steps.cost_cases(b, model, budgets, [kind for kind, _, _, _ in kinds if b.rules_of(kind)])
    for kind, budget, factor, what in kinds:
        rule = next(iter(b.rules_of(kind)), None)
        if rule is None or budget is None:
            continue
        for margin in (1.02, 0.98):
            tokens, cost = _tokens_costing(b, model, margin * budget / factor, budget / factor, cache)
            value = cost * factor
            fire = value > budget
            out.append(b.case(
                f"{kind} {'fires' if fire else 'stays silent'}: ${value:.2f} of {model.name} {what} "
                f"against ${budget:g}, {pricing}",
                b.tokens(b.call[c.PROVIDER], model.name, tokens), str(at), kind,
                [b.expected(rule, {}, value)] if fire else []))
    return out


def _write_surcharge(model: LlmModel) -> float:
    """USD per 1M cache-written tokens above input."""
    return model.prices.effective_cache_write - model.prices.input


def ramp_samples(b: CaseBuilder) -> int:
    """The samples over which a case's token counters rise to their total."""
    return max(1, RAMP.ms // b.interval.ms)


def ramp_pad(b: CaseBuilder) -> int:
    """The samples a case's token counters stay at 0 before the ramp, until the steps have read a
    sample of them: a counter the steps first see at its first sample counts nothing of that
    value (recording.counter_step)."""
    return -(-(b.stack.slowest_scrape.ms + b.stack.evaluation_interval.ms) // b.interval.ms)


def budget_eval_time(b: CaseBuilder) -> Duration:
    """When a budget case is judged: the counters' total has reached the recorded steps (one
    scrape's lag), the 24 h sum (SETTLE covers an evaluation and a slow group's), and the alert's
    for: has passed. On a whole minute (an evaluation interval divides one), so that the forecast
    is evaluated at that very instant; within the case's series."""
    rule_for = max((r.for_ for r in b.rules_of(DAILY_BUDGET_EXCEEDED) + b.rules_of(MONTHLY_BUDGET_FORECAST)),
                   key=lambda d: d.ms, default=Duration(0))
    ready = (ramp_pad(b) + 1 + ramp_samples(b)) * b.interval.ms + b.stack.slowest_scrape.ms + rule_for.ms + SETTLE.ms
    minute = 60_000
    return Duration(min(RUN.ms, -(-ready // minute) * minute))


def _tokens_costing(b: CaseBuilder, model: LlmModel, target_usd: float,
                    budget_usd: float, cache: bool = True) -> tuple[dict[str, Any], float]:
    """Token counters that cost about target_usd over the case: flat at 0 for ramp_pad samples,
    reaching their total after RAMP and then flat. A share of the prompt is cached: priced at full input price, the same
    tokens would cost 5% of budget_usd more. Where cache writes cost more than input, a share is
    written to the cache: priced at input, it would cost 4% of budget_usd less (so that neither
    mistake is hidden by the other). Without cache (a source that reports no cached tokens) every
    prompt token is uncached. Returns the counters' values and their exact cost."""
    prices = model.prices
    pad, ramp = ramp_pad(b), ramp_samples(b)
    discount = prices.input - prices.effective_cached_input
    cached = math.ceil(0.05 * budget_usd * PER_MILLION / discount / ramp) if discount > 0 and cache else 0
    surcharge = _write_surcharge(model)
    written = math.ceil(0.04 * budget_usd * PER_MILLION / surcharge / ramp) if surcharge > 0 and cache else 0
    rest = target_usd - (cached * prices.effective_cached_input + written * prices.effective_cache_write) * ramp / PER_MILLION
    completion_price = prices.output or prices.input
    completion = math.ceil(rest / 2 * PER_MILLION / completion_price / ramp) if prices.output else 0
    rest -= completion * ramp * prices.output / PER_MILLION
    uncached = max(0, math.ceil(rest * PER_MILLION / prices.input / ramp)) if prices.input else 0
    per_sample = {c.TOKEN_PROMPT: uncached + cached + written, c.TOKEN_COMPLETION: completion}
    if cache:
        per_sample[c.TOKEN_CACHED_PROMPT] = cached
    if written:
        per_sample[c.TOKEN_CACHE_WRITE] = written
    cost = prices.usd({token_type: count * ramp for token_type, count in per_sample.items()})
    values = {tt: f"0x{pad} {per}+{per}x{ramp - 1} {per * ramp}x{b.samples - pad - ramp - 1}"
              for tt, per in per_sample.items()}
    return values, cost


FAMILY = AlertFamily("budget and forecast", (DAILY_BUDGET_EXCEEDED, MONTHLY_BUDGET_FORECAST), rules, cases,
                     dashboard=COST_DASHBOARD,
                     thresholds=(BUDGET,))
