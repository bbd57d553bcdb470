"""Resilience of the instrumented client: calls served by a fallback, a circuit breaker that stays
open, rate-limit headroom running out before the 429s start, and too many retries."""
from __future__ import annotations

from ... import contract as c
from ...model import Duration, Stack
from ...promql import by, number
from ...series import Series
from ...sources.base import ATTEMPTS, BREAKER_STATE, FALLBACKS, LOGICAL_CALLS, RATE_LIMIT_GAUGES, RETRIES
from ...thresholds import CIRCUIT_OPEN, FALLBACK_RATIO, RATELIMIT_HEADROOM, RETRY_RATIO
from ..client_rules import circuit_not_closed
from .family import AlertFamily
from .promtool import CaseBuilder, PromtoolCase, ramp, series_text
from .rule import AlertRule, percent

FALLBACK_ACTIVE = "FallbackActive"
CIRCUIT_BREAKER_OPEN = "CircuitBreakerOpen"
RATE_LIMIT_HEADROOM_LOW = "RateLimitHeadroomLow"
RETRY_RATIO_HIGH = "RetryRatioHigh"


def rules(stack: Stack) -> list[AlertRule]:
    s, t = Series(stack), stack.thresholds
    window = {"window": str(stack.rate_window)}
    out = []
    if stack.resilience.fallbacks:  # no chain, no fallback
        for severity, level in t.fallback_ratio.levels:
            out.append(AlertRule(FALLBACK_ACTIVE, severity, f"{s.fallback_share} {FALLBACK_RATIO.op} {number(level)}",
                                 t.fallback_ratio.for_, {"threshold": percent(level), **window}, level,
                                 keep_firing_for=t.fallback_ratio.keep_firing_for))
    out.append(AlertRule(CIRCUIT_BREAKER_OPEN, "critical", f"{circuit_not_closed(stack)} == 1", t.circuit_open_for,
                         {"for": str(t.circuit_open_for)}, 1.0))
    for severity, level in t.ratelimit_headroom.levels:
        # Only where calls flow: a gauge keeps the last value it was given, long after the traffic moved on.
        expr = (f"{s.ratelimit_headroom} {RATELIMIT_HEADROOM.op} {number(level)}\nand on ({c.PROVIDER}, {c.MODEL})\n"
                f"sum {by((c.PROVIDER, c.MODEL))} ({s.requests}) > 0")
        out.append(AlertRule(RATE_LIMIT_HEADROOM_LOW, severity, expr, t.ratelimit_headroom.for_,
                             {"threshold": percent(level)}, level))
    for severity, level in t.retry_ratio.levels:
        out.append(AlertRule(RETRY_RATIO_HIGH, severity, f"{s.retry_ratio} {RETRY_RATIO.op} {number(level)}",
                             t.retry_ratio.for_, {"threshold": percent(level), **window}, level,
                             keep_firing_for=t.retry_ratio.keep_firing_for))
    return out


def _counter(b: CaseBuilder, name: str, labels: dict[str, str], per_sample: float) -> tuple[str, str]:
    return series_text(name, {**labels, **b.target}), ramp(per_sample, b.samples)


def _gauge(b: CaseBuilder, name: str, labels: dict[str, str], value: float) -> tuple[str, str]:
    return series_text(name, {**labels, **b.target}), f"{number(value)}x{b.samples}"


