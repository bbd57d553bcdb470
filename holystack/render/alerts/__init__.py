"""Every alert of the stack, assembled from one module per family. To add a family, write its
module (kinds, rules, promtool cases; see family.AlertFamily) and register it: one entry in
BUILT_IN, or register_family() from outside holystack. Its texts go into
templates/annotations/<language>.yaml under each kind's name (or the family's own texts)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from ...model import Stack
from ...thresholds import register_thresholds, unregister_thresholds
from . import budget, burn_rate, latency, latency_burn, ratios, resilience, targets, tokens, watchdog
from .family import EXEMPT_COMPARISON, AlertFamily, annotations, rule_document
from .promtool import CaseBuilder, PromtoolCase
from .rule import SEVERITIES, SEVERITY, AlertRule

__all__ = ["BUILT_IN", "EXEMPT_COMPARISON", "SEVERITIES", "SEVERITY", "AlertFamily", "AlertRule", "alert_rules",
           "families", "family_cases", "lint_exemptions", "promtool_cases", "register_family", "registered",
           "rule_documents", "unavailable_alerts", "unregister_family"]

# holystack's families, in the order their alerts stand in the rule file.
BUILT_IN: tuple[AlertFamily, ...] = (ratios.FAMILY, latency.FAMILY, burn_rate.FAMILY, latency_burn.FAMILY,
                                     budget.FAMILY, tokens.FAMILY,
                                     resilience.FAMILY, targets.FAMILY, watchdog.FAMILY)
_in_force: list[AlertFamily] = list(BUILT_IN)


def families() -> tuple[AlertFamily, ...]:
    """The families in force: holystack's, then those registered, in the order registered."""
    return tuple(_in_force)


def register_family(family: AlertFamily) -> None:
    """Add a family after those in force, with its thresholds (holystack.thresholds): its alerts
    follow theirs in the rule file, its cases get a test file of their own. A family whose name or
    kind is already in force is refused."""
    for other in _in_force:
        if other.name == family.name or set(other.kinds) & set(family.kinds):
            raise ValueError(f"family {family.name!r}: its name or a kind of it is already the family "
                             f"{other.name!r}'s")
    register_thresholds(family.thresholds)
    _in_force.append(family)


def unregister_family(family: AlertFamily) -> None:
    """Remove a family register_family() added, and its thresholds."""
    if family in BUILT_IN or family not in _in_force:
        raise ValueError(f"family {family.name!r} was not registered")
    _in_force.remove(family)
    unregister_thresholds(family.thresholds)


@contextmanager
def registered(family: AlertFamily) -> Iterator[AlertFamily]:
    """The family in force within the block (tests)."""
    register_family(family)
    try:
        yield family
    finally:
        unregister_family(family)


@cache
def _rules(stack: Stack, in_force: tuple[AlertFamily, ...]) -> tuple[tuple[AlertFamily, AlertRule], ...]:
    found = []
    for family in in_force:
        for rule in family.rules(stack):
            if rule.kind not in family.kinds:
                raise ValueError(f"family {family.name!r} built a rule of kind {rule.kind!r} it does not declare")
            if family.unavailable(stack, rule.kind) is None:
                found.append((family, rule))
    return tuple(found)


def unavailable_alerts(stack: Stack) -> tuple[tuple[str, str], ...]:
    """(alert name, why) of each alert kind the stack's source cannot feed, in family order."""
    return tuple((stack.alert_name(kind), reason) for family in families() for kind in family.kinds
                 if (reason := family.unavailable(stack, kind)) is not None)


def alert_rules(stack: Stack) -> tuple[AlertRule, ...]:
    """Every alert of the stack, in a stable order."""
    return tuple(rule for _, rule in _rules(stack, families()))


def rule_documents(stack: Stack) -> list[dict[str, Any]]:
    """The alerts as they stand in the rule file."""
    return [rule_document(stack, family, rule) for family, rule in _rules(stack, families())]


def family_cases(stack: Stack) -> list[tuple[AlertFamily, list[PromtoolCase]]]:
    """Each family with its generated promtool cases, in family order."""
    out = []
    every = _rules(stack, families())
    for family in families():
        rules = [rule for owner, rule in every if owner is family]
        texts = lambda rule, family=family: annotations(stack, family, rule)  # noqa: E731
        out.append((family, family.cases(CaseBuilder(stack, rules, texts, tuple(rule for _, rule in every)))))
    return out


def promtool_cases(stack: Stack) -> list[PromtoolCase]:
    """Every family's generated promtool cases, in family order."""
    return [case for _, cases in family_cases(stack) for case in cases]


def lint_exemptions(stack: Stack) -> dict[str, frozenset[str]]:
    """Alert name -> the lint checks it is exempt from, by design of its family."""
    return {stack.alert_name(kind): family.lint_exemptions for family in families() for kind in family.kinds}
