"""Recording rules: request rates and ratios, latency quantiles, tokens, prices and cost."""
from __future__ import annotations

from typing import Any

from .. import contract as c
from ..model import Duration, Stack
from ..promql import MONTH_ELAPSED_SECONDS, MONTH_LEFT_SECONDS, SECONDS_PER_DAY, by, matcher, number, selector
from ..series import (CALL_LABELS, COST_LABELS, DASHBOARD_QUANTILES, PRICE_LABELS, QUANTILE,
                      STATUS_CLASSES, TOKEN_LABELS, Series)

Rule = dict[str, Any]
# Tokens times their price: the one join every cost expression uses.
PRICE_JOIN = f"on ({', '.join(PRICE_LABELS)}) group_left ()"
# How far back the month-to-date rule looks for its own previous value.
MONTH_TO_DATE_LOOKBACK = "3h"


def token_prices(stack: Stack) -> list[tuple[str, str, float]]:
    """(model, token_type, USD per token), as Prices.usd_per_token gives them."""
    return [(model.name, token_type, price) for model in stack.models
            for token_type, price in model.prices.usd_per_token().items()]


def share(numerator: str, denominator: str) -> str:
    """numerator / denominator, where 'or ... * 0' turns a missing numerator into 0: a share with
    no such calls reads 0, not "no data". With no traffic at all the denominator is 0 and the
    share is NaN, which no comparison fires on."""
    return f"(\n  {numerator}\n  or {denominator} * 0\n)\n/ {denominator}"


def _ratio(s: Series, status_class: str) -> Rule:
    numerator = f"sum {by(CALL_LABELS)} ({selector(s.requests_by_status, matcher(c.STATUS_CODE, STATUS_CLASSES[status_class], '=~'))})"
    return {"record": s.ratio(status_class), "expr": share(numerator, s.requests)}


def request_rules(stack: Stack) -> list[Rule]:
    s, p, w = Series(stack), stack.contract, str(stack.rate_window)
    rules: list[Rule] = [
        {"record": s.requests_by_status,
         "expr": f"sum {by(CALL_LABELS + (c.STATUS_CODE,))} (rate({p.requests.name}[{w}]))"},
        {"record": s.requests, "expr": f"sum {by(CALL_LABELS)} ({s.requests_by_status})"},
    ]
    rules += [_ratio(s, name) for name in STATUS_CLASSES]
    rules.append({"record": s.duration_buckets,
                  "expr": f"sum {by(CALL_LABELS + (c.LE,))} (rate({p.duration.name}_bucket[{w}]))"})
    for q in DASHBOARD_QUANTILES:
        rules.append({"record": s.duration_quantile,
                      "expr": f"histogram_quantile({q}, {s.duration_buckets})",
                      "labels": {QUANTILE: q}})
    return rules


def cost_rules(stack: Stack) -> list[Rule]:
    s, p, w = Series(stack), stack.contract, str(stack.rate_window)
    rules: list[Rule] = [
        {"record": s.token_price, "expr": f"vector({number(price)})",
         "labels": {c.MODEL: model, c.TOKEN_TYPE: token_type}}
        for model, token_type, price in token_prices(stack)
    ]
    rules.append({"record": s.tokens, "expr": f"sum {by(TOKEN_LABELS)} (rate({p.tokens.name}[{w}]))"})
    rules.append({"record": s.cost_rate,
                  "expr": f"sum {by(COST_LABELS)} (\n  {s.tokens}\n  * {PRICE_JOIN}\n  {s.token_price}\n)"})
    rules.append(month_to_date_rule(stack, s))
    return rules


def month_to_date_rule(stack: Stack, s: Series) -> Rule:
    """Spend since the month began (UTC), at the prices of each moment.

    Each evaluation adds to its own previous value the tokens counted since the previous evaluation,
    at the current prices. The tokens are read one scrape interval in the past, so that samples still
    being ingested at an evaluation are not skipped: the sum of these steps is the counters' exact
    increase, unlike a sum of extrapolated rates. A counter that went down (a restart) adds its new
    value. The first evaluation of a month starts again from zero; so does a gap in Prometheus' own
    evaluations longer than MONTH_TO_DATE_LOOKBACK (the month-to-date then under-counts)."""
    step, lag = stack.evaluation_interval, stack.slowest_scrape
    tokens = stack.contract.tokens.name
    now, before = f"{tokens} offset {lag}", f"{tokens} offset {Duration(lag.ms + step.ms)}"
    added = (f"sum {by(COST_LABELS)} (\n  sum {by(TOKEN_LABELS)} (({now} - {before}) >= 0 or {now})\n"
             f"  * {PRICE_JOIN}\n  {s.token_price}\n)")
    previous = (f"last_over_time({s.cost_month_to_date}[{MONTH_TO_DATE_LOOKBACK}])\n"
                f"  unless on () ({MONTH_ELAPSED_SECONDS} < {number(step.seconds)})")
    return {"record": s.cost_month_to_date,
            "expr": f"(\n  {previous}\n)\n+ {added}\nor\n{added}\nor\n(\n  {previous}\n)"}


def daily_cost_rules(stack: Stack) -> list[Rule]:
    s, p = Series(stack), stack.contract
    return [{"record": s.cost_24h,
             "expr": f"sum {by(COST_LABELS)} (\n  increase({p.tokens.name}[1d])\n  * {PRICE_JOIN}\n  {s.token_price}\n)"}]


def month_forecast(month_to_date: str, last_24h: str) -> str:
    """Month-to-date spend plus the rest of the month at the pace of the trailing 24 h."""
    return f"sum({month_to_date})\n+ sum({last_24h}) / {SECONDS_PER_DAY} * {MONTH_LEFT_SECONDS}"
