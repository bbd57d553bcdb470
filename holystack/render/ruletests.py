"""Generated `promtool test rules` files: every alert fires in one scenario and stays silent
in another, with the exact labels and annotation texts it carries."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .. import contract as c
from .. import gotemplate
from ..model import Duration, Stack
from ..output import Files, to_yaml
from ..promql import SECONDS_PER_DAY, SECONDS_PER_HOUR, quote
from ..series import LATENCY_LABELS
from .alerts import RATIO_KINDS, SEVERITY, AlertRule, alert_rules, annotations, latency_thresholds
from .prometheus import PROMETHEUS_DIR, RULES_DIR, rule_files
from .recording import PER_MILLION
from .slo import slo_endpoints

TESTS_DIR = "tests"
CALL_LABELS_ORDER = (c.PROVIDER, c.ENDPOINT, c.MODEL)
RUN = Duration(60 * 60 * 1000)  # how long each scenario's series run
PROMTOOL_MONTH_DAYS = 31  # promtool's tests start at 1970-01-01: January
UNLISTED_ENDPOINT = "/holystack-unlisted"
# Status code standing for each ratio kind's "bad" calls.
BAD_STATUS = {"rate_limited": "429", "server_error": "503", "timeout": c.STATUS_TIMEOUT, "success": "503"}


@dataclass
class Scenario:
    name: str
    series: list[tuple[str, str]] = field(default_factory=list)
    alert_tests: list[dict[str, Any]] = field(default_factory=list)
    expr_tests: list[dict[str, Any]] = field(default_factory=list)


def _series(name: str, labels: dict[str, str]) -> str:
    return name + "{" + ",".join(f"{k}={quote(v)}" for k, v in labels.items()) + "}"


def _ramp(step: float, samples: int) -> str:
    """Counter values 0, step, 2*step, ... over samples+1 points."""
    return f"0+{_num(step)}x{samples}"


def _num(value: float) -> str:
    return f"{value:.12g}"


class Builder:
    """Builds the scenarios of one stack."""

    def __init__(self, stack: Stack):
        self.stack = stack
        self.p = stack.contract
        # Samples land on every evaluation step, so no value is extrapolated between samples.
        self.interval = Duration(math.gcd(stack.slowest_scrape.ms, stack.evaluation_interval.ms))
        self.samples = RUN.ms // self.interval.ms
        job = stack.jobs[0]
        self.target = {"job": job.name, "instance": job.targets[0]}
        self.call = {c.PROVIDER: stack.providers[0].name, c.ENDPOINT: stack.endpoints[0].path,
                     c.MODEL: stack.models[0].name}
        self.rules = alert_rules(stack)

    # -- helpers -------------------------------------------------------------------------
    def per_sample(self, per_second: float) -> float:
        return per_second * self.interval.seconds

    def eval_time(self, rule_for: Duration) -> str:
        return str(Duration(self.stack.rate_window.ms + rule_for.ms + 2 * 60_000))

    def expected(self, rule: AlertRule, labels: dict[str, str], value: float) -> dict[str, Any]:
        texts = annotations(self.stack, rule)
        exp_labels = {SEVERITY: rule.severity, **labels}
        return {"exp_labels": exp_labels,
                "exp_annotations": {k: gotemplate.expand(v, exp_labels, value) for k, v in texts.items()}}

    def alert_test(self, eval_time: str, kind: str, expected: list[dict[str, Any]]) -> dict[str, Any]:
        return {"eval_time": eval_time, "alertname": self.stack.alert_name(kind), "exp_alerts": expected}

    def calls(self, call: dict[str, str], per_status: dict[str, float]) -> list[tuple[str, str]]:
        """Request counters for one provider/endpoint/model: status -> calls per sample."""
        return [(_series(self.p.requests.name, {**call, c.STATUS_CODE: status, **self.target}),
                 _ramp(count, self.samples)) for status, count in per_status.items()]

    # -- ratio kinds ---------------------------------------------------------------------
    def ratio_scenarios(self) -> list[Scenario]:
        out = []
        for kind, (status_class, attribute, op) in RATIO_KINDS.items():
            rules = [r for r in self.rules if r.kind == kind]
            if not rules:
                continue
            levels = sorted(getattr(self.stack.thresholds, attribute).levels, key=lambda lv: lv[1],
                            reverse=(op == "<"))
            total = 10 ** max(3, math.ceil(math.log10(40 / min(min(v, 1 - v) for _, v in levels))))
            bounds = [v for _, v in levels] + [1.0 if op == ">" else 0.0]
            for index, (severity, level) in enumerate(levels):
                share = (level + bounds[index + 1]) / 2
                firing = [r for r in rules if (r.threshold or 0) in [v for _, v in levels[: index + 1]]]
                out.append(self._ratio_case(kind, status_class, share, total, firing,
                                            f"{kind} fires at {severity}: share {share:.4g} passes {level:g}"))
            quiet = levels[0][1] / 2 if op == ">" else (levels[0][1] + 1) / 2
            out.append(self._ratio_case(kind, status_class, quiet, total, [],
                                        f"{kind} stays silent: share {quiet:.4g} within {levels[0][1]:g}"))
        return out

    def _ratio_case(self, kind: str, status_class: str, share: float, total: int,
                    firing: list[AlertRule], name: str) -> Scenario:
        matching = round(share * total)
        if status_class == "success":
            per_status = {"200": matching, BAD_STATUS[status_class]: total - matching}
        else:
            per_status = {"200": total - matching, BAD_STATUS[status_class]: matching}
        per_status = {k: v for k, v in per_status.items() if v}
        value = matching / total
        scenario = Scenario(name, self.calls(self.call, per_status))
        eval_time = self.eval_time(max((r.for_ for r in firing), key=lambda d: d.ms, default=Duration(0))
                                   if firing else self._kind_for(kind))
        scenario.alert_tests.append(self.alert_test(
            eval_time, kind, [self.expected(r, dict(self.call), value) for r in firing]))
        return scenario

    def _kind_for(self, kind: str) -> Duration:
        return max((r.for_ for r in self.rules if r.kind == kind), key=lambda d: d.ms)

    def all_failing(self) -> list[Scenario]:
        """Every call fails: the success share is 0, not 'no data', and SuccessRatioLow fires."""
        firing = [r for r in self.rules if r.kind == "SuccessRatioLow"]
        if not firing:
            return []
        scenario = Scenario("SuccessRatioLow fires when every call fails (0 successes is 0%, not no data)",
                            self.calls(self.call, {"503": 10}))
        scenario.alert_tests.append(self.alert_test(
            self.eval_time(self._kind_for("SuccessRatioLow")), "SuccessRatioLow",
            [self.expected(r, dict(self.call), 0.0) for r in firing]))
        return [scenario]

    # -- latency -------------------------------------------------------------------------
    def latency_scenarios(self) -> list[Scenario]:
        overrides, _ = latency_thresholds(self.stack)
        listed = {path for path, _ in overrides}
        plain = [e.path for e in self.stack.endpoints if e.path not in listed]
        out = []
        for rule in (r for r in self.rules if r.kind == "LatencyP95High"):
            path = rule.endpoint or (plain[0] if plain else UNLISTED_ENDPOINT)
            threshold = rule.threshold or 0.0
            call = {**self.call, c.ENDPOINT: path}
            for fire in (True, False):
                low, high = self._bucket_around(threshold, fire)
                value = high if low is None else low + (high - low) * 0.95
                verb = "fires" if fire else "stays silent"
                scenario = Scenario(f"LatencyP95High {verb} on {path}: p95 {value:g}s against {threshold:g}s",
                                    self._histogram(call, low, high) + self.calls(call, {"200": 100}))
                scenario.alert_tests.append(self.alert_test(
                    self.eval_time(rule.for_), "LatencyP95High",
                    [self.expected(rule, {k: call[k] for k in LATENCY_LABELS}, value)] if fire else []))
                out.append(scenario)
        return out

    def _bucket_around(self, threshold: float, above: bool) -> tuple[float | None, float]:
        """(lower, upper) bound of a bucket wholly above (or at most) the threshold.
        lower None: the +Inf bucket, where histogram_quantile answers the last finite bound."""
        bounds = self.stack.latency_buckets
        if above:
            for lower, upper in zip(bounds, bounds[1:]):
                if lower >= threshold:
                    return lower, upper
            return None, bounds[-1]
        index = max(i for i, b in enumerate(bounds) if b <= threshold)
        return (bounds[index - 1] if index else 0.0), bounds[index]

    def _histogram(self, call: dict[str, str], low: float | None, high: float,
                   per_sample: int = 100) -> list[tuple[str, str]]:
        """Buckets where every observation falls into (low, high]; low None: above the last bound."""
        series = []
        for bound in self.stack.latency_buckets:
            holds = low is not None and bound >= high
            series.append((_series(f"{self.p.duration.name}_bucket", {**call, c.LE: repr(float(bound)), **self.target}),
                           _ramp(per_sample if holds else 0, self.samples)))
        series.append((_series(f"{self.p.duration.name}_bucket", {**call, c.LE: "+Inf", **self.target}),
                       _ramp(per_sample, self.samples)))
        return series

    # -- cost and tokens -----------------------------------------------------------------
    def budget_scenarios(self) -> list[Scenario]:
        """Each budget alert just above and just below its budget, decided by cached-token pricing."""
        t = self.stack.thresholds
        # At the end of the run (1h into a 31-day month), the forecast is the month-to-date plus
        # the trailing 24 h for every day left: both are the run's whole cost C, so C x this.
        month_factor = 1 + (PROMTOOL_MONTH_DAYS * SECONDS_PER_DAY - RUN.seconds) / SECONDS_PER_DAY
        cases = [("DailyBudgetExceeded", t.daily_budget_usd, 1.0, "over the last 24 h"),
                 ("MonthlyBudgetForecast", t.monthly_budget_usd, month_factor,
                  "this month so far plus the rest of it at the last 24 h's pace")]
        model = max(self.stack.models, key=lambda m: (m.prices.input - m.prices.effective_cached_input, m.prices.input))
        out = []
        for kind, budget, factor, what in cases:
            rule = next((r for r in self.rules if r.kind == kind), None)
            if rule is None or budget is None:
                continue
            for margin in (1.02, 0.98):
                tokens, cost = self._tokens_costing(model, margin * budget / factor, budget / factor)
                value = cost * factor
                fire = value > budget
                labels = {c.PROVIDER: self.call[c.PROVIDER], c.MODEL: model.name}
                scenario = Scenario(
                    f"{kind} {'fires' if fire else 'stays silent'}: ${value:.2f} of {model.name} {what} "
                    f"against ${budget:g}, cached tokens priced at cached_input",
                    [(_series(self.p.tokens.name, {**labels, c.TOKEN_TYPE: tt, **self.target}), values)
                     for tt, values in tokens.items()])
                scenario.alert_tests.append(self.alert_test(
                    str(RUN), kind, [self.expected(rule, {}, value)] if fire else []))
                out.append(scenario)
        return out

    def _tokens_costing(self, model: Any, target_usd: float, budget_usd: float) -> tuple[dict[str, str], float]:
        """Token counters that cost about target_usd over the run, reaching their total at
        two thirds of it and then flat. A share of the prompt is cached: priced at full input
        price, the same tokens would cost 5% of budget_usd more."""
        p = model.prices
        ramp = self.samples * 2 // 3
        discount = p.input - p.effective_cached_input
        cached = math.ceil(0.05 * budget_usd * PER_MILLION / discount / ramp) if discount > 0 else 0
        rest = target_usd - cached * ramp * p.effective_cached_input / PER_MILLION
        completion_price = p.output or p.input
        completion = math.ceil(rest / 2 * PER_MILLION / completion_price / ramp) if p.output else 0
        rest -= completion * ramp * p.output / PER_MILLION
        uncached = max(0, math.ceil(rest * PER_MILLION / p.input / ramp)) if p.input else 0
        totals = {c.TOKEN_PROMPT: (uncached + cached), c.TOKEN_COMPLETION: completion, c.TOKEN_CACHED_PROMPT: cached}
        cost = (totals[c.TOKEN_PROMPT] * p.input + cached * (p.effective_cached_input - p.input)
                + completion * p.output) * ramp / PER_MILLION
        values = {tt: f"0+{per}x{ramp} {per * ramp}x{self.samples - ramp}" for tt, per in totals.items()}
        return values, cost

    # -- SLO burn rates --------------------------------------------------------------------
    def burn_rate_scenarios(self) -> list[Scenario]:
        """A fast burn pages within minutes; a slow burn opens a ticket and does not page; a fast
        burn on too few calls stays silent."""
        rules = [r for r in self.rules if r.kind == "ErrorBudgetBurn"]
        endpoints = slo_endpoints(self.stack)
        if not rules or not endpoints:
            return []
        path, objective = endpoints[0]
        budget = 1 - objective
        top = max(r.threshold or 0 for r in rules)
        fast = min(1.25 * top * budget, (top * budget + 1) / 2)  # above every factor, below 100%
        slow = 2 * budget  # above 1x, below 3x: only the slowest pair
        eval_time = Duration(10 * 60_000)
        steps = eval_time.ms // self.interval.ms
        enough = math.ceil(2 * self.stack.slo.min_calls / steps)  # calls per sample: 2x the guard by then
        scant = self.stack.slo.min_calls / 2 / (self.samples + 1)  # half the guard over the whole run
        call = {**self.call, c.ENDPOINT: path}
        cases = [("fast burn pages within minutes", fast, enough),
                 ("slow burn opens a ticket and does not page", slow, enough),
                 (f"fast burn on fewer than {self.stack.slo.min_calls} calls stays silent", fast, scant)]
        out = []
        for name, share, per_sample in cases:
            failed = per_sample * share
            scenario = Scenario(f"ErrorBudgetBurn on {path}: {name} (error ratio {share:.4g}, budget {budget:.4g})",
                                self.calls(call, {"200": per_sample - failed, "503": failed}))
            burn = share / budget
            guarded = per_sample * (steps + 1) >= self.stack.slo.min_calls
            firing = [r for r in rules if guarded and burn > (r.threshold or 0)]
            scenario.alert_tests.append(self.alert_test(str(eval_time), "ErrorBudgetBurn", [
                self.expected(r, {c.ENDPOINT: path, **dict(r.labels)}, burn) for r in firing]))
            out.append(scenario)
        return out

    def token_scenarios(self) -> list[Scenario]:
        out = []
        for rule in (r for r in self.rules if r.kind == "TokenUsageHigh"):
            per_hour = rule.threshold or 0
            for share, fire in ((1.5, True), (0.5, False)):
                labels = {c.PROVIDER: self.call[c.PROVIDER], c.MODEL: self.call[c.MODEL]}
                # Cached tokens are inside prompt: counting them again would push 0.5x over.
                rates = {c.TOKEN_PROMPT: 0.3 * share, c.TOKEN_COMPLETION: 0.7 * share, c.TOKEN_CACHED_PROMPT: 0.6}
                series = [(_series(self.p.tokens.name, {**labels, c.TOKEN_TYPE: tt, **self.target}),
                           _ramp(self.per_sample(r * per_hour / SECONDS_PER_HOUR), self.samples)) for tt, r in rates.items()]
                scenario = Scenario(f"TokenUsageHigh {'fires' if fire else 'stays silent'} at "
                                    f"{share:g}x {per_hour:g} tokens per hour (cached tokens counted once)", series)
                scenario.alert_tests.append(self.alert_test(
                    self.eval_time(rule.for_), "TokenUsageHigh",
                    [self.expected(rule, {}, share * per_hour)] if fire else []))
                out.append(scenario)
        return out

    # -- targets and pipeline ------------------------------------------------------------
    def up(self, value: int) -> tuple[str, str]:
        return _series("up", self.target), f"{value}x{self.samples}"

    def target_scenarios(self) -> list[Scenario]:
        absent = next(r for r in self.rules if r.kind == "MetricsAbsent")
        down = next(r for r in self.rules if r.kind == "TargetDown")
        flat = self.calls(self.call, {"200": 0})
        absent_time = str(Duration(absent.for_.ms + 2 * 60_000))
        down_time = str(Duration(down.for_.ms + 2 * 60_000))
        cases = [
            ("MetricsAbsent fires: the target is up but exposes no contract metric", [self.up(1)],
             absent_time, "MetricsAbsent", [self.expected(absent, {}, 1)]),
            ("MetricsAbsent stays silent: the target is up and idle, its counters present but flat",
             [self.up(1)] + flat, absent_time, "MetricsAbsent", []),
            ("MetricsAbsent stays silent when the target is down (TargetDown speaks)", [self.up(0)],
             absent_time, "MetricsAbsent", []),
            ("TargetDown fires: the scrape fails", [self.up(0)] + flat, down_time, "TargetDown",
             [self.expected(down, dict(self.target), 0)]),
            ("TargetDown stays silent: the scrape succeeds", [self.up(1)] + flat, down_time, "TargetDown", []),
        ]
        out = []
        for name, series, eval_time, kind, expected in cases:
            scenario = Scenario(name, series)
            scenario.alert_tests.append(self.alert_test(eval_time, kind, expected))
            out.append(scenario)
        return out

    def watchdog_and_quiet(self) -> list[Scenario]:
        """Watchdog always fires; with no traffic at all (counters flat), it is the only alert."""
        watchdog = next(r for r in self.rules if r.kind == "Watchdog")
        series = [self.up(1)] + self.calls(self.call, {"200": 0, "429": 0, "503": 0, c.STATUS_TIMEOUT: 0})
        series += self._histogram(self.call, 0.0, self.stack.latency_buckets[0], per_sample=0)
        labels = {c.PROVIDER: self.call[c.PROVIDER], c.MODEL: self.call[c.MODEL]}
        series += [(_series(self.p.tokens.name, {**labels, c.TOKEN_TYPE: tt, **self.target}), _ramp(0, self.samples))
                   for tt in c.TOKEN_TYPES]
        scenario = Scenario("No traffic at all: no alert but the Watchdog fires (no 0/0 alerts)", series)
        eval_time = str(RUN)
        scenario.alert_tests.append(self.alert_test(eval_time, "Watchdog", [self.expected(watchdog, {}, 1)]))
        name = self.stack.alert_name("Watchdog")
        scenario.expr_tests.append({
            "expr": 'ALERTS{alertstate="firing"}', "eval_time": eval_time,
            "exp_samples": [{"labels": f'ALERTS{{alertname="{name}",alertstate="firing",{SEVERITY}="none"}}',
                             "value": 1}]})
        return [scenario]

    def scenarios(self) -> list[Scenario]:
        return (self.ratio_scenarios() + self.all_failing() + self.latency_scenarios() + self.budget_scenarios()
                + self.burn_rate_scenarios() + self.token_scenarios() + self.target_scenarios() + self.watchdog_and_quiet())


def _test_document(stack: Stack, scenario: Scenario, interval: Duration) -> dict[str, Any]:
    test: dict[str, Any] = {"name": scenario.name, "interval": str(interval),
                            "input_series": [{"series": s, "values": v} for s, v in scenario.series]}
    if scenario.alert_tests:
        test["alert_rule_test"] = scenario.alert_tests
    if scenario.expr_tests:
        test["promql_expr_test"] = scenario.expr_tests
    return test


def render_rule_tests(stack: Stack) -> Files:
    builder = Builder(stack)
    document = {
        "rule_files": [f"../{RULES_DIR}/{name}" for name in rule_files(stack)],
        "evaluation_interval": str(stack.evaluation_interval),
        "tests": [_test_document(stack, s, builder.interval) for s in builder.scenarios()],
    }
    return {f"{PROMETHEUS_DIR}/{TESTS_DIR}/{stack.name}-alerts.test.yml": to_yaml(document, stack.source_name)}
