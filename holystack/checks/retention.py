"""The retention the rendered stack documents covers the longest window its rules read."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..durations import format_ms, parse_ms
from ..model import Stack, retention_needed
from ..render.prometheus import RETENTION_FLAG
from . import promql_ast as ast
from .result import PASS, WARN, CheckResult
from .rules_lint import RuleSet

NAME = "retention covers the longest window"
README = "README.md"


def longest_window_ms(stack: Stack, rules: RuleSet | dict[str, Any]) -> int:
    """The retention the stack needs (model.retention_needed), or the longest range any rule reads if that is longer (rules as parsed
    once for every check, or the rule files' documents)."""
    rules = rules if isinstance(rules, RuleSet) else RuleSet(rules)
    ranges = [int(node.range.total_seconds() * 1000)
              for _, _, tree in rules.parsed() for node in ast.walk(tree) if ast.kind(node) == "MatrixSelector"]
    return max([retention_needed(stack.slo.period).ms, *ranges])


def documented_retention_ms(out: Path) -> int | None:
    """The retention OUT/README.md tells Prometheus to keep, if it states one."""
    try:
        text = (out / README).read_text("utf-8")
    except OSError:
        return None
    found = re.search(re.escape(RETENTION_FLAG) + r"=([0-9a-z]+)", text)
    try:
        return parse_ms(found.group(1)) if found else None
    except ValueError:
        return None


def check_retention(stack: Stack, out: Path, rules: RuleSet | dict[str, Any]) -> CheckResult:
    """A warning, not a failure: the retention is a flag of the Prometheus that runs the rules, which
    this folder can only document."""
    longest = longest_window_ms(stack, rules)
    retention = documented_retention_ms(out)
    if retention is None:
        return CheckResult(NAME, WARN, f"{out.name}/{README} states no {RETENTION_FLAG}; the rules read "
                                       f"{format_ms(longest)} of history and Prometheus keeps 15d unless told")
    if retention < longest:
        return CheckResult(NAME, WARN, f"{RETENTION_FLAG}={format_ms(retention)} is shorter than the "
                                       f"{format_ms(longest)} the rules and dashboards need; raise it")
    return CheckResult(NAME, PASS, f"{format_ms(retention)} >= {format_ms(longest)}")
