"""Recording rules: request rates and ratios, latency quantiles, tokens, prices and cost."""
from __future__ import annotations

from typing import Any

from .. import contract as c
from ..model import Duration, Stack
from ..promql import MONTH_ELAPSED_SECONDS, MONTH_LEFT_SECONDS, SECONDS_PER_DAY, by, number
from ..series import (CALL_LABELS, COST_LABELS, LATENCY_LABELS, P95, PRICE_LABELS,
                      QUANTILE, STATUS_CLASSES, STATUS_LABELS, TOKEN_LABELS, TOKEN_RATE_LABELS, Series)
from ..sources import Match

Rule = dict[str, Any]
# Tokens times their price: the one join every cost expression uses.
PRICE_JOIN = f"on ({', '.join(PRICE_LABELS)}) group_left ()"
# How far back the month-to-date rule looks for its own previous value.
MONTH_TO_DATE_LOOKBACK = "3h"
DAY = Duration(SECONDS_PER_DAY * 1000)


def token_prices(stack: Stack) -> list[tuple[str, str, float]]:
    """(model, token_type, USD per token), as Prices.usd_per_token gives them."""
    return [(model.name, token_type, price) for model in stack.models
            for token_type, price in model.prices.usd_per_token().items()]


def share(numerator: str, denominator: str) -> str:
    """numerator / denominator, where 'or ... * 0' turns a missing numerator into 0: a share with
    no such calls reads 0, not "no data". With no traffic at all the denominator is 0 and the
    share is NaN, which no comparison fires on."""
    return f"(\n  {numerator}\n  or {denominator} * 0\n)\n/ {denominator}"


# The status classes the attempt ratio alerts read, one recorded ratio each per provider, endpoint and
# model (SuccessRatioLow reads the logical calls' share, in client_rules).
ALERT_RATIOS = ("rate_limited", "server_error", "timeout")
# The ratio the dashboards read by provider and model.
DASHBOARD_RATIO = "rate_limited"


def gap_bound(stack: Stack) -> Duration:
    """How far back a step reaches for a counter's previous real sample (staleness markers skipped):
    the lookback, and at least one evaluation interval. An increase across a gap in the samples (failed
    scrapes, Prometheus stopped) up to this long is counted once, at its true size; across a longer
    one, at its true size or not at all (not at all past the bound plus one evaluation interval)."""
    return Duration(max(stack.lookback.ms, stack.evaluation_interval.ms))


def now_range(stack: Stack) -> Duration:
    """The range a step reads the counters' current value from: at least one evaluation interval, so
    that every real sample is some step's now (a sample followed by a staleness marker within an
    evaluation is not skipped), and two scrape intervals, so that a step has a sample whatever the
    scrapes' jitter and records one at every evaluation while the target is scraped (VictoriaMetrics'
    recordings of recordings read the latest sample of the steps: a missing step would be read
    twice). Never more than the bound, so that it is the sample the next step reads as before."""
    return Duration(max(stack.evaluation_interval.ms, 2 * stack.slowest_scrape.ms))


def fresh_targets(stack: Stack) -> str:
    """The targets whose counters a step may count from zero: those for which a series missing from the
    samples Prometheus saw before is really new since then. One series per target, so cheap.

    - A scrape of the target within the bound before the previous step's horizon succeeded (up == 1):
      a series absent from all of the bound (no real sample) was absent from that scrape, so it was
      created after it, and all of its value is new.
    - Or it runs a process that Prometheus has not seen in the bound, started within it
      (process_start_time_seconds), while Prometheus was scraping the target (an up sample in the
      bound): an app that started after Prometheus, or restarted while its scrapes failed.

    Prometheus just started, back after more than the bound, or a target whose scrapes failed all of
    the bound with no new process: none of these, so a counter seen there for the first time counts
    nothing."""
    lag, before = stack.slowest_scrape, Duration(stack.slowest_scrape.ms + stack.evaluation_interval.ms)
    on, bound = f"on ({', '.join(c.TARGET_LABELS)})", gap_bound(stack)
    process = f"{c.PROCESS_START} offset {lag}"
    # Both sides of == one series per target, whatever else the target's series carry: a target
    # whose labels changed within the bound has two (many-to-one matching would fail the rule).
    targets = by(c.TARGET_LABELS)
    seen = f"max {targets} (last_over_time({c.PROCESS_START}[{bound}] offset {before}))"
    horizon = number((before.ms + bound.ms) / 1000)
    return (f"max_over_time(up[{bound}] offset {before}) == 1\n"
            f"or\n(\n  {process} > time() - {horizon}\n  unless {on} ({seen} == {on} max {targets} ({process}))\n)\n"
            f"and {on} last_over_time(up[{bound}] offset {before})")


