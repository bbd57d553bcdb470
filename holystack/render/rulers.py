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
from ..durations import Duration
from ..model import Rulers, Stack
from ..series import STEP
from ..output import Files, to_yaml
from ..rule_graph import rule_name
from .prometheus import rule_files

VMALERT_DIR = "vmalert"
THANOS_DIR = "thanos"
MIMIR_DIR = "mimir"
FUNCTION_CALL = re.compile(r"\b([a-z_]+)\s*\(")
# A group's query parameters: vmalert reads them; they are not Prometheus' rule format (promtool refuses them).
GROUP_PARAMS = "params"
# A PromQL string literal, in double or single quotes.
STRING = r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'"


@frozen
class RulerFeatures:
    """What one ruler lacks of Prometheus' rule format."""

    name: str
    dropped_rule_fields: tuple[str, ...]    # adapted: the field is left out
    dropped_group_fields: tuple[str, ...]
    missing_functions: frozenset[str]       # refused: no equivalent query
    # Query parameters of every evaluation (a group's `params`, which only this ruler reads).
    group_params: tuple[tuple[str, str], ...] = ()
    # The ruler writes a rule's results back asynchronously: the later rules of its group whose values
    # add up read them from the previous evaluation (read_previous_evaluation).
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
                interval = group.get("interval")
                read_previous_evaluation(group, Duration.parse(interval) if interval else stack.evaluation_interval)
            for rule in group["rules"]:
                for field in self.dropped_rule_fields:
                    rule.pop(field, None)
                used = set(FUNCTION_CALL.findall(rule["expr"])) & self.missing_functions
                if used:
                    name = rule_name(rule)
                    raise SpecError(stack.source_name, [Problem(spec_field, (
                        f"{self.name} has no {', '.join(sorted(used))}(), which rule {name} of group "
                        f"{group['name']} uses; leave {spec_field} out or evaluate these rules in Prometheus"))])
        return groups


def read_previous_evaluation(group: dict[str, Any], interval: Duration) -> None:
    """In a rule whose values add up over time, a read of what an earlier rule of its group records
    is of the previous evaluation's value (`offset` half an interval: past this evaluation's, at or
    after the previous one's, whatever the jitter of their timestamps).

    vmalert sends each result to the store after its rule and queries the store for the next: this
    evaluation's value may be back in time or not, so such a read gets this evaluation's value or the
    previous one's, as the write happened to land. In a step (its values are summed over windows) or a
    rule that adds to its own previous value (the month to date), that counts a step twice or loses it;
    the previous evaluation's value is always back, so each link of the chain (the cost by model, its
    total, the month to date) comes one evaluation later and every step is counted once. Other rules
    (rates, ratios, alerts) read what is there, as they would any recording: one evaluation late at
    worst, and nothing adds it up. A rule's reads of its own series are left as they are."""
    back = Duration(interval.ms // 2)
    written: set[str] = set()
    for rule in group["rules"]:
        name = rule.get("record")
        if name is not None and (name.endswith(f":{STEP}") or _reads(rule["expr"], name)):
            for earlier in sorted(written - {name}):
                rule["expr"] = _read_back(rule["expr"], earlier, back)
        if name is not None:
            written.add(name)


def _selectors(name: str) -> re.Pattern[str]:
    """The selectors of a recorded series (a name with a colon, so never a label or a function) with
    their label matchers and range; string literals are matched too, so that they are skipped."""
    assert ":" in name, name
    matchers = rf"\{{(?:{STRING}|[^{{}}\"'])*\}}"
    return re.compile(rf"{STRING}|(?<![\w:]){re.escape(name)}(?![\w:])(?:{matchers})?(?:\[[^\]]*\])?")


def _reads(expr: str, name: str) -> bool:
    return any(not found[0].startswith(("'", '"')) for found in _selectors(name).finditer(expr))


def _read_back(expr: str, name: str, back: Duration) -> str:
    def offset(found: re.Match[str]) -> str:
        if found[0].startswith(("'", '"')):
            return found[0]
        if re.match(r"\s*offset\b", expr[found.end():], re.IGNORECASE):
            raise ValueError(f"{name} is already read with an offset in {expr!r}")
        return f"{found[0]} offset {back}"
    return _selectors(name).sub(offset, expr)


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
