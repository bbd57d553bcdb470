"""The generated promtool tests, one file per alert family with only the rule files it reads: each
alert, broken, fails its own family's file, so that no file passes for want of a rule it needs."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from holystack import load_stack
from holystack.checks.rule_subsets import PromtoolRun, plan_test_runs
from holystack.checks.tools import load_rule_documents
from holystack.render import alerts
from holystack.layout import rule_tests_path
from holystack.rule_graph import reads_of

from .conftest import EXAMPLE, Cases, copy_out

STACK = load_stack(EXAMPLE)
# alert name -> the test file of its family (relative to prometheus/)
FAMILY_FILE = {STACK.alert_name(kind): rule_tests_path(STACK, family.name).removeprefix("prometheus/")
               for family, cases in alerts.family_cases(STACK) if cases for kind in family.kinds}
NEVER = "absent(vector(1))"  # an expression that never returns a sample


@pytest.fixture
def rendered(cases: Cases) -> Path:
    """The reference spec rendered once per session (read-only)."""
    return cases.rendered("holysheep")


def test_each_family_file_reads_only_what_its_alerts_need(rendered: Path) -> None:
    tests = rendered / "prometheus" / "tests"
    budget = yaml.safe_load((tests / "holysheep-budget-and-forecast.test.yml").read_text())
    assert budget["rule_files"] == ["../rules/holysheep-cost.yml", "../rules/holysheep-alerts.yml"]
    # The no-traffic case reads ALERTS, every alert's state: its file names every rule file.
    watchdog = yaml.safe_load((tests / "holysheep-watchdog.test.yml").read_text())
    every = sorted(p.name for p in (rendered / "prometheus" / "rules").glob("*.yml"))
    assert sorted(Path(p).name for p in watchdog["rule_files"]) == every


@pytest.mark.parametrize("alert", sorted(FAMILY_FILE))
def test_a_broken_alert_fails_its_family_file(alert: str, rendered: Path, tmp_path: Path, promtool: str) -> None:
    """On the rule files as rendered: the family file's cases that judge the alert (the others cannot
    say its name), beside the family file, so that they read the rule files it names."""
    out = copy_out(rendered, tmp_path / "out")
    path = out / "prometheus" / "rules" / "holysheep-alerts.yml"
    document = yaml.safe_load(path.read_text())
    broken = 0
    for group in document["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == alert:
                rule["expr"] = NEVER
                broken += 1
    assert broken
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    family = out / "prometheus" / FAMILY_FILE[alert]
    test_doc = yaml.safe_load(family.read_text())
    judging = [test for test in test_doc["tests"] if alert in reads_of([test])[0]]
    assert judging
    own = family.with_name(f"only-{alert}.test.yml")
    own.write_text(yaml.safe_dump({**test_doc, "tests": judging}, sort_keys=False))
    done = subprocess.run([promtool, "test", "rules", own.relative_to(out / "prometheus").as_posix()],
                          cwd=out / "prometheus", capture_output=True, text=True, timeout=300)
    assert done.returncode != 0, done.stdout
    assert f"alertname: {alert}," in done.stdout + done.stderr


def _cut_runs(out: Path, tmp_path: Path) -> list[PromtoolRun]:
    """validate's runs of the generated test files: each on the rules it observes (checks/rule_subsets)."""
    prometheus = out / "prometheus"
    rule_files = sorted(str(p.relative_to(prometheus)) for p in (prometheus / "rules").glob("*.yml"))
    test_files = sorted(str(p.relative_to(prometheus)) for p in (prometheus / "tests").glob("*.yml"))
    return plan_test_runs(out, test_files, load_rule_documents(out, rule_files), tmp_path / "scratch")


def _rules_by_name(folder: Path, test_doc: dict[str, object]) -> dict[str, list[dict[str, object]]]:
    """name -> the rules of that name, in the rule files test_doc names, read beside folder/tests."""
    rules: dict[str, list[dict[str, object]]] = {}
    for name in test_doc["rule_files"]:
        for group in yaml.safe_load((folder / "tests" / name).read_text())["groups"]:
            for rule in group["rules"]:
                rules.setdefault(rule.get("alert") or rule["record"], []).append(rule)
    return rules


def test_validate_runs_each_case_on_the_rules_it_observes(rendered: Path, tmp_path: Path) -> None:
    runs = {run.path: run for run in _cut_runs(rendered, tmp_path)}
    prometheus = rendered / "prometheus"
    # The no-traffic case reads ALERTS (every alert's state): its part runs on the rule files as they are.
    watchdog = runs["tests/holysheep-watchdog.test.yml"]
    no_traffic, = (arg for arg in watchdog.args if any("ALERTS" in str(t.get("promql_expr_test")) for t in
                                                         yaml.safe_load((watchdog.cwd / arg).read_text())["tests"]))
    named = yaml.safe_load((watchdog.cwd / no_traffic).read_text())["rule_files"]
    assert len(named) == len(list((prometheus / "rules").glob("*.yml")))
    for name in named:
        assert ((watchdog.cwd / no_traffic).parent / name).read_bytes() == (prometheus / "tests" / name).read_bytes()
    # The request ratios' cases judge four alerts that read different rules: their file is cut in parts.
    assert len(runs["tests/holysheep-request-ratios.test.yml"].args) > 1
    for path, run in runs.items():
        if run.cwd == prometheus:
            continue
        test_doc = yaml.safe_load((prometheus / path).read_text())
        whole = _rules_by_name(prometheus, test_doc)
        cases = []
        for arg in run.args:
            part = yaml.safe_load((run.cwd / arg).read_text())
            # A part is its file's own keys with some of its cases, beside the rules those cases observe.
            assert {**part, "tests": test_doc["tests"]} == test_doc, arg
            assert arg.endswith(path) and (run.cwd / arg).parent.name == "tests", arg
            cases += part["tests"]
            alerts, _ = reads_of(part["tests"])
            kept = _rules_by_name((run.cwd / arg).parent.parent, part)
            # Every alert the part judges is there, with its rule as rendered; and the cut is a cut.
            assert alerts <= set(kept) and (len(kept) < len(whole) or arg == no_traffic), arg
            assert all(kept[name] == whole[name] for name in kept), arg
        # Every case of the file runs once.
        assert sorted(map(repr, cases)) == sorted(map(repr, test_doc["tests"])), path


def test_every_broken_alert_fails_its_family_file_as_validate_runs_it(rendered: Path, tmp_path: Path,
                                                                      promtool: str) -> None:
    """The cut keeps the proof: with every alert's expression broken, each family file, run on the rules
    it observes, fails for each of its alerts."""
    out = copy_out(rendered, tmp_path / "out")
    path = out / "prometheus" / "rules" / "holysheep-alerts.yml"
    document = yaml.safe_load(path.read_text())
    for group in document["groups"]:
        for rule in group["rules"]:
            rule["expr"] = NEVER
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    said = {}
    for run in _cut_runs(out, tmp_path):
        done = subprocess.run([promtool, "test", "rules", *run.args], cwd=run.cwd, capture_output=True, text=True,
                              timeout=300)
        said[run.path] = (done.returncode, done.stdout + done.stderr)
    for alert, family_file in FAMILY_FILE.items():
        code, text = said[family_file]
        assert code != 0 and f"alertname: {alert}," in text, (alert, text)
