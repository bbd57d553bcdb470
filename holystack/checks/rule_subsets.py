"""The rules each generated promtool test case can observe, and nothing else, for validate's run.

promtool evaluates every rule of every file a test file names at every evaluation step of every
case (test group), so a case's cost is its rules times its horizon. A case observes only the alerts
it judges, the series its queries name and what those read, followed through the recordings they
read in turn (rule_graph.RuleIndex, the one definition of that closure). Each case runs on its
own storage and its own rules, so the cases of a test file that observe the same rules form one part,
and validate runs each part in a scratch folder of its own: the file's own keys and cases, next to
copies of the rule files it names cut down to those rules (the same rules with the same texts, in
the same groups and order). A file whose cases all observe the same rules is copied byte for byte.
A rule outside the closure cannot change what a case observes, so the verdict is the same (a broken
alert still fails its case); only the work is less. The parts of one file run in one promtool.

A case runs on every rule its file names whenever the cut cannot be shown safe: it reads ALERTS
(every alert's state; this also keeps every rule evaluated by some case), or it or a rule it
observes names series by `__name__`. A test file runs as it is, in prometheus/, when a rule file it
names did not load or it does not load."""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from ..durations import parse_ms
from ..output import to_yaml
from ..layout import PROMETHEUS_DIR
from ..rule_graph import ALERT_SERIES, RuleIndex, reads_of, rule_name
from ..yamlload import YAML_LOADER

# A selector by __name__ reads series no name in the text spells.
BY_NAME = "__name__"
SOURCE = "holystack validate: the rules this test file observes"


@dataclass(frozen=True)
class PromtoolRun:
    """One promtool run of a test file: `promtool test rules *args` in cwd.

    path: the test file as rendered (relative to out/prometheus), the name the report gives it;
    args: the test files promtool reads, relative to cwd (path itself, or its cut parts);
    cost: rules evaluated times evaluation steps, the order runs start in (longest first)."""

    path: str
    cwd: Path
    args: tuple[str, ...]
    cost: float


def _as_is(test_file: str, prometheus: Path, cost: float) -> PromtoolRun:
    """The test file run as rendered, on the rule files as rendered."""
    return PromtoolRun(test_file, prometheus, (test_file,), cost)


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
            runs.append(_as_is(test_file, prometheus, 0.0))
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
        return _as_is(test_file, prometheus, 0.0)
    named = _named_rule_files(test_file, test_doc, by_path)
    if named is None:
        return _as_is(test_file, prometheus, _horizon(tests))
    index = RuleIndex({where: document["groups"] for where, document in named}, _rule_text)
    every = frozenset(rule_name(rule) for _, document in named for group in document["groups"] for rule in group["rules"])
    parts: dict[frozenset[str], list[dict[str, Any]]] = {}  # the rules a part observes -> its test groups
    for test in tests:
        parts.setdefault(_observed(index, named, test, every), []).append(test)
    whole = _rule_count([document for _, document in named])
    if list(parts) == [every]:
        return _as_is(test_file, prometheus, _horizon(tests) * whole)
    args, cost = [], 0.0
    for number, (keep, part) in enumerate(parts.items()):
        root = folder / f"part{number}"
        kept = 0
        for where, document in named:
            target = root / where
            target.parent.mkdir(parents=True, exist_ok=True)
            if keep == every:  # the rule files as rendered, byte for byte
                shutil.copyfile(prometheus / where, target)
                kept += _rule_count([document])
                continue
            groups = [{**group, "rules": rules} for group in document["groups"]
                      if (rules := [rule for rule in group["rules"] if rule_name(rule) in keep])]
            kept += _rule_count([{"groups": groups}])
            target.write_text(to_yaml({**document, "groups": groups}, SOURCE), "utf-8")
        (root / test_file).parent.mkdir(parents=True, exist_ok=True)
        if len(parts) == 1:
            shutil.copyfile(prometheus / test_file, root / test_file)
        else:
            try:
                text = to_yaml({**test_doc, "tests": part}, SOURCE)
            except TypeError:  # a value holystack does not write (a date): the file as rendered, on every rule
                return _as_is(test_file, prometheus, _horizon(tests) * whole)
            (root / test_file).write_text(text, "utf-8")
        args.append(f"part{number}/{test_file}")
        cost += _horizon(part) * kept
    return PromtoolRun(test_file, folder, tuple(args), cost)


def _observed(index: RuleIndex, named: list[tuple[str, Any]], test: dict[str, Any], every: frozenset[str]
              ) -> frozenset[str]:
    """The rules one test group can observe; every rule when that cannot be cut safely (it reads ALERTS,
    or it or a rule it observes names series by __name__)."""
    alerts, names = reads_of([test])
    if names & ALERT_SERIES or any(BY_NAME in str(t.get("expr")) for t in test.get("promql_expr_test") or ()):
        return every
    keep = index.observed(alerts, names)
    if any(BY_NAME in _rule_text(rule) for _, document in named for group in document["groups"]
           for rule in group["rules"] if rule_name(rule) in keep):
        return every
    return frozenset(keep)
