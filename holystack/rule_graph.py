"""Which rules read which names: the one definition of what a promtool case can observe.

Pure functions of rule and test documents as loaded (dicts), shared by the renderer of the generated
tests (each family's file names the rule files its cases read) and validate (each case runs on the
rules it observes); nothing here needs the spec's model."""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

# Every name a PromQL text can mention (metric, label or function): a superset of the series it reads.
NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
# The series Prometheus makes of every alert rule's state.
ALERT_SERIES = frozenset({"ALERTS", "ALERTS_FOR_STATE"})


def rule_name(rule: dict[str, Any]) -> str:
    """The alert or the recorded series a rule makes."""
    return rule.get("alert") or rule["record"]


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
                    key = rule_name(rule)
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
