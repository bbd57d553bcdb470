"""The generated `promtool test rules` file: every family's cases (render/alerts/), each alert
firing in one case and staying silent in another, with the exact labels and texts it carries."""
from __future__ import annotations

from ..model import Stack
from ..output import Files, to_yaml
from .alerts import promtool_cases
from .alerts.promtool import test_interval
from .layout import RULES_DIR, rule_tests_path
from .prometheus import rule_files


def render_rule_tests(stack: Stack) -> Files:
    interval = test_interval(stack)
    document = {
        "rule_files": [f"../{RULES_DIR}/{name}" for name in rule_files(stack)],
        "evaluation_interval": str(stack.evaluation_interval),
        "tests": [case.document(interval) for case in promtool_cases(stack)],
    }
    return {rule_tests_path(stack): to_yaml(document, stack.source_name)}

