"""The generated `promtool test rules` files: every family's cases (render/alerts/), each alert
firing in one case and staying silent in another, with the exact labels and texts it carries.

One file per family, each naming only the rule files its cases read: the file of the alerts they
test, and the files of the recorded series those alerts read, followed through the recordings
they read in turn. A case that reads ALERTS judges every alert, so its file names every rule file.
The files are independent, so `holystack validate` runs them side by side."""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from ..model import Stack
from ..output import Files, to_yaml
from .alerts import family_cases
from .alerts.promtool import PromtoolCase, test_interval
from .layout import RULES_DIR, rule_tests_path
from .prometheus import rule_files

# Every name a PromQL text can mention (metric, label or function): a superset of the series it reads.
NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
# The series Prometheus makes of every alert rule's state.
ALERT_SERIES = frozenset({"ALERTS", "ALERTS_FOR_STATE"})


class RuleIndex:
    """Which rule file holds each alert and each recorded series, and what each rule reads."""

    def __init__(self, files: dict[str, list[dict[str, Any]]],
                 text: Callable[[dict[str, Any]], str] = lambda rule: str(rule["expr"])):
        """files: rule file -> its groups; text: what of a rule is searched for the names it reads."""
        self.order = list(files)
        self.alert_file: dict[str, str] = {}
        self.record_files: dict[str, set[str]] = {}
        self.reads: dict[str, set[str]] = {}  # alert or recorded name -> the names its expressions mention
        for name, groups in files.items():
            for group in groups:
                for rule in group["rules"]:
                    key = rule.get("alert") or rule["record"]
                    if "alert" in rule:
                        self.alert_file[key] = name
                    else:
                        self.record_files.setdefault(key, set()).add(name)
                    self.reads.setdefault(key, set()).update(NAME.findall(text(rule)))

    def observed(self, alerts: Iterable[str], names: Iterable[str]) -> set[str]:
        """Every alert and recorded name that the given alerts, and expressions mentioning names, can
        observe: themselves and what they read, followed through the recordings they read in turn."""
        pending = list(alerts) + list(names)
        seen: set[str] = set()
        while pending:
            name = pending.pop()
            if name in seen:
                continue
            seen.add(name)
            if name in ALERT_SERIES:
                pending += self.alert_file
            if name in self.alert_file or name in self.record_files:
                pending += self.reads.get(name, ())
        return {name for name in seen if name in self.alert_file or name in self.record_files}

    def files_for(self, alerts: Iterable[str], names: Iterable[str]) -> list[str]:
        """The rule files that the given alerts, and expressions mentioning names, need; in rule-file order."""
        needed: set[str] = set()
        for name in self.observed(alerts, names):
            needed |= {self.alert_file[name]} if name in self.alert_file else set()
            needed |= self.record_files.get(name, set())
        return [name for name in self.order if name in needed]


def reads_of(tests: Iterable[dict[str, Any]]) -> tuple[set[str], set[str]]:
    """The alert names promtool tests (as in a test file) judge, and the names their query tests mention."""
    tests = list(tests)
    alerts = {str(t["alertname"]) for test in tests for t in test.get("alert_rule_test") or ()}
    names = {name for test in tests for t in test.get("promql_expr_test") or ()
             for name in NAME.findall(str(t["expr"]))}
    return alerts, names


def _reads(cases: list[PromtoolCase]) -> tuple[set[str], set[str]]:
    """The alert names a family's cases test, and the names their query tests mention."""
    return reads_of({"alert_rule_test": case.alert_tests, "promql_expr_test": case.expr_tests} for case in cases)


def render_rule_tests(stack: Stack) -> Files:
    interval = test_interval(stack)
    index = RuleIndex(rule_files(stack))
    out: Files = {}
    for family, cases in family_cases(stack):
        if not cases:
            continue
        alerts, names = _reads(cases)
        document = {
            "rule_files": [f"../{RULES_DIR}/{name}" for name in index.files_for(alerts, names)],
            "evaluation_interval": str(stack.evaluation_interval),
            "tests": [case.document(interval, lambda series: stack.source.test_series(stack, series)) for case in cases],
        }
        path = rule_tests_path(stack, family.name)
        if path in out:
            raise ValueError(f"two alert families write {path}; give them distinct names")
        out[path] = to_yaml(document, stack.source_name)
    return out
