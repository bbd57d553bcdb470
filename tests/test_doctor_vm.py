"""`holystack doctor` live on the scale-out topology (Debian's victoria-metrics): vmagent ->
VictoriaMetrics <- vmalert -> Alertmanager, fed by `holystack simulate`. The same checks read
VictoriaMetrics' query API, vmalert's rules and alerts, vmagent's targets; retention comes from
VictoriaMetrics' /flags and the notifiers from vmalert's. Servers start once for the module."""
from __future__ import annotations

import shutil
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from holystack.doctor import Report, doctor
from holystack.live.capture import CaptureServer
from holystack.live.playground import Ports, fast_spec, loopback_spec, start_engine, vm_spec, write_spec
from holystack.live.servers import free_port
from holystack.live.victoriametrics import PACKAGE, VICTORIAMETRICS, VMAGENT, VMALERT, start_victoriametrics
from holystack.pipeline import load_stack, render_to
from holystack.render.prometheus import retention
from holystack.render.rulers import VMALERT_DIR
from holystack.spec import read_spec

from .helpers import Simulator, doctor_finding, doctor_healthy

SPEC = Path(__file__).parent / "e2e" / "spec.yaml"
DEADLINE = 60.0
TIMEOUT = 10.0


@pytest.fixture(scope="module", autouse=True)
def victoriametrics_binaries(servers: None) -> None:
    missing = [b for b in (VICTORIAMETRICS, VMAGENT, VMALERT) if shutil.which(b) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed; install the Debian package {PACKAGE} (scripts/setup does)")


@dataclass
class VmStack:
    root: Path
    spec: Path
    out: Path  # what doctor compares with; the servers read their own render, which the faults edit
    running: Any
    simulator: Simulator

    def check(self, prometheus_url: str | None = None) -> Report:
        return doctor(self.spec, self.out, prometheus_url or self.running.prometheus.url,
                      self.running.alertmanager.url, TIMEOUT, self.running.vmalert.url, self.running.vmagent.url)

    def reload_vmalert(self) -> None:
        with urllib.request.urlopen(f"{self.running.vmalert.url}/-/reload", timeout=TIMEOUT) as response:
            assert response.status == 200


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VmStack]:
    root = tmp_path_factory.mktemp("doctor-vm")
    capture = CaptureServer().start()
    ports = Ports.free()
    spec = write_spec(vm_spec(fast_spec(loopback_spec(read_spec(SPEC), ports, capture.url))), root / "spec.yaml")
    out = root / "out"
    render_to(spec, out)
    vm = VmStack(root, spec, out, None, Simulator(spec, ports.metrics))
    try:
        vm.simulator.start()
        vm.running = start_engine("victoriametrics", spec, ports, root / "work", fast=True)
        yield vm
    finally:
        vm.simulator.stop()
        if vm.running is not None:
            vm.running.stop()
        capture.stop()


def healthy(stack: VmStack) -> Report:
    return doctor_healthy(stack.check, DEADLINE)


def finding(stack: VmStack, area: str, *words: str, prometheus_url: str | None = None) -> str:
    return doctor_finding(lambda: stack.check(prometheus_url), DEADLINE, area, *words)


def test_a_healthy_vm_stack_has_no_finding(stack: VmStack) -> None:
    report = healthy(stack)
    assert any("VictoriaMetrics" in line for line in report.healthy), report.healthy
    assert any("alerts are sent to the spec's Alertmanagers" in line for line in report.healthy)
    assert report.unchecked == ("missed rule evaluations: vmalert 1.79 exports no missed-iteration counter",)


def test_a_stale_copy_of_a_rule_in_vmalert(stack: VmStack) -> None:
    alerts = next((stack.running.out / VMALERT_DIR).glob("*-alerts.yml"))
    pristine = alerts.read_text("utf-8")
    alerts.write_text(pristine.replace("> 0.02", "> 0.5", 1), "utf-8")
    try:
        stack.reload_vmalert()
        line = finding(stack, "rules", "rule group e2e-alerts differs from out/")
        assert "> 0.5" in line, line
    finally:
        alerts.write_text(pristine, "utf-8")
        stack.reload_vmalert()
    healthy(stack)


def test_the_app_stopped_in_vmagents_targets(stack: VmStack) -> None:
    stack.simulator.stop()
    try:
        # stop() returns once the app has exited, so every later scrape is refused; a scrape while it
        # stopped may have ended in a reset or an EOF, shown until the next scrape.
        line = finding(stack, "targets", "of job e2e-app is down", "connection refused")
        assert "connection refused" in line, line
    finally:
        stack.simulator.start()
    healthy(stack)


def test_short_retention_of_victoriametrics(stack: VmStack) -> None:
    """-retentionPeriod is a flag: a second VictoriaMetrics, told to keep a day."""
    short = start_victoriametrics(free_port(), stack.root / "vm-short", True, "1d")
    try:
        short.wait_ready()
        line = finding(stack, "prometheus", f"retention 1d is shorter than the {retention(load_stack(stack.spec))} the rules read",
                       prometheus_url=short.url)
        assert f"-retentionPeriod={retention(load_stack(stack.spec))}" in line, line
    finally:
        short.stop()
