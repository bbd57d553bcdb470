"""The rendered stacks pass the real promtool and amtool, generated rule tests included."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from holystack import load_stack, render_to

from .conftest import CASES, EXAMPLE

SPECS = [EXAMPLE] + sorted(CASES.glob("*/spec.yaml"))


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
        tests = sorted(str(p) for p in (rendered / "prometheus" / "tests").glob("*.yml"))
        done = _run([promtool, "test", "rules", *tests], rendered / "prometheus")
        assert done.returncode != 0
        assert "FAILED" in done.stdout + done.stderr
    finally:
        alerts.write_text(text)


def test_amtool_check_config(rendered: Path, amtool: str) -> None:
    done = _run([amtool, "check-config", "alertmanager.yml"], rendered / "alertmanager")
    assert done.returncode == 0, done.stdout + done.stderr


def _routes(amtool: str, out: Path, *labels: str) -> list[str]:
    done = _run([amtool, "config", "routes", "test", "--config.file=alertmanager/alertmanager.yml", *labels], out)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip().split(",")


def test_routes_of_the_reference_spec(tmp_path: Path, amtool: str) -> None:
    render_to(EXAMPLE, tmp_path)
    stack = load_stack(EXAMPLE)
    assert _routes(amtool, tmp_path, f"alertname={stack.alert_name('TargetDown')}", "severity=critical") \
        == ["oncall", "dingtalk"]
    assert _routes(amtool, tmp_path, f"alertname={stack.alert_name('TimeoutRatioHigh')}", "severity=warning") \
        == ["ops-chat"]
    assert _routes(amtool, tmp_path, f"alertname={stack.alert_name('TokenUsageHigh')}", "severity=info") \
        == ["ops-chat"]
    assert _routes(amtool, tmp_path, f"alertname={stack.alert_name('Watchdog')}", "severity=none") \
        == ["holystack-watchdog"]
