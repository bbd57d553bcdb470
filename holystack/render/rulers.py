"""Rule files for a ruler that reads a remote store instead of a local Prometheus: vmalert
(VictoriaMetrics), Mimir/Cortex (`mimirtool rules load`), Thanos Ruler.

The groups are those of rule_files(stack); a ruler that lacks a feature they use either gets it
adapted (dropped, with the consequence in the README) or the render is refused."""
from __future__ import annotations

import copy
import re
from typing import Any, Callable

from ..errors import Problem, SpecError
from ..frozen import frozen
from ..model import Rulers, Stack
from ..output import Files, to_yaml
from .prometheus import rule_files

VMALERT_DIR = "vmalert"
THANOS_DIR = "thanos"
MIMIR_DIR = "mimir"
FUNCTION_CALL = re.compile(r"\b([a-z_]+)\s*\(")
# A group's query parameters: vmalert reads them; they are not Prometheus' rule format (promtool refuses them).
GROUP_PARAMS = "params"
# What a selector of a series may carry after its name: label matchers, then a range.
SELECTOR_TAIL = r"(?:\{[^{}]*\})?(?:\[[^\]]*\])?"


@frozen
class RulerFeatures:
    """What one ruler lacks of Prometheus' rule format."""

    name: str
    dropped_rule_fields: tuple[str, ...]    # adapted: the field is left out
    dropped_group_fields: tuple[str, ...]
    missing_functions: frozenset[str]       # refused: no equivalent query
    # Query parameters of every evaluation (a group's `params`, which only this ruler reads).
    group_params: tuple[tuple[str, str], ...] = ()
    # The ruler writes a rule's results back asynchronously: a later rule of its group reads them from
    # the previous evaluation (read_previous_evaluation).
    writes_back_late: bool = False

    def adapt(self, stack: Stack, spec_field: str, groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
        groups = copy.deepcopy(groups)
        for group in groups:
            for field in self.dropped_group_fields:
                group.pop(field, None)
            if self.group_params:  # before the rules, as vmalert's documentation writes it
                rules = group.pop("rules")
                group[GROUP_PARAMS] = {key: [value] for key, value in self.group_params}
                group["rules"] = rules
            if self.writes_back_late:
                read_previous_evaluation(group, str(group.get("interval", stack.evaluation_interval)))
            for rule in group["rules"]:
                for field in self.dropped_rule_fields:
                    rule.pop(field, None)
                used = set(FUNCTION_CALL.findall(rule["expr"])) & self.missing_functions
                if used:
                    name = rule.get("record") or rule.get("alert")
                    raise SpecError(stack.source_name, [Problem(spec_field, (
                        f"{self.name} has no {', '.join(sorted(used))}(), which rule {name} of group "
                        f"{group['name']} uses; leave {spec_field} out or evaluate these rules in Prometheus"))])
        return groups


def read_previous_evaluation(group: dict[str, Any], interval: str) -> None:
    """A rule that reads what an earlier rule of its group records reads it one evaluation interval
    back (`offset`). vmalert sends each result to the store after its rule and queries the store for
    the next: the value of this evaluation may be back in time or not, so such a read would get this
    evaluation's value or the previous one's, as the write happened to land, and a chain of steps (the
    cost by model, its total, the month to date) would count a step twice or lose it. The previous
    evaluation's value is always back: each link of a chain comes one evaluation later, and every
    step is counted once. A rule's reads of its own series (the month to date's previous value) and of
    other groups' are left as they are: no earlier rule of the group writes them."""
    written: set[str] = set()
    for rule in group["rules"]:
        for name in sorted(written):
            rule["expr"] = _read_back(rule["expr"], name, interval)
        if "record" in rule:
            written.add(rule["record"])


def _read_back(expr: str, name: str, interval: str) -> str:
    def offset(found: re.Match[str]) -> str:
        if re.match(r"\s*offset\b", expr[found.end():]):
            raise ValueError(f"{name} is already read with an offset in {expr!r}")
        return f"{found[0]} offset {interval}"
    return re.sub(rf"(?<![\w:]){re.escape(name)}(?![\w:]){SELECTOR_TAIL}", offset, expr)


def promtool_group(group: dict[str, Any]) -> dict[str, Any]:
    """A ruler's group as promtool reads it: without what only the ruler reads (GROUP_PARAMS)."""
    return {key: value for key, value in group.items() if key != GROUP_PARAMS}


def _per_file(stack: Stack, ruler: "Ruler") -> Files:
    """One rule file of the ruler per rule file of Prometheus, in the ruler's folder."""
    return {f"{ruler.directory}/{name}": to_yaml({"groups": ruler.features.adapt(stack, ruler.spec_field, groups)},
                                                 stack.source_name)
            for name, groups in rule_files(stack).items()}


def _namespace_file(stack: Stack, ruler: "Ruler") -> Files:
    """Every group in one file of the ruler's namespace (`mimirtool rules load`)."""
    namespace = stack.scale_out.rulers.mimir_namespace
    groups = [group for groups in rule_files(stack).values() for group in groups]
    document = {"namespace": namespace, "groups": ruler.features.adapt(stack, ruler.spec_field, groups)}
    return {f"{ruler.directory}/{namespace}.yaml": to_yaml(document, stack.source_name)}


@frozen
class Ruler:
    """One ruler holystack writes rule files for: its name (as OUT/README.md lists it), the spec
    field that asks for it, its folder, what it lacks, whether a stack asks for it, and its files.
    A namespace ruler's files are one document with a `namespace` key, which promtool does not read."""

    name: str
    spec_field: str
    directory: str
    features: RulerFeatures
    wanted: Callable[[Rulers], bool]
    files: Callable[[Stack, "Ruler"], Files] = _per_file
    namespaced: bool = False

    def render(self, stack: Stack) -> Files:
        return self.files(stack, self)


# Debian's vmalert 1.79: MetricsQL reads PromQL, but has no native-histogram functions and no
# Prometheus 3 names; keep_firing_for and query_offset came after 1.79. nocache=1: VictoriaMetrics
# answers each evaluation at its own time; without it, a query within -search.latencyOffset (30s by
# default) of the wall clock is answered that far behind the clock, so two evaluations a late one
# apart read the same samples (a counter step counted twice) or skip one.
VMALERT = RulerFeatures(
    "vmalert 1.79", ("keep_firing_for",), ("query_offset",),
    frozenset({"histogram_count", "histogram_sum", "histogram_avg", "histogram_fraction", "histogram_stddev",
               "histogram_stdvar", "double_exponential_smoothing", "info", "limit_ratio"}),
    group_params=(("nocache", "1"),), writes_back_late=True)
# Thanos Ruler and the Mimir/Cortex ruler evaluate with the Prometheus engine itself.
THANOS = RulerFeatures("Thanos Ruler", (), (), frozenset())
MIMIR = RulerFeatures("the Mimir ruler", (), (), frozenset())

# The rulers, in the order their files and README rows come: one entry each.
RULERS: tuple[Ruler, ...] = (
    Ruler("vmalert", "rulers.vmalert", VMALERT_DIR, VMALERT, lambda on: on.vmalert),
    Ruler("thanos", "rulers.thanos", THANOS_DIR, THANOS, lambda on: on.thanos),
    Ruler("mimir", "rulers.mimir", MIMIR_DIR, MIMIR, lambda on: on.mimir_namespace is not None, _namespace_file,
          namespaced=True),
)


def wanted_rulers(stack: Stack) -> tuple[Ruler, ...]:
    """The rulers the spec asks for."""
    return tuple(ruler for ruler in RULERS if ruler.wanted(stack.scale_out.rulers))


def render_rulers(stack: Stack) -> Files:
    return {path: text for ruler in wanted_rulers(stack) for path, text in ruler.render(stack).items()}
