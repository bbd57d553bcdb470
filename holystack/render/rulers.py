"""Rule files for a ruler that reads a remote store instead of a local Prometheus: vmalert
(VictoriaMetrics), Mimir/Cortex (`mimirtool rules load`), Thanos Ruler.

The groups are those of rule_files(stack); a ruler that lacks a feature they use either gets it
adapted (dropped, with the consequence in the README) or the render is refused."""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from ..errors import Problem, SpecError
from ..model import Stack
from ..output import Files, to_yaml
from .prometheus import rule_files

VMALERT_DIR = "vmalert"
THANOS_DIR = "thanos"
MIMIR_DIR = "mimir"
FUNCTION_CALL = re.compile(r"\b([a-z_]+)\s*\(")


@dataclass(frozen=True)
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


# Debian's vmalert 1.79: MetricsQL reads PromQL, but has no native-histogram functions and no
# Prometheus 3 names; keep_firing_for and query_offset came after 1.79.
VMALERT = RulerFeatures(
    "vmalert 1.79", ("keep_firing_for",), ("query_offset",),
    frozenset({"histogram_count", "histogram_sum", "histogram_avg", "histogram_fraction", "histogram_stddev",
               "histogram_stdvar", "double_exponential_smoothing", "info", "limit_ratio"}))
# Thanos Ruler and the Mimir/Cortex ruler evaluate with the Prometheus engine itself.
THANOS = RulerFeatures("Thanos Ruler", (), (), frozenset())
MIMIR = RulerFeatures("the Mimir ruler", (), (), frozenset())


def render_rulers(stack: Stack) -> Files:
    rulers = stack.scale_out.rulers
    files: Files = {}
    if rulers.vmalert:
        for name, groups in rule_files(stack).items():
            files[f"{VMALERT_DIR}/{name}"] = to_yaml({"groups": VMALERT.adapt(stack, "rulers.vmalert", groups)},
                                                     stack.source_name)
    if rulers.thanos:
        for name, groups in rule_files(stack).items():
            files[f"{THANOS_DIR}/{name}"] = to_yaml({"groups": THANOS.adapt(stack, "rulers.thanos", groups)},
                                                    stack.source_name)
    if rulers.mimir_namespace is not None:
        groups = [group for groups in rule_files(stack).values() for group in groups]
        document = {"namespace": rulers.mimir_namespace, "groups": MIMIR.adapt(stack, "rulers.mimir", groups)}
        files[f"{MIMIR_DIR}/{rulers.mimir_namespace}.yaml"] = to_yaml(document, stack.source_name)
    return files
