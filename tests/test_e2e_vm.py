"""End to end on the scale-out topology, through the real servers of Debian's victoria-metrics:
holystack simulate -> vmagent (the rendered scrape config) -> VictoriaMetrics <- vmalert (the
rendered vmalert rules, recordings written back) -> Alertmanager (rendered routes) -> fake
receivers on loopback. The scenarios and checks are those of test_e2e, on the other engine."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from holystack.live.victoriametrics import PACKAGE, VICTORIAMETRICS, VMAGENT, VMALERT

from .conftest import EXAMPLE
from .helpers import answers, read_until
from .test_e2e import check_dashboards_have_data, check_scenario, live

ENGINE = "victoriametrics"
UP_DEADLINE = 60.0
# MetricsQL's rate() counts a new series from zero, Prometheus' from its first scraped sample: the
# outage's "error" series has its first calls counted at once, its 1h window passes slo.min_calls
# sooner, and the fast burn (every call failing) pages too. A legitimate companion.
MORE_COMPANIONS = {"outage": frozenset({"ErrorBudgetBurn"})}


@pytest.fixture(scope="module", autouse=True)
def victoriametrics_binaries(servers: None) -> None:
    """VictoriaMetrics, vmagent and vmalert must be installed: fail, never skip."""
    missing = [b for b in (VICTORIAMETRICS, VMAGENT, VMALERT) if shutil.which(b) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed; install the Debian package {PACKAGE} (scripts/setup does)")


@pytest.mark.parametrize("scenario", ["rate-limit", "outage"])
def test_scenario_alert_reaches_its_receiver_through_vmalert(tmp_path: Path, scenario: str) -> None:
    with live(tmp_path, scenario, ENGINE) as run:
        check_scenario(run, scenario, MORE_COMPANIONS.get(scenario, frozenset()))


def test_every_dashboard_target_has_data_in_victoriametrics_in_mixed(tmp_path: Path) -> None:
    with live(tmp_path, "mixed", ENGINE) as run:
        check_dashboards_have_data(run)
        # Every rendered rule evaluates on VictoriaMetrics without an error (MetricsQL reads them all).
        with urllib.request.urlopen(f"{run.stack.vmalert.url}/api/v1/rules", timeout=10) as response:
            groups = json.load(response)["data"]["groups"]
        rules = [(group["name"], rule["name"], rule.get("lastError", "")) for group in groups for rule in group["rules"]]
        assert len(rules) >= 50, rules
        assert [r for r in rules if r[2]] == []


def test_up_with_the_victoriametrics_engine_as_the_readme_runs_it(tmp_path: Path) -> None:
    """`holystack up --engine victoriametrics`: an alert reaches its receiver; Ctrl-C stops every server."""
    process = subprocess.Popen([sys.executable, "-m", "holystack", "up", str(EXAMPLE), "--engine", ENGINE,
                                "--scenario", "rate-limit", "--workdir", str(tmp_path)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    expected = "-> oncall: firing HolySheepRateLimitRatioHigh (critical)"
    urls: list[str] = []
    try:
        output = read_until(process, expected, UP_DEADLINE)
        assert expected in output, output
        urls = [re.search(rf"{name}\s+(http://127\.0\.0\.1:\d+)", output)[1]
                for name in ("VictoriaMetrics", "vmagent", "vmalert", "Alertmanager")]
        assert all(answers(f"{url}/health") or answers(f"{url}/-/ready") for url in urls)
    finally:
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output + rest
    assert not any(answers(f"{url}/health") or answers(f"{url}/-/ready") for url in urls)
    assert (tmp_path / "out" / "vmalert").is_dir()
