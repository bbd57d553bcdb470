"""End to end on metrics.source litellm, through the real components: the real LiteLLM proxy
(litellm[proxy] 1.106.12, callbacks: ["prometheus"]) in front of holystack's fake upstream, driven by
the official openai SDK; the real Prometheus scrapes its /metrics/ with the master key (the scrape
job's authorization credentials file) and evaluates the rendered rules; the real Alertmanager
routes the alerts to fake receivers on loopback. Without the proxy, the litellm fixture fails these
tests (never skips them), as the servers fixture does without Prometheus or Alertmanager."""
from __future__ import annotations

import copy
import threading
import time
from collections import Counter as Tally
from pathlib import Path
from typing import Any

import pytest

from holystack import load_stack
from holystack.live.capture import CaptureServer
from holystack.live.litellm_proxy import LitellmProxy, send_calls, upstream_base
from holystack.live.playground import Ports, fast_spec, loopback_spec, start_engine, write_spec
from holystack.live.scenarios import SCENARIOS
from holystack.live.traffic import refused_port
from holystack.live.loopback import LOOPBACK
from holystack.live.upstream import FakeUpstreamServer, Upstream
from holystack.spec import read_spec

from .helpers import prom_query, wait_until
from .test_e2e import ALERT_DEADLINE, BACKUP, PREFIX, SPEC, deliveries
from .test_litellm_wire import litellm_spec

pytestmark = pytest.mark.usefixtures("servers", "litellm")

RPS = 20  # as test_e2e's: a 4s rate window holds enough attempts per model
BACKUP_MODEL = "gpt-4.1-mini-backup"
# The proxy takes 10-35 s to start on 2 loaded cores (litellm_proxy.READY_TIMEOUT_SECONDS bounds
# that); from Prometheus' start an alert has twice test_e2e's deadline: the proxy's own work (its
# /metrics/ alone takes 0.4 s here) shares the two cores with the servers.
DEADLINE = 2 * ALERT_DEADLINE
TRAFFIC_SECONDS = DEADLINE + 30  # the calls go on until the alert arrives, or this long


def on_fake(data: dict[str, Any], upstream_url: str, primary_outage: bool) -> dict[str, Any]:
    """The providers on the fake upstream's prefixes; for primary-outage a backup provider and
    LiteLLM's fallback from the chat model's group to its backup group, and the first provider on a
    port that refuses connections. The spec's base_urls are the deployments' api_base, so the
    source tells the providers apart."""
    spec = copy.deepcopy(data)
    first = spec["providers"][0]
    first["base_url"] = upstream_base(upstream_url, first["name"])
    if primary_outage:
        first["base_url"] = upstream_base(f"http://{LOOPBACK}:{refused_port()}", first["name"])
        spec["providers"].append({**first, "name": BACKUP, "base_url": upstream_base(upstream_url, BACKUP)})
        spec["resilience"] = {"fallbacks": [{"from": first["name"], "to": BACKUP,
                                             "models": {"gpt-4.1-mini": BACKUP_MODEL}}]}
    return spec


@pytest.mark.parametrize(("scenario", "kind", "receiver"), [("rate-limit", "RateLimitRatioHigh", "pager"),
                                                            ("primary-outage", "FallbackActive", "chat")])
def test_litellm_proxy_delivers_its_alert(tmp_path: Path, scenario: str, kind: str, receiver: str) -> None:
    capture = CaptureServer().start()
    upstream = FakeUpstreamServer(Upstream(SCENARIOS[scenario], {}, client_timeout=5.0, seed=7)).start()
    ports = Ports.free()
    proxy = LitellmProxy(tmp_path / "proxy", port=ports.metrics)
    data = on_fake(litellm_spec(read_spec(SPEC), proxy.key_file), upstream.url, scenario == "primary-outage")
    spec_path = write_spec(fast_spec(loopback_spec(data, ports, capture.url)), tmp_path / "litellm.yaml")
    stack = load_stack(spec_path)
    stop = threading.Event()
    outcomes: Tally[str] = Tally()
    engine = None
    traffic = None
    try:
        url = proxy.start(stack)
        traffic = threading.Thread(target=lambda: outcomes.update(send_calls(url, proxy.key, stack, RPS, TRAFFIC_SECONDS,
                                                                             stop)))
        traffic.start()
        engine = start_engine("prometheus", spec_path, ports, tmp_path / "work", fast=True)
        started = time.monotonic()
        want = PREFIX + kind

        def delivered() -> bool:
            return any(d.status == "firing" and d.alertname == want and d.receiver == receiver
                       for d in deliveries(capture.notifications))

        assert wait_until(delivered, DEADLINE), (
            f"{want} not delivered to {receiver} in {time.monotonic() - started:.0f}s; got "
            f"{sorted({(d.alertname, d.receiver) for d in deliveries(capture.notifications)})}")
        # Prometheus scraped the proxy with the master key (a scrape without it is a 401: never up; on
        # the fast clock's 1s timeout a loaded machine may miss a scrape) and read it as the contract.
        up = prom_query(engine.prometheus.url, 'max_over_time(up{job="e2e-app"}[1m])')
        assert [r["value"][1] for r in up] == ["1"]
        # The alert names the providers, read from LiteLLM's api_base and the fallback's model groups.
        fired = prom_query(engine.prometheus.url, f'max_over_time(ALERTS{{alertname="{want}", alertstate="firing"}}[2m])')
        if scenario == "primary-outage":  # the calls moved from the first provider to the backup
            assert {(r["metric"]["from_provider"], r["metric"]["to_provider"]) for r in fired} == {("upstream", BACKUP)}
        else:
            assert {r["metric"]["provider"] for r in fired} == {"upstream"}
    finally:
        stop.set()
        if traffic is not None:
            traffic.join(60)
        if engine is not None:
            engine.stop()
        proxy.stop()
        upstream.stop()
        capture.stop()
    assert outcomes, "no call went through the proxy"
    if scenario == "primary-outage":  # the calls succeed through the backup
        assert outcomes["200"] > 0
