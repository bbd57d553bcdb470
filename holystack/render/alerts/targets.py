"""The pipeline's inputs: a scrape target down, or up without any of the contract's series."""
from __future__ import annotations

from ...model import Duration, Stack
from ...promql import one_of, selector
from ... import thresholds
from .family import AlertFamily
from .promtool import SETTLE, CaseBuilder, PromtoolCase
from .rule import AlertRule

METRICS_ABSENT = "MetricsAbsent"
TARGET_DOWN = "TargetDown"


def all_jobs(stack: Stack) -> list[str]:
    """Every job in prometheus.yml: the spec's, then Prometheus and Alertmanager themselves."""
    return [job.name for job in stack.jobs] + [name for name, _ in stack.self_jobs]


def rules(stack: Stack) -> list[AlertRule]:
    t, contract = stack.thresholds, stack.contract
    app_up = selector("up", one_of("job", [job.name for job in stack.jobs]))
    return [
        AlertRule(METRICS_ABSENT, "warning", f"absent({stack.source.presence()}) and on () (sum({app_up}) > 0)",
                  t.metrics_absent_for, {"jobs": ", ".join(job.name for job in stack.jobs),
                                         "metric": stack.source.presence(), "prefix": contract.prefix}),
        AlertRule(TARGET_DOWN, "critical", f"{selector('up', one_of('job', all_jobs(stack)))} == 0",
                  t.target_down_for, {"for": str(t.target_down_for)}),
    ]


def cases(b: CaseBuilder) -> list[PromtoolCase]:
    absent, = b.rules_of(METRICS_ABSENT)
    down, = b.rules_of(TARGET_DOWN)
    flat = b.calls(b.call, {"200": 0})
    absent_time = str(Duration(absent.for_.ms + SETTLE.ms))
    down_time = str(Duration(down.for_.ms + SETTLE.ms))
    return [
        b.case("MetricsAbsent fires: the target is up but exposes no contract metric", [b.up(1)],
               absent_time, METRICS_ABSENT, [b.expected(absent, {}, 1)]),
        b.case("MetricsAbsent stays silent: the target is up and idle, its counters present but flat",
               [b.up(1)] + flat, absent_time, METRICS_ABSENT, []),
        b.case("MetricsAbsent stays silent when the target is down (TargetDown speaks)", [b.up(0)],
               absent_time, METRICS_ABSENT, []),
        b.case("TargetDown fires: the scrape fails", [b.up(0)] + flat, down_time, TARGET_DOWN,
               [b.expected(down, dict(b.target), 0)]),
        b.case("TargetDown stays silent: the scrape succeeds", [b.up(1)] + flat, down_time, TARGET_DOWN, []),
    ]


FAMILY = AlertFamily("targets and absence", (METRICS_ABSENT, TARGET_DOWN), rules, cases,
                     thresholds=(thresholds.METRICS_ABSENT, thresholds.TARGET_DOWN))
