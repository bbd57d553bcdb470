"""Watchdog: always firing, the dead man's switch that proves the whole pipeline is alive."""
from __future__ import annotations

from typing import Any

from ... import contract as c
from ...defaults import WATCHDOG_RECEIVER
from ...model import Duration, Stack
from .family import EXEMPT_COMPARISON, AlertFamily
from .promtool import RUN, CaseBuilder, PromtoolCase, ramp
from .rule import SEVERITY, AlertRule

WATCHDOG = "Watchdog"


def rules(stack: Stack) -> list[AlertRule]:
    return [AlertRule(WATCHDOG, "none", "vector(1)", Duration(0))]


def routes(stack: Stack) -> list[dict[str, Any]]:
    """First of all routes: the Watchdog goes to the dead man's switch alerting.watchdog names, heard
    at once and then every repeat_interval; without one, to a receiver that does nothing."""
    alerting = stack.alerting
    route: dict[str, Any] = {"receiver": alerting.watchdog_receiver,
                             "matchers": [f'alertname="{stack.alert_name(WATCHDOG)}"']}
    if alerting.watchdog_repeat_interval is not None:
        interval = str(alerting.watchdog_repeat_interval)
        route.update({"group_wait": "0s", "group_interval": interval, "repeat_interval": interval})
    return [route]


def receivers(stack: Stack) -> list[dict[str, Any]]:
    return [{"name": WATCHDOG_RECEIVER}]


def quiet_horizon(b: CaseBuilder, rule_for: Duration) -> str:
    """Past the point where an alert with this for: would fire (its rate window, its for: and the
    settling time), within the case's series: silence there is silence for good."""
    return str(Duration(min(RUN.ms, Duration.parse(b.eval_time(rule_for)).ms)))


def cases(b: CaseBuilder) -> list[PromtoolCase]:
    """Watchdog always fires; with no traffic at all (counters flat), it is the only alert. Every rule
    runs in that case (it reads ALERTS), so it judges them at the horizon of all but the alerts with the
    longest for:, which are judged again alone past theirs: the no-traffic proof does not run every
    rule for the one alert that waits longest."""
    watchdog, = b.rules_of(WATCHDOG)
    series = [b.up(1)] + b.calls(b.call, {"200": 0, "429": 0, "503": 0, c.STATUS_TIMEOUT: 0})
    series += b.logical_calls(b.call, {"200": 0, "503": 0})
    series += b.histogram(b.call, 0.0, b.stack.latency_buckets[0], per_sample=0)
    series += b.tokens(b.call[c.PROVIDER], b.call[c.MODEL], {tt: ramp(0, b.samples) for tt in c.TOKEN_TYPES})
    fors = sorted({rule.for_.ms for rule in b.every_rule})
    longest = list(dict.fromkeys(rule.kind for rule in b.every_rule if rule.for_.ms == fors[-1]))
    alone = longest if len(fors) > 1 else []
    at = quiet_horizon(b, Duration(fors[-2] if alone else fors[-1]))
    case = b.case("No traffic at all: no alert but the Watchdog fires (no 0/0 alerts)", series, at, WATCHDOG,
                  [b.expected(watchdog, {}, 1)])
    name = b.stack.alert_name(WATCHDOG)
    case.expr_tests.append({
        "expr": 'ALERTS{alertstate="firing"}', "eval_time": at,
        "exp_samples": [{"labels": f'ALERTS{{alertname="{name}",alertstate="firing",{SEVERITY}="none"}}',
                         "value": 1}]})
    later = quiet_horizon(b, Duration(fors[-1]))
    return [case] + [b.case(f"No traffic at all: {b.stack.alert_name(kind)} stays silent past its for: of "
                            f"{Duration(fors[-1])}, the longest", series, later, kind, []) for kind in alone]


FAMILY = AlertFamily("watchdog", (WATCHDOG,), rules, cases, routes=routes, receivers=receivers,
                     lint_exemptions=frozenset({EXEMPT_COMPARISON}))
