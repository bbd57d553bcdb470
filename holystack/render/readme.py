"""README.md of the output folder."""
from __future__ import annotations

from ..model import Stack
from ..output import Files, generated_notice
from .alerts import alert_rules
from .layout import README
from .prometheus import rule_files
from .text import render_template


def render_readme(stack: Stack) -> Files:
    alerts = sorted({stack.alert_name(rule.kind) for rule in alert_rules(stack)})
    text = render_template(f"out-{README}.j2", source=stack.source_name, notice=generated_notice(stack.source_name), name=stack.name,
                           rule_files=list(rule_files(stack)), alerts=alerts,
                           dashboards_path=stack.dashboards.path)
    return {README: text}
