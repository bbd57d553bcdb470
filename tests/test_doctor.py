"""`holystack doctor` live, on the real Prometheus and Alertmanager fed by `holystack simulate`: the
healthy stack gives exit 0; each fault, injected one at a time (by a reload where the servers allow
it, so they start once per module), gives exit 1 and a finding naming it; the stack is healthy again
after each fault is repaired."""
from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from holystack.doctor import Report, doctor
from holystack.live.capture import CaptureServer
from holystack.live.playground import FAST_RESEND_DELAY, Ports, fast_spec, loopback_spec, write_spec
from holystack.live.servers import Server, free_port, start_alertmanager, start_prometheus
from holystack.pipeline import load_stack, render_to
from holystack.layout import ALERTMANAGER_CONFIG, ALERTMANAGER_DIR, PROMETHEUS_CONFIG, PROMETHEUS_DIR
from holystack.render.prometheus import retention

from holystack.spec import read_spec

from .helpers import Simulator, doctor_finding, doctor_healthy

pytestmark = pytest.mark.usefixtures("servers")
SPEC = Path(__file__).parent / "e2e" / "spec.yaml"
DEADLINE = 60.0  # seconds for a fault (or its repair) to show in the servers' APIs
TIMEOUT = 10.0   # seconds each of doctor's requests may take
UNKNOWN_MODEL = "gpt-9-mystery"
LIFECYCLE = "--web.enable-lifecycle"  # POST /-/reload


@dataclass
class Stack:
    """Prometheus and Alertmanager on copies of OUT's configs (the faults edit the copies), fed by simulate."""

    root: Path
    spec: Path
    out: Path
    ports: Ports
    prometheus_yml: Path
    alertmanager_yml: Path
    prometheus: Server
    alertmanager: Server
    simulator: Simulator
    pristine: dict[Path, str] = field(default_factory=dict)

    @property
    def prometheus_url(self) -> str:
        return self.prometheus.url

    @property
    def alertmanager_url(self) -> str:
        return self.alertmanager.url

    def check(self, prometheus_url: str | None = None) -> Report:
        return doctor(self.spec, self.out, prometheus_url or self.prometheus_url, self.alertmanager_url, TIMEOUT)

    def edit(self, path: Path, change: Callable[[dict[str, Any]], None]) -> None:
        self.pristine.setdefault(path, path.read_text("utf-8"))
        config = yaml.safe_load(path.read_text("utf-8"))
        change(config)
        path.write_text(yaml.safe_dump(config, sort_keys=False), "utf-8")
        self.reload(path)

    def restore(self) -> None:
        for path, text in self.pristine.items():
            path.write_text(text, "utf-8")
            self.reload(path)
        self.pristine.clear()

    def reload(self, path: Path) -> None:
        server = self.prometheus if path == self.prometheus_yml else self.alertmanager
        request = urllib.request.Request(f"{server.url}/-/reload", method="POST")
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            assert response.status == 200


def _start_prometheus(stack_root: Path, config: Path, port: int, keep: str, name: str) -> Server:
    return start_prometheus(config, port, stack_root / name, FAST_RESEND_DELAY, keep, [LIFECYCLE]).wait_ready()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("doctor")
    capture = CaptureServer().start()
    ports = Ports.free()
    spec = write_spec(fast_spec(loopback_spec(read_spec(SPEC), ports, capture.url)), root / "spec.yaml")
    out = root / "out"
    render_to(spec, out)
    # The servers read copies the faults edit; doctor compares them with OUT, which stays as rendered.
    prometheus_yml = root / "prometheus" / PROMETHEUS_CONFIG
    prometheus_yml.parent.mkdir()
    config = yaml.safe_load((out / PROMETHEUS_DIR / PROMETHEUS_CONFIG).read_text("utf-8"))
    config["rule_files"] = [str((out / PROMETHEUS_DIR / name).resolve()) for name in config["rule_files"]]
    prometheus_yml.write_text(yaml.safe_dump(config, sort_keys=False), "utf-8")
    shutil.copytree(out / ALERTMANAGER_DIR, root / "alertmanager")
    alertmanager_yml = root / "alertmanager" / ALERTMANAGER_CONFIG
    keep = str(retention(load_stack(spec)))
    alertmanager = start_alertmanager(alertmanager_yml, ports.alertmanager, root / "am").wait_ready()
    prometheus = None
    simulator = Simulator(spec, ports.metrics)
    running = Stack(root, spec, out, ports, prometheus_yml, alertmanager_yml, alertmanager, alertmanager, simulator)
    try:
        running.prometheus = prometheus = _start_prometheus(root, prometheus_yml, ports.prometheus, keep, "prom")
        simulator.start()
        yield running
    finally:
        simulator.stop()
        for server in (prometheus, running.alertmanager):
            if server is not None:
                server.stop()
        capture.stop()