def counter_step(stack: Stack, counter: str, labels: tuple[str, ...]) -> str:
    """What each raw counter grew by since the previous evaluation, as Prometheus saw it, summed by labels.

    The counters are read one scrape interval in the past (now), and one evaluation interval before
    that (before), so that samples still being ingested at an evaluation are not skipped; consecutive
    steps add up to the counters' exact increase, unlike a sum of extrapolated rates. Both read the
    last real sample of a range (last_over_time skips staleness markers): now over now_range,
    before over the bound (gap_bound). So before is always the sample the previous step
    read as now, or the last one Prometheus saw before a gap, and a failed scrape (which marks the
    target's series stale) hides nothing. A step is:
    - now - before, when both were seen (a gap up to the bound is counted once, at its true size);
    - now, when the counter went down (a restart: it counts from zero) or is missing from before,
      but only on a fresh target (fresh_targets): a counter Prometheus saw late counts nothing of
      its past.
    One evaluation reads each raw series three times (now twice, before once, over the bound); the
    rest is one series per target."""
    lag, step, bound = stack.slowest_scrape, stack.evaluation_interval, gap_bound(stack)
    now = f"last_over_time({counter}[{now_range(stack)}] offset {lag})"
    before = f"last_over_time({counter}[{bound}] offset {Duration(lag.ms + step.ms)})"
    on = f"on ({', '.join(c.TARGET_LABELS)})"
    fresh = "\n".join("    " + line for line in fresh_targets(stack).splitlines())
    return f"sum {by(labels)} (\n  ({now} - {before}) >= 0\n  or\n  {now} and {on} (\n{fresh}\n  )\n)"


def source_step(stack: Stack, series: str, labels: tuple[str, ...], *matches: Match) -> str:
    """counter_step over the raw series the stack's source reads for a canonical counter series."""
    return stack.source.step(stack, counter_step, series, labels, *matches)


def steps_window(window: Duration) -> str:
    """The range that holds exactly window / evaluation interval recorded steps. Prometheus 2 range
    selectors include both ends, so [1h] over a series recorded every 15s holds 241 samples when the
    reader runs in step with the writer; one millisecond less holds 240 whatever the phase."""
    return f"[{Duration(window.ms - 1)}]"


def sum_of_steps(steps: str, window: Duration) -> str:
    """The exact increase over window, from a recorded step series: bounded by the recorded series
    and the window, whatever the number of raw series."""
    return f"sum_over_time({steps}{steps_window(window)})"


def _class_rate(stack: Stack, labels: tuple[str, ...], status_class: str | None = None) -> str:
    matches = () if status_class is None else ((c.STATUS_CODE, STATUS_CLASSES[status_class], "=~"),)
    return stack.source.rate(stack, stack.contract.requests.name, labels, str(stack.rate_window), *matches)


def request_rules(stack: Stack) -> list[Rule]:
    """Rates over the base window, read from raw series: the only rules that read them, together with
    the counter steps that every longer window is summed from. Each is recorded in the cut its
    readers need; the raw request counters are scanned whole twice (calls per provider, endpoint and
    model; calls by status), the ratios read only their status class."""
    s, contract, source, w = Series(stack), stack.contract, stack.source, str(stack.rate_window)
    failed: tuple[str, str, str] = (c.STATUS_CODE, c.FAILED, "=~")
    rules: list[Rule] = [{"record": s.requests, "expr": _class_rate(stack, CALL_LABELS)}]
    rules += [{"record": s.ratio(name), "expr": share(_class_rate(stack, CALL_LABELS, name), s.requests)}
              for name in ALERT_RATIOS]
    rules += [
        {"record": s.requests_by_provider_model, "expr": f"sum {by(COST_LABELS)} ({s.requests})"},
        {"record": s.ratio_by_provider_model(DASHBOARD_RATIO),
         "expr": share(_class_rate(stack, COST_LABELS, DASHBOARD_RATIO), s.requests_by_provider_model)},
        {"record": s.requests_by_status, "expr": source.rate(stack, contract.requests.name, STATUS_LABELS, w)},
        # The SLOs count logical calls, whatever their retries and fallbacks.
        {"record": s.availability.calls_step, "expr": source_step(stack, contract.calls.name, (c.ENDPOINT,))},
        {"record": s.availability.bad_step, "expr": source_step(stack, contract.calls.name, (c.ENDPOINT,), failed)},
    ]
    return rules


