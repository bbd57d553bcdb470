"""The end-to-end tests' LiteLLM stack: the fake upstream, the real LiteLLM
proxy in front of it (litellm_proxy), Prometheus scraping the proxy's /metrics/ with its master key,
Alertmanager; tests/test_e2e_litellm.py sends the traffic through the openai SDK to the proxy.
(`holystack up` runs the proxy through the source's live app, live/apps.py.)"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..model import Stack
from ..pipeline import load_stack
from .litellm_proxy import LitellmProxy, scraped_with_key, upstream_base
from .loopback import LOOPBACK
from .playground import Ports, fast_spec, loopback_spec, start_engine, write_spec
from .scenarios import TrafficProfile
from .traffic import refused_port
from .upstream import FakeUpstreamServer, Upstream


def on_fake_upstream(data: dict[str, Any], upstream_url: str, primary_outage: bool, key_file: Path) -> dict[str, Any]:
    """The spec with every provider's base_url on the fake's prefix (the first provider's on a port
    that refuses connections in primary-outage), so that the deployments' api_base names the spec's
    providers; the first scrape job reads the proxy's /metrics/ with the master key's file."""
    spec = copy.deepcopy(data)
    for index, provider in enumerate(spec["providers"]):
        base = f"http://{LOOPBACK}:{refused_port()}" if primary_outage and index == 0 else upstream_url
        provider["base_url"] = upstream_base(base, provider["name"])
    if primary_outage and not any(edge.get("from") == spec["providers"][0]["name"]
                                  for edge in spec.get("resilience", {}).get("fallbacks", [])):
        raise UsageError(f"--scenario primary-outage: the spec needs a resilience.fallbacks chain from "
                         f"{spec['providers'][0]['name']} (with its models, as LiteLLM's router falls back between "
                         "model groups)")
    return scraped_with_key(spec, key_file)


# The proxy serves its /metrics/ in 0.4 s to over 1 s on two loaded cores (more while it fails over),
# so the fast clock scrapes it every 2 s (the 1 s scrape timeout would drop it), its rate windows
# spanning 4 of those scrapes.
FAST_PROXY_SCRAPE = "2s"
FAST_PROXY_RATE_WINDOW = "8s"
FAST_PROXY_ABSENT_FOR = "4s"  # 2 of its scrapes


def fast_proxy_spec(data: dict[str, Any]) -> dict[str, Any]:
    """playground.fast_spec with the proxy's scrape every FAST_PROXY_SCRAPE."""
    spec = fast_spec(data)
    spec["scrape"]["jobs"][0]["interval"] = FAST_PROXY_SCRAPE
    spec["metrics"]["rate_window"] = FAST_PROXY_RATE_WINDOW
    spec["thresholds"]["metrics_absent"]["for"] = FAST_PROXY_ABSENT_FOR
    return spec


@dataclass
class LitellmStack:
    """The fake upstream, the proxy, and the engine (Prometheus or VictoriaMetrics) with Alertmanager."""

    upstream: FakeUpstreamServer
    proxy: LitellmProxy
    stack: Stack  # the model of the spec as run, on loopback
    spec_path: Path
    engine: Any

    def stop(self) -> None:
        self.engine.stop()
        self.proxy.stop()
        self.upstream.stop()


def start_litellm_stack(data: dict[str, Any], scenario: TrafficProfile, ports: Ports, capture_url: str | None,
                        workdir: Path, fast: bool = True, seed: int = 7, engine: str = "prometheus") -> LitellmStack:
    """Everything started and ready (the proxy within its bounded wait); stop() ends it all."""
    given = load_stack(write_spec(data, workdir / "given.yaml"))
    upstream = FakeUpstreamServer(Upstream(
        scenario, {e.path: given.latency_p95_of(e) or 1.0 for e in given.endpoints},
        client_timeout=min(p.timeout.seconds for p in given.providers), seed=seed)).start()
    proxy = LitellmProxy(workdir / "proxy", port=ports.metrics)
    try:
        local = loopback_spec(on_fake_upstream(data, upstream.url, scenario.primary_outage, proxy.key_file), ports,
                              capture_url)
        spec_path = write_spec(fast_proxy_spec(local) if fast else local, workdir / "litellm.yaml")
        stack = load_stack(spec_path)
        # The proxy starts (10-35 s) while the stack renders and Alertmanager starts; nothing scrapes before it.
        running = start_engine(engine, spec_path, ports, workdir / "engine", fast, lambda: proxy.start(stack))
    except BaseException:
        proxy.stop()
        upstream.stop()
        raise
    return LitellmStack(upstream, proxy, stack, spec_path, running)

