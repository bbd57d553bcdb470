"""An alert family with a threshold of its own that exists only in the tests. It shows that a new
kind with a threshold needs nothing outside its own module and its texts: the threshold's spec
field, schema fragment, defaults, direction and horizon are declared here, and the schema, the
model, the defaults, the semantic checks, the rules and the generated cases read them from here."""
from __future__ import annotations

from holystack.model import Stack
from holystack.promql import number
from holystack.render.alerts import AlertFamily, AlertRule
from holystack.render.alerts.promtool import CaseBuilder, PromtoolCase
from holystack.render.alerts.rule import percent
from holystack.series import Series
from holystack.sources.base import ATTEMPTS
from holystack.thresholds import HIGHER_IS_WORSE, Levels, share

THROTTLED_SHARE_HIGH = "ThrottledShareHigh"
# thresholds.throttled_share: warning below critical, like every share where higher is worse.
THROTTLED_SHARE = share("throttled_share", HIGHER_IS_WORSE, {"warning": 0.2, "critical": 0.5, "for": "1m"},
                        "Share of a provider's attempts answered 429 (ThrottledShareHigh).")
TEXTS = {
    "en": {THROTTLED_SHARE_HIGH: {
        "summary": "Many LLM calls are throttled.",
        "description": "{{ $value | humanizePercentage }} of calls to {{ $labels.provider }} were answered 429 "
                       "over the last [[ window ]] (threshold [[ threshold ]])."}},
    "vi": {THROTTLED_SHARE_HIGH: {
        "summary": "Nhiều lệnh gọi LLM bị giới hạn.",
        "description": "{{ $value | humanizePercentage }} lệnh gọi tới {{ $labels.provider }} "
                       "bị trả lời 429 "
                       "trong [[ window ]] vừa qua (ngưỡng [[ threshold ]])."}},
}


def _levels(stack: Stack) -> Levels:
    levels: Levels = stack.thresholds.throttled_share
    return levels


def rules(stack: Stack) -> list[AlertRule]:
    levels, op = _levels(stack), THROTTLED_SHARE.op
    ratio = Series(stack).ratio("rate_limited")
    return [AlertRule(THROTTLED_SHARE_HIGH, severity, f"{ratio} {op} {number(level)}", levels.for_,
                      {"threshold": percent(level), "window": str(stack.rate_window)}, level)
            for severity, level in levels.levels]


def _case(b: CaseBuilder, throttled: int, firing: list[AlertRule], name: str) -> PromtoolCase:
    wait = b.eval_time(b.longest_for(THROTTLED_SHARE_HIGH))
    return b.case(name, b.calls(b.call, {"200": 100 - throttled, "429": throttled}), wait, THROTTLED_SHARE_HIGH,
                  [b.expected(rule, dict(b.call), throttled / 100) for rule in firing])


def cases(b: CaseBuilder) -> list[PromtoolCase]:
    """Each level fires past its threshold (and the levels below it with it); below the lowest, silence."""
    rules_ = sorted(b.rules_of(THROTTLED_SHARE_HIGH), key=lambda rule: rule.threshold or 0)
    bounds = [rule.threshold or 0 for rule in rules_] + [1.0]
    out = []
    for index, rule in enumerate(rules_):
        throttled = round(50 * (bounds[index] + bounds[index + 1]))
        out.append(_case(b, throttled, rules_[: index + 1],
                         f"ThrottledShareHigh fires at {rule.severity}: {throttled}% answered 429"))
    quiet = round(50 * bounds[0])
    out.append(_case(b, quiet, [], f"ThrottledShareHigh stays silent: {quiet}% answered 429"))
    return out


FAMILY = AlertFamily("throttled share", (THROTTLED_SHARE_HIGH,), rules, cases, texts=TEXTS,
                     requires={THROTTLED_SHARE_HIGH: frozenset({ATTEMPTS})}, thresholds=(THROTTLED_SHARE,))
