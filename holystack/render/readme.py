"""README.md of the output folder."""
from __future__ import annotations

from ..model import Stack
from ..output import Files
from .alerts import alert_rules
from .prometheus import RETENTION_FLAG, retention, rule_files
from .text import render_template


def render_readme(stack: Stack) -> Files:
    alerts = sorted({stack.alert_name(rule.kind) for rule in alert_rules(stack)})
    text = render_template("out-README.md.j2", source=stack.source_name, name=stack.name,
                           rule_files=list(rule_files(stack)), alerts=alerts,
                           dashboards_path=stack.dashboards.path,
                           retention=f"{RETENTION_FLAG}={retention(stack)}", period=str(stack.slo.period))
    return {"README.md": text}
