"""The generated promtool tests, one file per alert family with only the rule files it reads: each
alert, broken, fails its own family's file, so that no file passes for want of a rule it needs."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from holystack import load_stack, render_to
from holystack.render import alerts
from holystack.render.layout import rule_tests_path

from .conftest import EXAMPLE

STACK = load_stack(EXAMPLE)
# alert name -> the test file of its family (relative to prometheus/)
FAMILY_FILE = {STACK.alert_name(kind): rule_tests_path(STACK, family.name).removeprefix("prometheus/")
               for family, cases in alerts.family_cases(STACK) if cases for kind in family.kinds}
NEVER = "absent(vector(1))"  # an expression that never returns a sample


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ruletests") / "out"
    render_to(EXAMPLE, out)
    return out


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
    out = tmp_path / "out"
    subprocess.run(["cp", "-a", str(rendered), str(out)], check=True)
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
    done = subprocess.run([promtool, "test", "rules", FAMILY_FILE[alert]], cwd=out / "prometheus",
                          capture_output=True, text=True, timeout=300)
    assert done.returncode != 0, done.stdout
    assert f"alertname: {alert}," in done.stdout + done.stderr
