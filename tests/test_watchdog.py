"""The Watchdog reaches the dead man's switch the spec names (alerting.watchdog), and a receiver
that does nothing when it names none: with amtool, and live through Prometheus and Alertmanager."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from holystack import render_to
from holystack.defaults import WATCHDOG_RECEIVER
from holystack.errors import SpecError
from holystack.spec import check_spec_text

from .conftest import EXAMPLE

DEADMAN = ("    - name: dingtalk\n",
           "    - name: deadman\n      webhook: {url: http://heartbeat.example.com/ping}\n    - name: dingtalk\n")


def _spec(tmp_path: Path, watchdog: str) -> Path:
    text = EXAMPLE.read_text("utf-8").replace(*DEADMAN).replace(
        "  default_receiver: ops-chat\n", f"  default_receiver: ops-chat\n{watchdog}")
    spec = tmp_path / "spec.yaml"
    spec.write_text(text, "utf-8")
    return spec


def _route(amtool: str, out: Path, *labels: str) -> str:
    done = subprocess.run([amtool, "config", "routes", "test", "--config.file=alertmanager/alertmanager.yml", *labels],
                          cwd=out, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


def test_watchdog_reaches_the_configured_dead_mans_switch(tmp_path: Path, amtool: str) -> None:
    out = tmp_path / "out"
    render_to(_spec(tmp_path, "  watchdog: {receiver: deadman, repeat_interval: 2m}\n"), out)
    assert _route(amtool, out, "alertname=HolySheepWatchdog", "severity=none") == "deadman"
    assert _route(amtool, out, "alertname=HolySheepRateLimitRatioHigh", "severity=warning") == "ops-chat"
    config = yaml.safe_load((out / "alertmanager" / "alertmanager.yml").read_text())
    watchdog = config["route"]["routes"][0]
    assert (watchdog["group_wait"], watchdog["group_interval"], watchdog["repeat_interval"]) == ("0s", "2m", "2m")


def test_watchdog_goes_nowhere_by_default(tmp_path: Path, amtool: str) -> None:
    out = tmp_path / "out"
    render_to(_spec(tmp_path, ""), out)
    assert _route(amtool, out, "alertname=HolySheepWatchdog", "severity=none") == WATCHDOG_RECEIVER


def test_watchdog_receiver_must_be_defined() -> None:
    text = EXAMPLE.read_text("utf-8").replace(
        "  default_receiver: ops-chat\n", "  default_receiver: ops-chat\n  watchdog: {receiver: nobody}\n")
    with pytest.raises(SpecError, match=r"alerting.watchdog.receiver: 'nobody' is not a defined receiver"):
        check_spec_text(text, "spec.yaml")
