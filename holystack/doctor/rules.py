"""The rule groups of OUT are loaded, with the same rules (parsed expressions compared, not text:
Prometheus prints 10000000 as 1e+07); no stale holystack group or copy of a rule is left loaded; no
rule fails to evaluate, no group misses iterations."""
from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from ..checks import promql_ast as ast
from ..durations import parse_ms
from .context import Context
from .finding import Finding

AREA = "rules"
MISSED_METRIC = "prometheus_rule_group_iterations_missed_total"
ITERATIONS_METRIC = "prometheus_rule_group_iterations_total"


def reload_fix(context: Context) -> str:
    return f"point {context.rules_source} and reload {context.ruler_name} (SIGHUP or /-/reload)"


def canonical(expr: str) -> str:
    """The expression as promql-parser prints its syntax tree, each selector's matchers sorted (Prometheus
    sorts them, and prints 10000000 as 1e+07); the text itself if it does not parse."""
    try:
        tree = ast.parse(expr)
    except ValueError:
        return expr.strip()
    text = str(tree)
    for node in ast.walk(tree):
        if ast.kind(node) == "VectorSelector" and node.matchers is not None:
            written = str(node.matchers)
            text = text.replace(written, "{" + ",".join(sorted(str(m) for m in node.matchers.matchers)) + "}")
    return re.sub(r"(?<=[\w:])\{\}", "", text)  # the parser prints name{} for a bare name


def _seconds(value: Any) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    return parse_ms(str(value)) / 1000 if value else 0.0


def wanted_rule(rule: dict[str, Any]) -> tuple[str, str, str, float, tuple[tuple[str, str], ...]]:
    """A rule of OUT as (kind, name, expression, for, labels)."""
    kind = "alerting" if "alert" in rule else "recording"
    return (kind, str(rule.get("alert") or rule.get("record")), canonical(str(rule["expr"])),
            _seconds(rule.get("for")), tuple(sorted((rule.get("labels") or {}).items())))


def loaded_rule(rule: dict[str, Any]) -> tuple[str, str, str, float, tuple[tuple[str, str], ...]]:
    """A rule of /api/v1/rules in the same shape."""
    return (str(rule.get("type")), str(rule.get("name")), canonical(str(rule.get("query", ""))),
            _seconds(rule.get("duration")), tuple(sorted((rule.get("labels") or {}).items())))


def _difference(wanted: list[tuple], loaded: list[tuple]) -> str:
    """The first rule of OUT with no equal loaded, beside the loaded rule of that name that differs
    (an alert has one rule per severity; vmalert may list a group's rules in another order)."""
    missing = [rule for rule in wanted if rule not in loaded]
    extra = [rule for rule in loaded if rule not in wanted]
    if not missing:
        return f"rules not in OUT: {', '.join(rule[1] for rule in extra)}"
    rule = missing[0]
    other = next((o for o in extra if o[:2] == rule[:2]), None)
    if other is None:
        return f"rule {rule[1]} ({rule[2]}) is missing"
    for position, field in ((2, "expr"), (3, "for"), (4, "labels")):
        if rule[position] != other[position]:
            return f"rule {rule[1]}: {field} is {other[position]!r}, OUT has {rule[position]!r}"
    return f"rule {rule[1]} differs"


