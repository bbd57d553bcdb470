"""The generated `promtool test rules` files: every family's cases (render/alerts/), each alert
firing in one case and staying silent in another, with the exact labels and texts it carries.

One file per family, each naming only the rule files its cases read: the file of the alerts they
test, and the files of the recorded series those alerts read, followed through the recordings
they read in turn. A case that reads ALERTS judges every alert, so its file names every rule file.
The files are independent, so `holystack validate` runs them side by side."""
from __future__ import annotations

from ..layout import RULES_DIR, rule_tests_path
from ..model import Stack
from ..output import Files, to_yaml
from ..rule_graph import RuleIndex, reads_of
from .alerts import family_cases
from .alerts.promtool import PromtoolCase, test_interval
from .prometheus import rule_files


def _reads(cases: list[PromtoolCase]) -> tuple[set[str], set[str]]:
    """The alert names a family's cases test, and the names their query tests mention."""
    return reads_of({"alert_rule_test": case.alert_tests, "promql_expr_test": case.expr_tests} for case in cases)


def render_rule_tests(stack: Stack) -> Files:
    interval = test_interval(stack)
    index = RuleIndex(rule_files(stack))
    out: Files = {}
    for family, cases in family_cases(stack):
        if not cases:
            continue
        alerts, names = _reads(cases)
        document = {
            "rule_files": [f"../{RULES_DIR}/{name}" for name in index.files_for(alerts, names)],
            "evaluation_interval": str(stack.evaluation_interval),
            "tests": [case.document(interval, lambda series: stack.source.test_series(stack, series)) for case in cases],
        }
        path = rule_tests_path(stack, family.name)
        if path in out:
            raise ValueError(f"two alert families write {path}; give them distinct names")
        out[path] = to_yaml(document, stack.source_name)
    return out