def latency_rules(stack: Stack) -> list[Rule]:
    """Bucket rates per provider and endpoint and the p95 the alert reads. The raw buckets are most
    of the raw series: in a group of their own, their scan runs beside the requests' scan."""
    s, contract, w = Series(stack), stack.contract, str(stack.rate_window)
    return [
        {"record": s.duration_buckets,
         "expr": stack.source.rate(stack, f"{contract.duration.name}_bucket", LATENCY_LABELS + (c.LE,), w)},
        {"record": s.duration_quantile, "expr": f"histogram_quantile({P95}, {s.duration_buckets})",
         "labels": {QUANTILE: P95}},
    ]


def cost_rules(stack: Stack) -> list[Rule]:
    s, contract, w = Series(stack), stack.contract, str(stack.rate_window)
    rules: list[Rule] = [
        {"record": s.token_price, "expr": f"vector({number(price)})",
         "labels": {c.MODEL: model, c.TOKEN_TYPE: token_type}}
        for model, token_type, price in token_prices(stack)
    ]
    rules.append({"record": s.tokens, "expr": stack.source.rate(stack, contract.tokens.name, TOKEN_RATE_LABELS, w)})
    rules.append({"record": s.cost_rate,
                  "expr": f"sum {by(COST_LABELS)} (\n  {stack.source.per_second(stack, contract.tokens.name, w)}\n  * {PRICE_JOIN}\n  {s.token_price}\n)"})
    spend = stack.source.spend(stack, w)
    if spend is not None:  # beside holystack's cost, for the cost dashboard; no alert reads it
        rules.append({"record": s.source_spend_rate, "expr": spend})
    rules.append({"record": s.cost_step,
                  "expr": f"sum {by(COST_LABELS)} (\n  {source_step(stack, contract.tokens.name, TOKEN_LABELS)}\n"
                          f"  * {PRICE_JOIN}\n  {s.token_price}\n)"})
    rules.append({"record": s.cost_step_total, "expr": f"sum({s.cost_step})"})
    rules.append(month_to_date_rule(stack, s.cost_month_to_date, s.cost_step_total))
    # For the dashboards' spend by model and provider this month; no alert reads it.
    rules.append(month_to_date_rule(stack, s.cost_month_to_date_by_model, s.cost_step))
    return rules


def month_to_date_rule(stack: Stack, record: str, step: str) -> Rule:
    """Spend since the month began (UTC), at the prices of each moment.

    Each evaluation adds the recorded cost step (the tokens counted since the previous evaluation,
    at the current prices; see counter_step) to its own previous value, so its steps add up to the
    counters' exact increase. The first evaluation of a month starts again from zero; so does a gap
    in Prometheus' own evaluations longer than MONTH_TO_DATE_LOOKBACK (the month-to-date then
    under-counts)."""
    previous = (f"last_over_time({record}[{MONTH_TO_DATE_LOOKBACK}])\n"
                f"  unless on () ({MONTH_ELAPSED_SECONDS} < {number(stack.evaluation_interval.seconds)})")
    return {"record": record, "expr": f"(\n  {previous}\n)\n+ {step}\nor\n{step}\nor\n(\n  {previous}\n)"}


def daily_cost_rules(stack: Stack) -> list[Rule]:
    """The trailing 24 h, summed from the recorded steps: each at the prices of its time."""
    s = Series(stack)
    return [{"record": s.cost_24h, "expr": sum_of_steps(s.cost_step_total, DAY)}]


def month_forecast(month_to_date: str, last_24h: str) -> str:
    """Month-to-date spend plus the rest of the month at the pace of the trailing 24 h."""
    return f"sum({month_to_date})\n+ sum({last_24h}) / {SECONDS_PER_DAY} * {MONTH_LEFT_SECONDS}"


def dashboard_only_records(stack: Stack) -> set[str]:
    """Recorded series that only dashboards read. The month to date by provider and model grows with
    the models, which the alerts' long windows must not: no alert may read it."""
    return {Series(stack).cost_month_to_date_by_model}
