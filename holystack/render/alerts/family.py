"""What every alert family provides.

A family owns its kinds whole: the rules, the promtool cases that show each rule firing and
staying silent, the dashboard its alerts link to, any route of its own, and its lint exemptions.
Texts live in templates/annotations/<language>.yaml under the kind's name (or in the family's own
``texts``, for kinds that ship outside holystack). Its thresholds are declared with
holystack.thresholds.Threshold: the schema, defaults, model and checks read them from there."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import field
from typing import Any

from ... import contract as c
from ...frozen import frozen
from ...identifiers import OVERVIEW_DASHBOARD, dashboard_url
from ...model import Stack
from ...thresholds import Threshold
from ..text import annotation
from .promtool import CaseBuilder, PromtoolCase
from .rule import SEVERITY, AlertRule

# Lint checks an alert may be exempt from, by design of its family.
EXEMPT_COMPARISON = "comparison"  # an alert that always fires has no comparison

# A language -> kind -> {"summary": ..., "description": ...} table of texts.
Texts = Mapping[str, Mapping[str, Mapping[str, str]]]


def _none(stack: Stack) -> list[dict[str, Any]]:
    return []


@frozen
class AlertFamily:
    """One family of alert kinds and everything holystack knows about them."""

    name: str
    kinds: tuple[str, ...]
    rules: Callable[[Stack], list[AlertRule]]
    cases: Callable[[CaseBuilder], list[PromtoolCase]]
    # The dashboard (identifiers slug) the family's alerts link to.
    dashboard: str = OVERVIEW_DASHBOARD
    # Alertmanager routes placed before the spec's own, and the receivers they need.
    routes: Callable[[Stack], list[dict[str, Any]]] = _none
    receivers: Callable[[Stack], list[dict[str, Any]]] = _none
    # Lint checks (EXEMPT_*) its alerts are exempt from.
    lint_exemptions: frozenset[str] = frozenset()
    # Texts of kinds that are not in holystack's annotation files.
    texts: Texts | None = field(default=None, hash=False, compare=False)
    # Kind -> the source capabilities (holystack.sources.base) its rules read: a kind whose source
    # lacks one is not rendered, and validate and OUT/README.md name it with the reason.
    requires: Mapping[str, frozenset[str]] = field(default_factory=dict, hash=False, compare=False)
    # The thresholds its rules and cases read (holystack.thresholds): registered with the family,
    # so that a spec may set them.
    thresholds: tuple[Threshold, ...] = field(default=(), hash=False, compare=False)

    def unavailable(self, stack: Stack, kind: str) -> str | None:
        """Why the stack's source cannot feed kind, or None when it can."""
        missing = stack.source.missing(self.requires.get(kind, frozenset()))
        return "; ".join(stack.source.reason(capability) for capability in missing) or None


def annotations(stack: Stack, family: AlertFamily, rule: AlertRule) -> dict[str, str]:
    """summary, description, dashboard_url and (when configured) runbook_url of an alert."""
    table = family.texts.get(stack.language) if family.texts is not None else None
    texts = annotation(stack.language, rule.kind, table, severity=rule.severity, **rule.context)
    out = {"summary": texts["summary"], "description": texts["description"],
           "dashboard_url": dashboard_url(stack, family.dashboard)}
    if stack.alerting.runbook_url:
        out["runbook_url"] = f"{stack.alerting.runbook_url.rstrip('/')}#{stack.alert_name(rule.kind).lower()}"
    return out


def rule_document(stack: Stack, family: AlertFamily, rule: AlertRule) -> dict[str, Any]:
    """The alert as it stands in the rule file."""
    out: dict[str, Any] = {"alert": stack.alert_name(rule.kind), "expr": rule.expr}
    if rule.for_.ms:
        out["for"] = str(rule.for_)
    if rule.keep_firing_for.ms:
        out["keep_firing_for"] = str(rule.keep_firing_for)
    out["labels"] = {SEVERITY: rule.severity, **dict(rule.labels)}
    if rule.endpoint is not None:
        # Equal to the label the series already carries; it keeps per-endpoint rules of one
        # alert name distinct for promtool's duplicate-rule lint.
        out["labels"][c.ENDPOINT] = rule.endpoint
    out["annotations"] = annotations(stack, family, rule)
    return out
