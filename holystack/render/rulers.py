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


@frozen
class RulerFeatures:
    """What one ruler lacks of Prometheus' rule format."""

    name: str
    dropped_rule_fields: tuple[str, ...]    # adapted: the field is left out
    dropped_group_fields: tuple[str, ...]
    missing_functions: frozenset[str]       # refused: no equivalent query

    def adapt(self, stack: Stack, spec_field: str, groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
        groups = copy.deepcopy(groups)
        for group in groups:
            for field in self.dropped_group_fields:
                group.pop(field, None)
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
# Prometheus 3 names; keep_firing_for and query_offset came after 1.79.
VMALERT = RulerFeatures(
    "vmalert 1.79", ("keep_firing_for",), ("query_offset",),
    frozenset({"histogram_count", "histogram_sum", "histogram_avg", "histogram_fraction", "histogram_stddev",
               "histogram_stdvar", "double_exponential_smoothing", "info", "limit_ratio"}))
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