def healthy(stack: Stack) -> Report:
    return doctor_healthy(stack.check, DEADLINE)


def finding(stack: Stack, area: str, *words: str, prometheus_url: str | None = None) -> str:
    return doctor_finding(lambda: stack.check(prometheus_url), DEADLINE, area, *words)


def cli(stack: Stack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "holystack", "doctor", str(stack.spec), "-o", str(stack.out), *args],
                          capture_output=True, text=True, timeout=120)


def test_a_healthy_stack_exits_0(stack: Stack) -> None:
    report = healthy(stack)
    assert any("Watchdog reaches" in line for line in report.healthy), report.healthy
    done = cli(stack, "--prometheus", stack.prometheus_url, "--alertmanager", stack.alertmanager_url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("healthy: "), done.stdout
    done = cli(stack, "--prometheus", stack.prometheus_url, "--alertmanager", stack.alertmanager_url,
               "--format", "json")
    assert done.returncode == 0 and json.loads(done.stdout)["ok"] is True, done.stdout + done.stderr


def test_started_without_rule_files(stack: Stack) -> None:
    stack.edit(stack.prometheus_yml, lambda config: config.pop("rule_files"))
    try:
        line = finding(stack, "rules", "none of the", "rule groups of out/ is loaded")
        assert "rule_files" in line
        done = cli(stack, "--prometheus", stack.prometheus_url, "--alertmanager", stack.alertmanager_url)
        assert done.returncode == 1 and "rules: none of the" in done.stdout, done.stdout + done.stderr
        assert all(": " in row and "fix: " in row for row in done.stdout.splitlines())
        done = cli(stack, "--prometheus", stack.prometheus_url, "--alertmanager", stack.alertmanager_url,
                   "--format", "json")
        report = json.loads(done.stdout)
        assert done.returncode == 1 and report["ok"] is False, done.stdout + done.stderr
        rules = [f for f in report["findings"] if f["area"] == "rules"]
        assert rules and set(rules[0]) == {"area", "problem", "evidence", "fix"}, report
    finally:
        stack.restore()
    healthy(stack)


def _stale_copy(stack: Stack, config: dict[str, Any]) -> None:
    """The alerts group loaded from an old copy (another threshold), and an old group left loaded."""
    alerts = next(path for path in config["rule_files"] if path.endswith("-alerts.yml"))
    rules = yaml.safe_load(Path(alerts).read_text("utf-8"))
    old = copy.deepcopy(rules)
    target = next(rule for rule in old["groups"][0]["rules"] if "10000000" not in rule["expr"] and ">" in rule["expr"])
    target["expr"] = target["expr"].replace(">", "> 0.5 *", 1)
    renamed = copy.deepcopy(rules["groups"][0])
    renamed["name"] = f"{renamed['name']}-old"
    old["groups"].append(renamed)
    copy_path = stack.root / "prometheus" / "old-alerts.yml"
    copy_path.write_text(yaml.safe_dump(old, sort_keys=False), "utf-8")
    config["rule_files"] = [str(copy_path) if path == alerts else path for path in config["rule_files"]]


def test_a_stale_copy_of_a_rule(stack: Stack) -> None:
    stack.edit(stack.prometheus_yml, lambda config: _stale_copy(stack, config))
    try:
        assert "expr is" in finding(stack, "rules", "rule group e2e-alerts differs from out/", "old-alerts.yml")
        assert "copies of" in finding(stack, "rules", "stale rule group e2e-alerts-old is loaded")
    finally:
        stack.restore()
    healthy(stack)


def test_the_app_stopped(stack: Stack) -> None:
    stack.simulator.stop()
    try:
        # stop() returns once the app has exited, so every later scrape is refused; a scrape while it
        # stopped may have ended in a reset or an EOF, shown until the next scrape.
        line = finding(stack, "targets", "of job e2e-app is down", "connection refused")
        assert "connection refused" in line, line
    finally:
        stack.simulator.start()
    healthy(stack)


def _operator_target_label(config: dict[str, Any]) -> None:
    """What prometheus-operator does: a target label endpoint (the port's name), so the app's becomes exported_endpoint."""
    job = next(job for job in config["scrape_configs"] if job["job_name"] == "e2e-app")
    job["static_configs"][0]["labels"] = {"endpoint": "http-metrics"}


def test_the_apps_series_with_exported_endpoint(stack: Stack) -> None:
    stack.edit(stack.prometheus_yml, _operator_target_label)
    try:
        line = finding(stack, "wire", "series carry exported_endpoint instead of endpoint")
        assert "honor_labels: true" in line, line
    finally:
        stack.restore()
    healthy(stack)


def test_alertmanager_stopped(stack: Stack) -> None:
    stack.alertmanager.stop()
    try:
        line = finding(stack, "alertmanager", f"Alertmanager at {stack.alertmanager_url} is not reachable")
        assert "Connection refused" in line, line
    finally:
        stack.alertmanager = start_alertmanager(stack.alertmanager_yml, stack.ports.alertmanager,
                                                stack.root / "am").wait_ready()
    healthy(stack)


def test_prometheus_sending_to_another_alertmanager(stack: Stack) -> None:
    elsewhere = f"127.0.0.1:{free_port()}"
    stack.edit(stack.prometheus_yml, lambda config: config["alerting"]["alertmanagers"][0].update(
        static_configs=[{"targets": [elsewhere]}]))
    try:
        line = finding(stack, "alertmanager", f"alerts are not sent to 127.0.0.1:{stack.ports.alertmanager}",
                       f"/api/v1/alertmanagers: active {elsewhere}")
        assert "reload Prometheus" in line, line
    finally:
        stack.restore()
    healthy(stack)


def test_a_different_alertmanager_config(stack: Stack) -> None:
    stack.edit(stack.alertmanager_yml, lambda config: config["route"].update(repeat_interval="3h"))
    try:
        line = finding(stack, "alertmanager", "Alertmanager runs another configuration than out/alertmanager/")
        assert "route.repeat_interval: '3h', OUT has '1h'" in line, line
    finally:
        stack.restore()
    healthy(stack)


def test_short_retention(stack: Stack) -> None:
    """Retention is a flag: a second Prometheus on the same config, told to keep a day."""
    short = _start_prometheus(stack.root, stack.prometheus_yml, free_port(), "1d", "prom-short")
    try:
        line = finding(stack, "prometheus", f"retention 1d is shorter than the {retention(load_stack(stack.spec))} the rules read",
                       prometheus_url=short.url)
        assert f"--storage.tsdb.retention.time={retention(load_stack(stack.spec))}" in line, line
    finally:
        short.stop()


def test_unknown_models(stack: Stack) -> None:
    """The app calls a model the spec does not list: its calls are named, with the fix."""
    other = read_spec(stack.spec)
    other["models"][0]["name"] = UNKNOWN_MODEL
    stack.simulator.stop()
    stack.simulator.start(write_spec(other, stack.root / "other-models.yaml"))
    try:
        line = finding(stack, "wire", "of calls of job e2e-app are on models outside the spec", UNKNOWN_MODEL)
        assert f"add the models the app uses to the spec's models ({UNKNOWN_MODEL}" in line, line
    finally:
        stack.simulator.stop()
        stack.simulator.start()
    healthy(stack)


# An app that records its calls itself, with holystack.instrument, to a model the spec does not list.
FOLDING_APP = """
import sys, time
from holystack.instrument import Instrument, serve
instrument = Instrument.from_spec(sys.argv[1])
serve(int(sys.argv[2]))
provider, endpoint = sorted(instrument.providers)[0], sorted(instrument.endpoints)[0]
while True:
    instrument.record_call(provider=provider, endpoint=endpoint, model=sys.argv[3], status=200, seconds=0.1)
    time.sleep(0.05)
"""


def test_unknown_models_folded_into_other(stack: Stack) -> None:
    """holystack.instrument folds a model outside the spec into model="other": the share is named,
    and the fix says that the raw names are not on the wire."""
    stack.simulator.stop()
    app = subprocess.Popen([sys.executable, "-c", FOLDING_APP, str(stack.spec), str(stack.ports.metrics), UNKNOWN_MODEL],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        line = finding(stack, "wire", "of calls of job e2e-app are on models outside the spec", "other 100%")
        assert 'the app folds them into model="other"' in line, line
    finally:
        app.terminate()
        app.wait(20)
        stack.simulator.start()
    healthy(stack)


def test_an_unreachable_url_is_a_finding_not_a_traceback(stack: Stack) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    done = cli(stack, "--prometheus", nowhere, "--alertmanager", nowhere, "--timeout", "2")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        line for line in done.stdout.splitlines() if line.startswith(("prometheus: Prometheus at", "alertmanager: "))]
    assert len(done.stdout.splitlines()) == 2, done.stdout


@pytest.mark.parametrize("args, message", [
    (["--prometheus", "localhost:9090"], "--prometheus: 'localhost:9090' is not an http:// or https:// URL"),
    (["--prometheus", "http://127.0.0.1:1", "--format", "xml"], "--format 'xml' is not one of table, json"),
    (["--prometheus", "http://127.0.0.1:1", "--timeout", "0"], "--timeout: 0 must be more than 0 seconds"),
])
def test_bad_usage_exits_2(stack: Stack, args: list[str], message: str) -> None:
    done = cli(stack, *args)
    assert done.returncode == 2 and message in done.stderr, done.stdout + done.stderr


def test_a_bad_spec_exits_2_before_any_request(stack: Stack, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(stack.spec.read_text("utf-8").replace("version: 1", "version: 7", 1), "utf-8")
    done = subprocess.run([sys.executable, "-m", "holystack", "doctor", str(bad), "-o", str(stack.out),
                           "--prometheus", stack.prometheus_url], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "version" in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert done.stdout == ""


def test_expressions_compare_parsed_not_as_text() -> None:
    """Prometheus prints 10000000 as 1e+07 and sorts matchers; neither is a difference."""
    from holystack.doctor.rules import canonical

    assert canonical('sum(x{b="1", a="2"}) > 10000000') == canonical('sum(x{a="2",b="1"}) > 1e+07')
    assert canonical('sum(x{a="2"}) > 10000000') != canonical('sum(x{a="2"}) > 1e+06')


def test_alertmanager_defaults_are_not_differences() -> None:
    """config.original is the parsed config written out again: keys OUT does not set are defaults."""
    from holystack.doctor.alertmanager import differences

    wanted = {"route": {"receiver": "a", "repeat_interval": "1h"}, "templates": ["templates/x.tmpl"]}
    loaded = {"global": {"resolve_timeout": "5m"}, "route": {"receiver": "a", "repeat_interval": "1h", "group_by": None},
              "templates": ["/etc/am/templates/x.tmpl"]}
    assert differences(loaded, wanted) == []
    assert differences({**loaded, "route": {"receiver": "b", "repeat_interval": "1h"}}, wanted) == [
        "route.receiver: 'b', OUT has 'a'"]


def test_a_group_outlasting_its_interval_misses_evaluations() -> None:
    """The group fields of /api/v1/rules and the counters of Prometheus' /metrics, as they read."""
    from holystack.doctor.rules import missed_findings

    metrics = ('prometheus_rule_group_iterations_missed_total{rule_group="/r/e2e-slo.yml;e2e-slo-long"} 12\n'
               'prometheus_rule_group_iterations_total{rule_group="/r/e2e-slo.yml;e2e-slo-long"} 40\n')
    groups = [{"name": "e2e-slo-long", "interval": 4, "evaluationTime": 5.5},
              {"name": "e2e-slo", "interval": 1, "evaluationTime": 0.02}]
    [found] = missed_findings(groups, metrics)
    assert found.problem == "rule group e2e-slo-long misses evaluations"
    assert "took 5.50s, its interval is 4s; prometheus_rule_group_iterations_missed_total=12 of 40" in found.evidence
