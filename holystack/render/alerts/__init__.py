"""Every alert of the stack, assembled from one module per family. To add a family, write its
module (kinds, rules, promtool cases; see family.AlertFamily) and list it in FAMILIES; its texts go
into templates/annotations/<language>.yaml under each kind's name."""
from __future__ import annotations

from functools import cache
from typing import Any

from ...model import Stack
from . import budget, burn_rate, latency, latency_burn, ratios, resilience, targets, tokens, watchdog
from .family import EXEMPT_COMPARISON, AlertFamily, annotations, rule_document
from .promtool import CaseBuilder, PromtoolCase
from .rule import SEVERITIES, SEVERITY, AlertRule

__all__ = ["EXEMPT_COMPARISON", "FAMILIES", "SEVERITIES", "SEVERITY", "AlertFamily", "AlertRule", "alert_rules", "families",
           "family_cases", "lint_exemptions", "promtool_cases", "rule_documents", "unavailable_alerts"]

# The families in the order their alerts stand in the rule file.
FAMILIES: tuple[AlertFamily, ...] = (ratios.FAMILY, latency.FAMILY, burn_rate.FAMILY, latency_burn.FAMILY,
                                     budget.FAMILY, tokens.FAMILY,
                                     resilience.FAMILY, targets.FAMILY, watchdog.FAMILY)


def families() -> tuple[AlertFamily, ...]:
    """The families in force (read at call time, so that a test may extend FAMILIES)."""
    return FAMILIES


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
