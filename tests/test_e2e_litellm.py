"""End to end on metrics.source litellm, through the real components: the real LiteLLM proxy
(litellm[proxy] 1.106.12, callbacks: ["prometheus"]) in front of holystack's fake upstream, driven by
the official openai SDK; the real Prometheus scrapes its /metrics/ with the master key (the scrape
job's authorization credentials file) and evaluates the rendered rules; the real Alertmanager
routes the alerts to fake receivers on loopback. Without the proxy, the litellm fixture fails these
tests (never skips them), as the servers fixture does without Prometheus or Alertmanager."""
from __future__ import annotations

import copy
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter as Tally
from pathlib import Path
from typing import Any

import pytest

from holystack.live.capture import CaptureServer
from holystack.live.litellm_proxy import READY_TIMEOUT_SECONDS, send_calls
from holystack.live.litellm_up import start_litellm_stack
from holystack.live.playground import Ports
from holystack.live.scenarios import SCENARIOS
from holystack.spec import read_spec

from .conftest import CASES
from .helpers import PROXY_UP_STOP_SECONDS, answers, prom_query, read_until, wait_until
from .test_e2e import ALERT_DEADLINE, BACKUP, PREFIX, SPEC, deliveries
from .test_litellm_wire import litellm_spec

pytestmark = pytest.mark.usefixtures("servers", "litellm")

RPS = 10  # the rate windows of 8s (litellm_up.FAST_PROXY_RATE_WINDOW) hold 40 attempts per model
BACKUP_MODEL = "gpt-4.1-mini-backup"
# The proxy takes 10-35 s to start on 2 loaded cores (litellm_proxy.READY_TIMEOUT_SECONDS bounds
# that); from Prometheus' start an alert has twice test_e2e's deadline: the proxy's own work (its
# /metrics/ alone takes 0.4 s here) shares the two cores with the servers.
DEADLINE = 2 * ALERT_DEADLINE
TRAFFIC_SECONDS = DEADLINE + 30  # the calls go on until the alert arrives, or this long


def with_backup(data: dict[str, Any]) -> dict[str, Any]:
    """For primary-outage: a backup provider and LiteLLM's fallback from the chat model's group to its
    backup group (on_fake_upstream puts the first provider on a refused port)."""
    spec = copy.deepcopy(data)
    first = spec["providers"][0]
    spec["providers"].append({**first, "name": BACKUP})
    spec["resilience"] = {"fallbacks": [{"from": first["name"], "to": BACKUP, "models": {"gpt-4.1-mini": BACKUP_MODEL}}]}
    return spec


@pytest.mark.parametrize(("scenario", "kind", "receiver"), [("rate-limit", "RateLimitRatioHigh", "pager"),
                                                            ("primary-outage", "FallbackActive", "chat")])
def test_litellm_proxy_delivers_its_alert(tmp_path: Path, scenario: str, kind: str, receiver: str) -> None:
    capture = CaptureServer().start()
    data = litellm_spec(read_spec(SPEC))
    data = with_backup(data) if scenario == "primary-outage" else data
    stop = threading.Event()
    outcomes: Tally[str] = Tally()
    running = None
    traffic = None
    try:
        running = start_litellm_stack(data, SCENARIOS[scenario], Ports.free(), capture.url, tmp_path)
        proxy, engine = running.proxy, running.engine
        traffic = threading.Thread(target=lambda: outcomes.update(
            send_calls(proxy.url, proxy.key, running.stack, RPS, TRAFFIC_SECONDS, stop)))
        traffic.start()
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
        if running is not None:
            running.stop()
        capture.stop()
    assert outcomes, "no call went through the proxy"
    if scenario == "primary-outage":  # the calls succeed through the backup
        assert outcomes["200"] > 0


def test_up_runs_a_litellm_spec_through_the_real_proxy(tmp_path: Path) -> None:
    """`holystack up` on a spec on metrics.source litellm (the golden case's): the fake upstream,
    the proxy, Prometheus scraping it with the master key; an alert reaches its receiver; Ctrl-C
    stops every server."""
    process = subprocess.Popen([sys.executable, "-m", "holystack", "up", str(CASES / "litellm" / "spec.yaml"),
                                "--scenario", "rate-limit", "--workdir", str(tmp_path)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    expected = "-> oncall: firing HolySheepRateLimitRatioHigh (critical)"
    output, rest, urls = "", "", []
    try:
        output = read_until(process, expected, READY_TIMEOUT_SECONDS + DEADLINE)
        assert expected in output, output
        urls = [re.search(rf"{name}\s+(http://127\.0\.0\.1:\d+)", output)[1]
                for name in ("metrics", "Prometheus", "Alertmanager")]  # metrics: the proxy's /metrics/
    finally:
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=PROXY_UP_STOP_SECONDS)
    assert process.returncode == 0, output + rest
    assert not any(answers(f"{url}/-/ready") or answers(f"{url}/health/liveliness") for url in urls)