def group_findings(context: Context, groups: list[dict[str, Any]]) -> list[Finding]:
    wanted = {g["name"]: [wanted_rule(r) for r in g.get("rules") or []] for g in context.rule_groups}
    loaded: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for group in groups:
        loaded[group["name"]].append(group)
    if not any(name in loaded for name in wanted):
        return [Finding(AREA, f"none of the {len(wanted)} rule groups of {context.out.name}/ is loaded",
                        f"/api/v1/rules lists {len(groups)} group(s)"
                        + (f": {', '.join(sorted(loaded))}" if loaded else ""), reload_fix(context))]
    findings = []
    for name, rules in wanted.items():
        copies = loaded.get(name, [])
        if not copies:
            findings.append(Finding(AREA, f"rule group {name} is not loaded", "absent from /api/v1/rules", reload_fix(context)))
            continue
        if len(copies) > 1:
            files = ", ".join(sorted(str(g.get("file")) for g in copies))
            findings.append(Finding(AREA, f"rule group {name} is loaded {len(copies)} times", f"from {files}",
                                    f"remove the old copy and reload {context.ruler_name}"))
        for copy in copies:
            found = [loaded_rule(r) for r in copy.get("rules") or []]
            if sorted(found) != sorted(rules):
                findings.append(Finding(AREA, f"rule group {name} differs from {context.out.name}/",
                                        f"{copy.get('file')}: {_difference(rules, found)}",
                                        f"deploy {context.out.name}/ again and reload {context.ruler_name}"))
    findings += _stale(context, groups, wanted)
    return findings


def _stale(context: Context, groups: list[dict[str, Any]], wanted: dict[str, list[tuple]]) -> list[Finding]:
    """Groups that are not OUT's but look like holystack's, or hold a copy of one of OUT's rules."""
    prefix = f"{context.stack.name}-"
    names = {rule[1] for rules in wanted.values() for rule in rules}
    findings = []
    for group in groups:
        if group["name"] in wanted:
            continue
        copied = sorted({str(r.get("name")) for r in group.get("rules") or []} & names)
        file = str(group.get("file", ""))
        if group["name"].startswith(prefix) or re.search(rf"(^|/){re.escape(prefix)}", file) or copied:
            what = f"copies of {', '.join(copied[:3])}{' ...' if len(copied) > 3 else ''}" if copied else "no rule of OUT"
            findings.append(Finding(AREA, f"stale rule group {group['name']} is loaded besides {context.out.name}/'s",
                                    f"{file}: {what}",
                                    f"remove that file from what {context.ruler_name} loads and reload it"))
    return findings


def health_findings(groups: list[dict[str, Any]]) -> list[Finding]:
    findings = []
    for group in groups:
        for rule in group.get("rules") or []:
            if rule.get("health") == "err" or rule.get("lastError"):
                findings.append(Finding(AREA, f"rule {rule.get('name')} in group {group['name']} fails to evaluate",
                                        str(rule.get("lastError", "")).strip() or "health: err",
                                        "fix the expression (holystack validate) or the series it reads"))
    return findings


_SAMPLE = re.compile(r'^(\w+)\{[^}]*rule_group="([^"]*)"[^}]*\}\s+(\S+)')


def _missed_counts(metrics_text: str) -> dict[str, tuple[float, float]]:
    """Group name -> (missed, all) iterations since Prometheus started, from its own /metrics."""
    counts: dict[str, dict[str, float]] = defaultdict(dict)
    for line in metrics_text.splitlines():
        match = _SAMPLE.match(line)
        if match and match[1] in (MISSED_METRIC, ITERATIONS_METRIC):
            counts[match[2].split(";")[-1]][match[1]] = float(match[3])
    return {group: (values.get(MISSED_METRIC, 0.0), values.get(ITERATIONS_METRIC, 0.0))
            for group, values in counts.items()}


def missed_findings(groups: list[dict[str, Any]], metrics_text: str) -> list[Finding]:
    """Groups missing evaluations now: Prometheus skips an iteration exactly when the previous one
    outlasts the interval, so a last evaluation longer than the interval is the finding; the counter
    since start is its evidence (a miss long ago, under a passing load, is not)."""
    counts = _missed_counts(metrics_text)
    findings = []
    for group in groups:
        took, interval = float(group.get("evaluationTime") or 0), float(group.get("interval") or 0)
        if interval and took > interval:
            missed, total = counts.get(group["name"], (0.0, 0.0))
            findings.append(Finding(AREA, f"rule group {group['name']} misses evaluations",
                                    f"its last evaluation took {took:.2f}s, its interval is {interval:g}s; "
                                    f"{MISSED_METRIC}={missed:g} of {total:g} iterations since start",
                                    "lengthen the group's interval, or read recorded series instead of raw ones"))
    return findings
