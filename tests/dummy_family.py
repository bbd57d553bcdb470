"""An alert family that exists only in the tests. It shows that a new kind needs nothing outside
its own module (and its texts): rules, promtool cases and texts are all here."""
from __future__ import annotations

from holystack import contract as c
from holystack.model import Duration, Stack
from holystack.render.alerts import AlertFamily, AlertRule
from holystack.render.alerts.promtool import CaseBuilder, PromtoolCase
from holystack.series import Series

MOSTLY_TIMEOUTS = "MostlyTimeouts"
SHARE = 0.5
TEXTS = {"en": {MOSTLY_TIMEOUTS: {
    "summary": "Most LLM calls time out.",
    "description": "{{ $value | humanizePercentage }} of calls to {{ $labels.provider }} timed out over the "
                   "last [[ window ]]."}}}


def rules(stack: Stack) -> list[AlertRule]:
    return [AlertRule(MOSTLY_TIMEOUTS, "info", f"{Series(stack).ratio('timeout')} > {SHARE}", Duration(60_000),
                      {"window": str(stack.rate_window)}, SHARE)]


def cases(b: CaseBuilder) -> list[PromtoolCase]:
    rule, = b.rules_of(MOSTLY_TIMEOUTS)
    return [b.case("MostlyTimeouts fires at 60% timeouts", b.calls(b.call, {"200": 4, c.STATUS_TIMEOUT: 6}),
                   b.eval_time(rule.for_), MOSTLY_TIMEOUTS, [b.expected(rule, dict(b.call), 0.6)]),
            b.case("MostlyTimeouts stays silent at 40% timeouts", b.calls(b.call, {"200": 6, c.STATUS_TIMEOUT: 4}),
                   b.eval_time(rule.for_), MOSTLY_TIMEOUTS, [])]


FAMILY = AlertFamily("mostly timeouts", (MOSTLY_TIMEOUTS,), rules, cases, texts=TEXTS)
