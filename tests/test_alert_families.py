"""The alert families: each kind has one home, its texts in every language, and a new family
plugs in without an edit anywhere else."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from holystack import load_stack, render_to
from holystack.render import alerts
from holystack.render.text import text_table
from holystack.validate import run_checks

from . import dummy_family
from .conftest import EXAMPLE

LANGUAGES = ("en", "vi")
DUMMY_TESTS = "holysheep-mostly-timeouts.test.yml"  # the dummy family's promtool file


def test_every_kind_has_one_family() -> None:
    kinds = [kind for family in alerts.families() for kind in family.kinds]
    assert len(kinds) == len(set(kinds))


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_kind_has_its_texts(language: str) -> None:
    table = text_table("annotations", language)
    kinds = {kind for family in alerts.families() for kind in family.kinds}
    assert kinds == set(table), "annotation texts without a kind, or kinds without texts"
    for kind in kinds:
        assert table[kind]["summary"] and table[kind]["description"]


def test_every_rule_belongs_to_a_declared_kind_of_its_family() -> None:
    stack = load_stack(EXAMPLE)
    rules = alerts.alert_rules(stack)
    assert {rule.kind for rule in rules} == {kind for family in alerts.families() for kind in family.kinds}


def test_a_family_that_builds_an_undeclared_kind_is_refused() -> None:
    stray = alerts.AlertFamily("stray", ("Declared",), dummy_family.rules, dummy_family.cases)
    with alerts.registered(stray), pytest.raises(ValueError, match="MostlyTimeouts"):
        alerts.alert_rules(load_stack(EXAMPLE))


def test_a_family_whose_kind_is_already_in_force_is_refused() -> None:
    twin = alerts.AlertFamily("twin", ("RateLimitRatioHigh",), dummy_family.rules, dummy_family.cases)
    with pytest.raises(ValueError, match="request ratios"):
        alerts.register_family(twin)
    assert twin not in alerts.families()


def test_registering_ends_with_the_block() -> None:
    with alerts.registered(dummy_family.FAMILY):
        assert alerts.families()[-1] is dummy_family.FAMILY
    assert dummy_family.FAMILY not in alerts.families()
    assert alerts.families() == alerts.BUILT_IN


def test_a_new_family_plugs_in_with_no_edit_elsewhere(tmp_path: Path, promtool: str, amtool: str) -> None:
    """The dummy family lives in tests/dummy_family.py only: registering it renders its rule, its
    annotations, its promtool cases (which pass), and routes it like any other alert."""
    with alerts.registered(dummy_family.FAMILY):
        _plugged_in(tmp_path, promtool, amtool)


def _plugged_in(tmp_path: Path, promtool: str, amtool: str) -> None:
    render_to(EXAMPLE, tmp_path)
    rules = yaml.safe_load((tmp_path / "prometheus" / "rules" / "holysheep-alerts.yml").read_text())
    added = [r for r in rules["groups"][0]["rules"] if r["alert"] == "HolySheepMostlyTimeouts"]
    assert len(added) == 1
    assert added[0]["annotations"]["description"] == (
        "{{ $value | humanizePercentage }} of calls to {{ $labels.provider }} timed out over the last 5m.")
    tests = yaml.safe_load((tmp_path / "prometheus" / "tests" / DUMMY_TESTS).read_text())
    assert [t["name"] for t in tests["tests"]] == [
        "MostlyTimeouts fires at 60% timeouts", "MostlyTimeouts stays silent at 40% timeouts"]
    # Its own file evaluates the alerts and the recordings they read, not the cost or SLO files.
    assert tests["rule_files"] == ["../rules/holysheep-requests.yml", "../rules/holysheep-alerts.yml"]
    # Its cases pass in promtool; run_checks below runs every family's file (promtool test rules included).
    done = subprocess.run([promtool, "test", "rules", DUMMY_TESTS], cwd=tmp_path / "prometheus" / "tests",
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    routed = subprocess.run([amtool, "config", "routes", "test", "--config.file=alertmanager/alertmanager.yml",
                             "alertname=HolySheepMostlyTimeouts", "severity=info"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert routed.stdout.strip() == "ops-chat", routed.stdout + routed.stderr
    failed = [r for r in run_checks(load_stack(EXAMPLE), tmp_path) if r.status == "fail"]
    assert not failed, failed


def test_the_dummy_cases_fail_when_its_rule_is_wrong(tmp_path: Path, promtool: str) -> None:
    """The plugged-in family's generated cases can fail: break its rule and promtool says so."""
    with alerts.registered(dummy_family.FAMILY):
        render_to(EXAMPLE, tmp_path)
    path = tmp_path / "prometheus" / "rules" / "holysheep-alerts.yml"
    path.write_text(path.read_text().replace(" > 0.5\n", " > 0.3\n"))
    # Its own file holds its cases and names the rule files they read: it is the one to run.
    done = subprocess.run([promtool, "test", "rules", DUMMY_TESTS], cwd=tmp_path / "prometheus" / "tests",
                          capture_output=True, text=True, timeout=300)
    assert done.returncode != 0 and "MostlyTimeouts stays silent" in done.stdout + done.stderr