def _breaker_cases(b: CaseBuilder, breaker: AlertRule, provider: str) -> list[PromtoolCase]:
    """The breaker stays open, flaps open and half-open, or stays closed."""
    contract = b.contract
    state = lambda name, value: _gauge(b, contract.circuit_state.name, {c.PROVIDER: provider, c.STATE: name}, value)  # noqa: E731
    flapping = [(series_text(contract.circuit_state.name, {c.PROVIDER: provider, c.STATE: name, **b.target}),
                 " ".join(str(int((step // 6 % 2 == 0) == (name == c.CIRCUIT_OPEN))) for step in range(b.samples + 1)))
                for name in (c.CIRCUIT_OPEN, c.CIRCUIT_HALF_OPEN)] + [state(c.CIRCUIT_CLOSED, 0)]
    wait = str(Duration(breaker.for_.ms + 2 * 60_000))
    return [
        b.case(f"CircuitBreakerOpen fires: {provider}'s breaker stays open",
               [state(c.CIRCUIT_OPEN, 1), state(c.CIRCUIT_HALF_OPEN, 0), state(c.CIRCUIT_CLOSED, 0)], wait,
               CIRCUIT_BREAKER_OPEN, [b.expected(breaker, {c.PROVIDER: provider}, 1)]),
        b.case(f"CircuitBreakerOpen fires: {provider}'s breaker goes open, half-open (a failed probe), open again",
               flapping, wait, CIRCUIT_BREAKER_OPEN, [b.expected(breaker, {c.PROVIDER: provider}, 1)]),
        b.case(f"CircuitBreakerOpen stays silent: {provider}'s breaker is closed",
               [state(c.CIRCUIT_OPEN, 0), state(c.CIRCUIT_HALF_OPEN, 0), state(c.CIRCUIT_CLOSED, 1)], wait,
               CIRCUIT_BREAKER_OPEN, []),
    ]


def cases(b: CaseBuilder) -> list[PromtoolCase]:
    contract, stack = b.contract, b.stack
    provider, endpoint, model = b.call[c.PROVIDER], b.call[c.ENDPOINT], b.call[c.MODEL]
    out = []
    for rule in b.rules_of(FALLBACK_ACTIVE):
        edge = stack.resilience.fallbacks[0]
        labels = {c.FROM_PROVIDER: edge.source, c.TO_PROVIDER: edge.target}
        level = rule.threshold or 0
        for share, fire in ((min(2 * level, (level + 1) / 2), True), (level / 2, False)):
            series = [_counter(b, contract.calls.name, {c.ENDPOINT: endpoint, c.MODEL: model, c.STATUS_CODE: "200"}, 100),
                      _counter(b, contract.fallbacks.name, {**labels, c.REASON: c.REASON_CIRCUIT_OPEN}, 100 * share)]
            out.append(b.case(f"FallbackActive {'fires' if fire else 'stays silent'}: {share:.4g} of calls moved "
                              f"from {edge.source} to {edge.target}", series, b.eval_time(rule.for_), FALLBACK_ACTIVE,
                              [b.expected(rule, labels, share)] if fire else []))
    for breaker in b.rules_of(CIRCUIT_BREAKER_OPEN):
        out += _breaker_cases(b, breaker, provider)
    for rule in b.rules_of(RATE_LIMIT_HEADROOM_LOW):
        level, limit = rule.threshold or 0, 10_000
        labels = {c.PROVIDER: provider, c.MODEL: model, c.RESOURCE: c.RESOURCES[0]}
        low, high = level / 2, (level + 1) / 2
        for name, headroom, traffic, fire in (
                (f"RateLimitHeadroomLow fires: {low:.4g} of the request limit left while calls flow", low, 10, True),
                (f"RateLimitHeadroomLow stays silent: {high:.4g} of the request limit left", high, 10, False),
                ("RateLimitHeadroomLow stays silent: the last headroom seen is low, but no call has gone out since",
                 low, 0, False)):
            series = [_gauge(b, contract.ratelimit_remaining.name, labels, headroom * limit),
                      _gauge(b, contract.ratelimit_limit.name, labels, limit)] + b.calls(b.call, {"200": traffic})
            out.append(b.case(name, series, b.eval_time(rule.for_), RATE_LIMIT_HEADROOM_LOW,
                              [b.expected(rule, labels, headroom)] if fire else []))
    for rule in b.rules_of(RETRY_RATIO_HIGH):
        level = rule.threshold or 0
        for share, fire in ((min(2 * level, (level + 1) / 2), True), (level / 2, False)):
            attempts = b.calls(b.call, {"200": 100 * (1 - share), "429": 100 * share})
            retries = [_counter(b, contract.retries.name, {**b.call, c.REASON: c.REASON_RATE_LIMITED}, 100 * share)]
            out.append(b.case(f"RetryRatioHigh {'fires' if fire else 'stays silent'}: {share:.4g} of {provider}'s "
                              "attempts were retries", attempts + retries, b.eval_time(rule.for_), RETRY_RATIO_HIGH,
                              [b.expected(rule, {c.PROVIDER: provider}, share)] if fire else []))
    return out


FAMILY = AlertFamily("resilience", (FALLBACK_ACTIVE, CIRCUIT_BREAKER_OPEN, RATE_LIMIT_HEADROOM_LOW, RETRY_RATIO_HIGH),
                     rules, cases,
                     requires={FALLBACK_ACTIVE: frozenset({FALLBACKS, LOGICAL_CALLS}),
                               CIRCUIT_BREAKER_OPEN: frozenset({BREAKER_STATE}),
                               RATE_LIMIT_HEADROOM_LOW: frozenset({RATE_LIMIT_GAUGES, ATTEMPTS}),
                               RETRY_RATIO_HIGH: frozenset({RETRIES, ATTEMPTS})},
                     thresholds=(FALLBACK_RATIO, RETRY_RATIO, RATELIMIT_HEADROOM, CIRCUIT_OPEN))
