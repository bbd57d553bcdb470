"""The building blocks of generated `promtool test rules` cases: input series in promtool's
notation, and the alerts a case expects, with their exact labels and annotation texts."""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ... import contract as c
from ... import gotemplate
from ...defaults import PROMTOOL_CASE_RUN
from ...model import Duration, Stack
from ...promql import number, quote
from .rule import SEVERITY, AlertRule

RUN = Duration.parse(PROMTOOL_CASE_RUN)  # how long each case's series run
# How long past its rate window and for: a case evaluates an alert.
SETTLE = Duration(2 * 60 * 1000)

Series = tuple[str, str]  # (series in promtool notation, its values)


@dataclass
class PromtoolCase:
    """One `promtool test rules` test: input series and what the alerts (and queries) must give."""

    name: str
    series: list[Series] = field(default_factory=list)
    alert_tests: list[dict[str, Any]] = field(default_factory=list)
    expr_tests: list[dict[str, Any]] = field(default_factory=list)

    def document(self, interval: Duration,
                 inputs: Callable[[list[Series]], list[Series]] = list) -> dict[str, Any]:
        """The test; inputs writes the contract-shaped series as the metric source emits them."""
        test: dict[str, Any] = {"name": self.name, "interval": str(interval),
                                "input_series": [{"series": s, "values": v} for s, v in inputs(self.series)]}
        if self.alert_tests:
            test["alert_rule_test"] = self.alert_tests
        if self.expr_tests:
            test["promql_expr_test"] = self.expr_tests
        return test


def series_text(name: str, labels: dict[str, str]) -> str:
    return name + "{" + ",".join(f"{k}={quote(v)}" for k, v in labels.items()) + "}"


def ramp(step: float, samples: int) -> str:
    """Counter values 0, step, 2*step, ... over samples+1 points."""
    return f"0+{number(step)}x{samples}"


def test_interval(stack: Stack) -> Duration:
    """Samples land on every evaluation step, so no value is extrapolated between samples."""
    return Duration(math.gcd(stack.slowest_scrape.ms, stack.evaluation_interval.ms))


class CaseBuilder:
    """What a family needs to write its cases: its rules, their texts, one call's labels, series helpers."""

    def __init__(self, stack: Stack, rules: list[AlertRule], texts: Callable[[AlertRule], dict[str, str]],
                 every_rule: tuple[AlertRule, ...] = ()):
        self.stack = stack
        self.rules = rules
        self.texts = texts  # the annotations a rule carries
        self.every_rule = every_rule or tuple(rules)  # every family's rules: for cases that judge them all
        self.contract = stack.contract
        self.interval = test_interval(stack)
        self.samples = RUN.ms // self.interval.ms
        job = stack.jobs[0]
        self.target = {"job": job.name, "instance": job.targets[0]}
        self.call = self.on_endpoint({c.PROVIDER: stack.providers[0].name, c.ENDPOINT: stack.endpoints[0].path,
                                      c.MODEL: stack.models[0].name}, stack.endpoints[0].path)

    def on_endpoint(self, call: dict[str, str], path: str) -> dict[str, str]:
        """call on endpoint path, its model one that the source sees on path (Source.case_model)."""
        out = {**call, c.ENDPOINT: path}
        out[c.MODEL] = self.stack.source.case_model(self.stack, path, call[c.MODEL])
        return out

    def rules_of(self, kind: str) -> list[AlertRule]:
        return [rule for rule in self.rules if rule.kind == kind]

    def longest_for(self, kind: str) -> Duration:
        return max((r.for_ for r in self.rules_of(kind)), key=lambda d: d.ms)

    def per_sample(self, per_second: float) -> float:
        return per_second * self.interval.seconds

    def eval_time(self, rule_for: Duration) -> str:
        return str(Duration(self.stack.rate_window.ms + rule_for.ms + SETTLE.ms))

    def expected(self, rule: AlertRule, labels: dict[str, str], value: float) -> dict[str, Any]:
        texts = self.texts(rule)
        exp_labels = {SEVERITY: rule.severity, **labels}
        return {"exp_labels": exp_labels,
                "exp_annotations": {k: gotemplate.expand(v, exp_labels, value) for k, v in texts.items()}}

    def alert_test(self, eval_time: str, kind: str, expected: list[dict[str, Any]]) -> dict[str, Any]:
        return {"eval_time": eval_time, "alertname": self.stack.alert_name(kind), "exp_alerts": expected}

    def case(self, name: str, series: list[Series], eval_time: str, kind: str,
             expected: list[dict[str, Any]]) -> PromtoolCase:
        """A case with one alert test."""
        return PromtoolCase(name, series, [self.alert_test(eval_time, kind, expected)])

    # -- input series ----------------------------------------------------------------------
    def calls(self, call: dict[str, str], per_status: dict[str, float]) -> list[Series]:
        """Request counters for one provider/endpoint/model: status -> calls per sample."""
        return [(series_text(self.contract.requests.name, {**call, c.STATUS_CODE: status, **self.target}),
                 ramp(count, self.samples)) for status, count in per_status.items()]

    def logical_calls(self, call: dict[str, str], per_status: dict[str, float]) -> list[Series]:
        """Logical-call counters of one endpoint and model (no provider): status -> calls per sample."""
        labels = {c.ENDPOINT: call[c.ENDPOINT], c.MODEL: call[c.MODEL]}
        return [(series_text(self.contract.calls.name, {**labels, c.STATUS_CODE: status, **self.target}),
                 ramp(count, self.samples)) for status, count in per_status.items()]

    def tokens(self, provider: str, model: str, values: dict[str, str]) -> list[Series]:
        """Token counters of one provider and model: token type -> values."""
        labels = {c.PROVIDER: provider, c.MODEL: model}
        return [(series_text(self.contract.tokens.name, {**labels, c.TOKEN_TYPE: token_type, **self.target}), v)
                for token_type, v in values.items()]

    def histogram(self, call: dict[str, str], low: float | None, high: float,
                  per_sample: int = 100) -> list[Series]:
        """Buckets where every observation falls into (low, high]; low None: above the last bound."""
        bucket = f"{self.contract.duration.name}_bucket"
        series = []
        for bound in self.stack.latency_buckets:
            holds = low is not None and bound >= high
            series.append((series_text(bucket, {**call, c.LE: repr(float(bound)), **self.target}),
                           ramp(per_sample if holds else 0, self.samples)))
        series.append((series_text(bucket, {**call, c.LE: "+Inf", **self.target}), ramp(per_sample, self.samples)))
        return series

    def up(self, value: int) -> Series:
        return series_text("up", self.target), f"{value}x{self.samples}"
