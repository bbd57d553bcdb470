"""The rendered stacks pass the real promtool and amtool, generated rule tests included."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from holystack import render_to

from .conftest import CASES, EXAMPLE

# The golden cases; tests/cases/holysheep/spec.yaml is the reference spec (test_golden checks it is).
SPECS = sorted(CASES.glob("*/spec.yaml"))


@pytest.fixture(scope="module", params=SPECS, ids=lambda p: p.parent.name if p.name == "spec.yaml" else p.stem)
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("out")
    render_to(request.param, out)
    return out


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300)


def test_promtool_check_config(rendered: Path, promtool: str) -> None:
    done = _run([promtool, "check", "config", "prometheus.yml"], rendered / "prometheus")
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_check_rules(rendered: Path, promtool: str) -> None:
    rules = sorted(str(p) for p in (rendered / "prometheus" / "rules").glob("*.yml"))
    done = _run([promtool, "check", "rules", *rules], rendered)
    assert done.returncode == 0, done.stdout + done.stderr


def test_generated_rule_tests_pass_in_promtool(rendered: Path, promtool: str) -> None:
    tests = sorted(str(p) for p in (rendered / "prometheus" / "tests").glob("*.yml"))
    assert tests
    done = _run([promtool, "test", "rules", *tests], rendered / "prometheus")
    assert done.returncode == 0, done.stdout + done.stderr


def test_generated_rule_tests_catch_a_wrong_threshold(rendered: Path, promtool: str) -> None:
    """The generated tests can fail: raise every ratio threshold and they must."""
    alerts = next((rendered / "prometheus" / "rules").glob("*-alerts.yml"))
    text = alerts.read_text()
    alerts.write_text(text.replace(" > 0.", " > 0.4"))
    try:
        # One family's file failing proves it; the files are run one by one until one fails: the
        # request ratios' first (its alerts are ratio thresholds), then the smallest first (the
        # budget and burn-rate files, which cost promtool most, hold no ratio threshold).
        tests = [str(p) for p in sorted((rendered / "prometheus" / "tests").glob("*.yml"),
                                        key=lambda p: (not p.name.endswith("-request-ratios.test.yml"),
                                                       p.stat().st_size, p.name))]
        failed = next((done for done in (_run([promtool, "test", "rules", test], rendered / "prometheus")
                                         for test in tests) if done.returncode != 0), None)
        assert failed is not None, "no generated test failed on the raised thresholds"
        assert "FAILED" in failed.stdout + failed.stderr
    finally:
        alerts.write_text(text)


def test_amtool_check_config(rendered: Path, amtool: str) -> None:
    done = _run([amtool, "check-config", "alertmanager.yml"], rendered / "alertmanager")
    assert done.returncode == 0, done.stdout + done.stderr


def _routes(amtool: str, out: Path, *labels: str) -> list[str]:
    done = _run([amtool, "config", "routes", "test", "--config.file=alertmanager/alertmanager.yml", *labels], out)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip().split(",")


E2E_SPEC = Path(__file__).parent / "e2e" / "spec.yaml"
# The receivers each severity reaches, read off each spec's routes by hand.
RECEIVERS_BY_SEVERITY = {
    EXAMPLE: {"critical": ["oncall", "dingtalk"], "warning": ["ops-chat"], "info": ["ops-chat"],
              "none": ["holystack-watchdog"]},
    E2E_SPEC: {"critical": ["pager"], "warning": ["chat"], "info": ["tickets"], "none": ["holystack-watchdog"]},
}


@pytest.mark.parametrize("spec", list(RECEIVERS_BY_SEVERITY), ids=lambda p: p.parent.name)
def test_every_alert_kind_and_severity_reaches_its_receivers(spec: Path, tmp_path: Path, amtool: str) -> None:
    render_to(spec, tmp_path)
    alerts = {(rule["alert"], rule["labels"]["severity"])
              for path in (tmp_path / "prometheus" / "rules").glob("*.yml")
              for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"] if "alert" in rule}
    assert len({name for name, _ in alerts}) >= 10  # every kind, each at each of its severities
    expected = RECEIVERS_BY_SEVERITY[spec]
    for name, severity in sorted(alerts):
        assert _routes(amtool, tmp_path, f"alertname={name}", f"severity={severity}") == expected[severity], name
