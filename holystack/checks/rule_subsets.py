"""The rules each generated promtool test file can observe, and nothing else, for validate's run.

promtool evaluates every rule of every file a test file names at every evaluation step of every
case, so a case's cost is its rules times its horizon. A test file observes only the alerts it
judges, the series its queries name and what those read, followed through the recordings they read
in turn (render/ruletests.RuleIndex, the one definition of that closure). validate runs each test
file, byte for byte as rendered, in a scratch folder of its own, next to copies of the rule files it
names cut down to those rules: the same rules with the same texts, in the same groups and order.
A rule outside the closure cannot change what the file observes, so the verdict is the same (a
broken alert still fails its case); only the work is less.

A test file runs on the rule files as they are (in prometheus/) whenever the cut cannot be shown
safe: it reads ALERTS (every alert's state; this also keeps every rule evaluated by some file), a
rule or query names series by `__name__`, a rule file it names did not load, or it does not load."""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from ..durations import parse_ms
from ..output import to_yaml
from ..render.layout import PROMETHEUS_DIR
from ..render.ruletests import ALERT_SERIES, RuleIndex, reads_of
from ..yamlload import YAML_LOADER

# A selector by __name__ reads series no name in the text spells.
BY_NAME = "__name__"
SOURCE = "holystack validate: the rules this test file observes"


@dataclass(frozen=True)
class PromtoolRun:
    """Where one test file runs: its path relative to cwd (as in the report) and its cost estimate."""

    path: str
    cwd: Path
    cost: float  # rules evaluated times evaluation steps: the order runs start in (longest first)


def _rule_text(rule: dict[str, Any]) -> str:
    """Everything a rule may read: its expression and its templates (a template can `query`)."""
    return " ".join(str(rule.get(key, "")) for key in ("expr", "labels", "annotations"))


def _seconds(text: Any) -> float:
    try:
        return parse_ms(str(text)) / 1000
    except ValueError:
        return 0.0


def _horizon(tests: list[dict[str, Any]]) -> float:
    """The seconds promtool evaluates a file's cases over: each case up to its last eval_time."""
    return sum(max((_seconds(t.get("eval_time", 0)) for key in ("alert_rule_test", "promql_expr_test")
                    for t in test.get(key) or ()), default=0.0) for test in tests)


def _rule_count(documents: list[dict[str, Any]]) -> int:
    return sum(len(group["rules"]) for document in documents for group in document["groups"])


def plan_test_runs(out: Path, test_files: list[str], documents: dict[str, Any], scratch: Path) -> list[PromtoolRun]:
    """One run per test file (relative to out/prometheus), in test_files' order; documents are the
    loaded rule files (paths relative to out, as rendered). Writes the scratch folders it needs."""
    prometheus = out / PROMETHEUS_DIR
    by_path = {PurePosixPath(path): document for path, document in documents.items()}
    runs = []
    for index, test_file in enumerate(test_files):
        try:
            test_doc = yaml.load((prometheus / test_file).read_text("utf-8"), Loader=YAML_LOADER)  # noqa: S506
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            test_doc = None
        try:
            runs.append(_plan_one(prometheus, test_file, test_doc, by_path, scratch / str(index)))
        except (AttributeError, KeyError, TypeError):  # a rule file of the wrong shape: promtool says why
            runs.append(PromtoolRun(test_file, prometheus, 0.0))
    return runs


def _named_rule_files(test_file: str, test_doc: dict[str, Any], by_path: dict[PurePosixPath, Any]
                      ) -> list[tuple[str, Any]] | None:
    """(where under prometheus/, loaded document) of each rule file the test names, or None if one is not loaded."""
    named = []
    for entry in test_doc.get("rule_files") or ():
        if not isinstance(entry, str) or any(ch in entry for ch in "*?["):
            return None
        parts: list[str] = []
        for part in (PurePosixPath(test_file).parent / entry).parts:
            if part == "..":
                if not parts:
                    return None
                parts.pop()
            elif part != ".":
                parts.append(part)
        where = "/".join(parts)
        document = by_path.get(PurePosixPath(PROMETHEUS_DIR) / where)
        if document is None:
            return None
        named.append((where, document))
    return named


def _plan_one(prometheus: Path, test_file: str, test_doc: Any, by_path: dict[PurePosixPath, Any],
              folder: Path) -> PromtoolRun:
    tests = test_doc.get("tests") if isinstance(test_doc, dict) else None
    if not isinstance(tests, list) or not all(isinstance(t, dict) for t in tests):
        return PromtoolRun(test_file, prometheus, 0.0)
    horizon = _horizon(tests)
    named = _named_rule_files(test_file, test_doc, by_path)
    if named is None:
        return PromtoolRun(test_file, prometheus, horizon)
    whole = horizon * _rule_count([document for _, document in named])
    alerts, names = reads_of(tests)
    queries = " ".join(str(t.get("expr")) for test in tests for t in test.get("promql_expr_test") or ())
    if (names & ALERT_SERIES) or BY_NAME in queries:
        return PromtoolRun(test_file, prometheus, whole)
    index = RuleIndex({where: document["groups"] for where, document in named}, _rule_text)
    keep = index.observed(alerts, names)
    cut: list[tuple[str, dict[str, Any]]] = []
    for where, document in named:
        groups = []
        for group in document["groups"]:
            rules = [rule for rule in group["rules"] if (rule.get("alert") or rule.get("record")) in keep]
            if any(BY_NAME in _rule_text(rule) for rule in rules):
                return PromtoolRun(test_file, prometheus, whole)
            if rules:
                groups.append({**group, "rules": rules})
        cut.append((where, {**document, "groups": groups}))
    for where, document in cut:
        target = folder / where
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(to_yaml(document, SOURCE), "utf-8")
    (folder / test_file).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(prometheus / test_file, folder / test_file)
    return PromtoolRun(test_file, folder, horizon * _rule_count([document for _, document in cut]))
