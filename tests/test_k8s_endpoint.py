"""The `endpoint` label trap of prometheus-operator, proven on a real Prometheus.

prometheus-operator gives every ServiceMonitor and PodMonitor target the label endpoint=<port name>. Prometheus
then renames a scraped series' own `endpoint` (the contract's API path) to exported_endpoint,
unless honor_labels is set or the relabelings drop the target label. Every rule, alert and panel
reads `endpoint`, so they would all silently stop matching.

The test renders the scrape config prometheus-operator generates for a monitor's endpoint
(its target labels, then the monitor's own relabelings, honorLabels and metricRelabelings) with a
static target on loopback, and lets a real Prometheus scrape `holystack simulate` (one for the
module) with it: once with the ServiceMonitor holystack renders, once with the same monitor
stripped of its fix, which must show the trap (so the check can fail)."""
from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from holystack.live.servers import free_port, start_prometheus
from holystack.model import build_model
from holystack.render.kubernetes import OPERATOR_PORT_LABEL, monitors
from holystack.spec import check_spec_text

from .helpers import Simulator, prom_query, wait_until

SPEC = Path(__file__).parent / "e2e" / "spec.yaml"
NAMESPACE = "llm"
SERVICE = "gateway"          # the Service (and Pod) the monitor selects
PORT_NAME = "http-metrics"   # the metrics port's name: what operator puts into `endpoint`

pytestmark = pytest.mark.usefixtures("servers")
SCRAPED_DEADLINE = 30.0  # seconds for Prometheus to have scraped both jobs (ends as soon as it has)


@pytest.fixture(scope="module")
def target() -> Iterator[str]:
    """`holystack simulate` (healthy) on a loopback port, for every monitor kind: each test's
    Prometheus only reads it."""
    simulator = Simulator(SPEC, free_port(), rps=20).start()
    try:
        yield f"127.0.0.1:{simulator.port}"
    finally:
        simulator.stop()


def _snake(relabeling: dict[str, Any]) -> dict[str, Any]:
    """A prometheus-operator RelabelConfig (camelCase) as Prometheus' relabel_config."""
    out = {re.sub(r"(?<!^)([A-Z])", r"_\1", key).lower(): value for key, value in relabeling.items()}
    if "action" in out:
        out["action"] = out["action"].lower()
    return out


ENDPOINTS_KEY = {"ServiceMonitor": "endpoints", "PodMonitor": "podMetricsEndpoints"}


def operator_job(monitor: dict[str, Any]) -> str:
    """The job label prometheus-operator gives a target: the Service's name for a ServiceMonitor,
    <namespace>/<PodMonitor name> for a PodMonitor."""
    if monitor["kind"] == "ServiceMonitor":
        return SERVICE
    return f"{NAMESPACE}/{monitor['metadata']['name']}"


def operator_scrape_config(monitor: dict[str, Any], target: str, job_name: str) -> dict[str, Any]:
    """What prometheus-operator generates for the monitor's first endpoint, for one discovered
    target: the target labels it sets from service discovery (namespace, service for a
    ServiceMonitor, pod, container, endpoint = port name, job), then the monitor's relabelings;
    honorLabels and metricRelabelings as given."""
    endpoint = monitor["spec"][ENDPOINTS_KEY[monitor["kind"]]][0]
    operator_labels = {"namespace": NAMESPACE, "pod": f"{SERVICE}-0", "container": SERVICE,
                       OPERATOR_PORT_LABEL: endpoint["port"], "job": operator_job(monitor)}
    if monitor["kind"] == "ServiceMonitor":
        operator_labels["service"] = SERVICE
    relabel = [{"target_label": label, "replacement": value} for label, value in operator_labels.items()]
    relabel += [_snake(r) for r in endpoint.get("relabelings", [])]
    config = {"job_name": job_name, "honor_labels": endpoint.get("honorLabels", False),
              "scrape_interval": "1s", "scrape_timeout": "1s",
              "metrics_path": endpoint["path"], "scheme": endpoint["scheme"],
              "static_configs": [{"targets": [target]}], "relabel_configs": relabel}
    if endpoint.get("metricRelabelings"):
        config["metric_relabel_configs"] = [_snake(r) for r in endpoint["metricRelabelings"]]
    return config


def rendered_monitor(kind: str) -> tuple[dict[str, Any], list[str]]:
    """The monitor holystack renders for the e2e spec's job, and the spec's endpoint paths."""
    data = yaml.safe_load(SPEC.read_text())
    data["kubernetes"] = {"namespace": NAMESPACE, "port": PORT_NAME, "monitor": kind}
    stack = build_model(check_spec_text(yaml.safe_dump(data), "k8s.yaml"), "k8s.yaml")
    (monitor,) = monitors(stack, stack.scale_out.kubernetes).values()
    return monitor, [e.path for e in stack.endpoints]


@pytest.mark.parametrize("kind", list(ENDPOINTS_KEY))
def test_the_contract_endpoint_label_survives_operator_relabeling(tmp_path: Path, target: str, kind: str) -> None:
    monitor, paths = rendered_monitor(kind)
    key = ENDPOINTS_KEY[kind]
    job = monitor["spec"][key][0]["relabelings"][0]["replacement"]
    unfixed = copy.deepcopy(monitor)
    del unfixed["spec"][key][0]["relabelings"]  # a monitor as usually written
    trap_job = operator_job(unfixed)
    prometheus_port = free_port()
    config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
              "scrape_configs": [operator_scrape_config(monitor, target, "fixed"),
                                 operator_scrape_config(unfixed, target, "unfixed")]}
    config_path = tmp_path / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config))
    prometheus = None
    try:
        prometheus = start_prometheus(config_path, prometheus_port, tmp_path / "work").wait_ready()
        query = "count by (job, endpoint, exported_endpoint) (e2e_requests_total)"

        def both_scraped() -> list[dict]:
            found = prom_query(prometheus.url, query)
            jobs = {series["metric"].get("job") for series in found}
            return found if {job, trap_job} <= jobs else []

        assert wait_until(both_scraped, SCRAPED_DEADLINE), \
            f"Prometheus did not scrape both jobs: {prom_query(prometheus.url, query)}"
        series = [s["metric"] for s in both_scraped()]
    finally:
        if prometheus is not None:
            prometheus.stop()

    fixed = [s for s in series if s["job"] == job]
    # Without the fix the job label is operator's default.
    trapped = [s for s in series if s["job"] == trap_job]
    # holystack's monitor: the contract's endpoint intact, the spec's job name, nothing renamed.
    assert {s.get("endpoint") for s in fixed} == set(paths), fixed
    assert not any("exported_endpoint" in s for s in fixed), fixed
    # The same monitor without its relabelings falls into the trap: this is what the check catches.
    assert {s.get("endpoint") for s in trapped} == {PORT_NAME}, trapped
    assert {s.get("exported_endpoint") for s in trapped} == set(paths), trapped
