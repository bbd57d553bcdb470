"""holystack's own offline checks of rule files, in the spirit of pint and mixtool.
It knows the scrape interval from the spec, so it checks windows that pint checks live."""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .. import gotemplate
from ..contract import COUNTER_SUFFIXES
from ..defaults import RATE_WINDOW_MIN_SCRAPES
from ..durations import format_ms, parse_ms
from ..model import Stack
from ..render.alerts import EXEMPT_COMPARISON, SEVERITIES, SEVERITY, lint_exemptions
from . import promql_ast as ast
from .result import CheckResult

Rule = dict[str, Any]
CAMEL_CASE = re.compile(r"^[A-Z][a-zA-Z0-9]*$")


class RuleSet:
    """Every rule of the rendered rule files, with its parsed expression."""

    def __init__(self, documents: dict[str, Any]):
        self.rules: list[tuple[str, Rule]] = []
        for path, document in sorted(documents.items()):
            for group in (document or {}).get("groups", []):
                for rule in group.get("rules", []):
                    self.rules.append((f"{path}: {rule.get('alert') or rule.get('record')}", rule))
        self.trees: dict[int, Any] = {}
        self.parse_errors: list[str] = []
        for index, (where, rule) in enumerate(self.rules):
            try:
                self.trees[index] = ast.parse(str(rule.get("expr", "")))
            except ValueError as exc:
                self.parse_errors.append(f"{where}: {exc}")
        self.recorded = {rule["record"] for _, rule in self.rules if "record" in rule}

    def alerts(self) -> list[tuple[str, Rule, Any]]:
        return [(w, r, self.trees[i]) for i, (w, r) in enumerate(self.rules) if "alert" in r and i in self.trees]

    def parsed(self) -> list[tuple[str, Rule, Any]]:
        return [(w, r, self.trees[i]) for i, (w, r) in enumerate(self.rules) if i in self.trees]


def check_rate_windows(stack: Stack, rules: RuleSet) -> list[str]:
    floor = stack.rate_window_floor.ms
    findings = []
    for where, _, tree in rules.parsed():
        for function, argument in ast.range_calls(tree):
            if ast.kind(argument) != "MatrixSelector":
                findings.append(f"{where}: {function}() over a subquery or expression; apply it to a raw counter")
                continue
            name = argument.vector_selector.name or ""
            window_ms = int(argument.range.total_seconds() * 1000)
            if window_ms < floor:
                findings.append(f"{where}: {function}({name}[{format_ms(window_ms)}]) spans fewer than "
                                f"{RATE_WINDOW_MIN_SCRAPES} scrapes of {stack.slowest_scrape}")
            if not name.endswith(COUNTER_SUFFIXES):
                findings.append(f"{where}: {function}() of {name}, which is not a counter")
    return findings


def check_known_metrics(stack: Stack, rules: RuleSet) -> list[str]:
    known = stack.source.readable_series(rules.recorded)
    return [f"{where}: reads {name}, which is neither in the metric contract nor recorded by the stack"
            for where, _, tree in rules.parsed() for name in sorted(ast.selector_names(tree) - known)]


def check_comparisons(stack: Stack, rules: RuleSet) -> list[str]:
    exempt = {name for name, exemptions in lint_exemptions(stack).items() if EXEMPT_COMPARISON in exemptions}
    return [f"{where}: the expression has no comparison, so it fires on any result"
            for where, rule, tree in rules.alerts()
            if not ast.has_comparison(tree) and not (rule["alert"] in exempt and ast.is_constant_vector(tree))]


def check_absent_for(stack: Stack, rules: RuleSet) -> list[str]:
    floor = stack.absent_for_floor
    return [f"{where}: absent() needs a for: of at least {floor}, or one missed scrape fires it"
            for where, rule, tree in rules.alerts()
            if ast.uses_absent(tree) and parse_ms(str(rule.get("for", "0s"))) < floor.ms]


def check_fragile(stack: Stack, rules: RuleSet) -> list[str]:
    return [f"{where}: {name}() in an alert makes its series set unstable"
            for where, _, tree in rules.alerts()
            for name in sorted({ast.operator(n) for n in ast.walk(tree) if ast.kind(n) == "AggregateExpr"}
                               & {"topk", "bottomk"})]


def check_names_and_severities(stack: Stack, rules: RuleSet) -> list[str]:
    findings = []
    for where, rule, _ in rules.alerts():
        name = rule["alert"]
        if not CAMEL_CASE.match(name) or not name.startswith(stack.alert_prefix):
            findings.append(f"{where}: alert names are CamelCase and start with {stack.alert_prefix}")
        severity = (rule.get("labels") or {}).get(SEVERITY)
        if severity not in SEVERITIES:
            findings.append(f"{where}: severity {severity!r} is not one of {', '.join(SEVERITIES)}")
    return findings


def check_annotations(stack: Stack, rules: RuleSet) -> list[str]:
    findings = []
    for where, rule, _ in rules.alerts():
        annotations = rule.get("annotations") or {}
        summary, description = annotations.get("summary", ""), annotations.get("description", "")
        if not summary or not description:
            findings.append(f"{where}: needs both a summary and a description")
        if "{{" in summary:
            findings.append(f"{where}: the summary should be a static sentence; put values in the description")
        for key, text in annotations.items():
            unsupported = gotemplate.check_supported(str(text))
            if unsupported:
                findings.append(f"{where}: {key} uses template actions outside the proven subset: {unsupported}")
            if re.search(r"{{-?\s*\$value\s*-?}}", str(text)):
                findings.append(f"{where}: {key} shows $value raw; humanize it")
    return findings


RULE_CHECKS: tuple[tuple[str, Callable[[Stack, RuleSet], list[str]], str], ...] = (
    ("rate windows >= 4x scrape interval, counters only", check_rate_windows, "every rate window"),
    ("rules read only known metrics", check_known_metrics, "contract and recorded series"),
    ("alerts have a comparison", check_comparisons, "every alert"),
    ("absent() alerts wait 2 scrapes", check_absent_for, "every absent() alert"),
    ("no topk/bottomk in alerts", check_fragile, "every alert"),
    ("alert names and severities", check_names_and_severities, "CamelCase, prefixed, known severity"),
    ("alert annotations", check_annotations, "summary and humanized description"),
)


def lint_rules(stack: Stack, documents: "RuleSet | dict[str, Any]") -> list[CheckResult]:
    """Every rule check; documents as parsed once (a RuleSet) or the rule files' documents."""
    rules = documents if isinstance(documents, RuleSet) else RuleSet(documents)
    results = [CheckResult.from_findings("rule expressions parse", rules.parse_errors,
                                         f"{len(rules.rules)} expressions")]
    results += [CheckResult.from_findings(name, check(stack, rules), what) for name, check, what in RULE_CHECKS]
    return results
