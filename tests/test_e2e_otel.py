"""End to end on metrics.source otel-genai, through the real components: an application with the
official openai SDK, opentelemetry-instrumentation-openai-v2 and the Prometheus exporter calls
holystack's fake upstream; the real Prometheus scrapes it and evaluates the rendered rules; the
real Alertmanager routes the alerts to fake receivers on loopback. The otel extra must be
installed (the otel_extra fixture fails these tests otherwise, never skips them)."""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from holystack.live.apps import OTEL_APP
from holystack.live.capture import CaptureServer
from holystack.live.onto import spec_on_source
from holystack.live.playground import Ports, fast_spec, loopback_spec, start_engine, write_spec
from holystack.live.scenarios import SCENARIOS
from holystack.live.upstream import FakeUpstreamServer, Upstream
from holystack import load_stack
from holystack.series import Series
from holystack.spec import read_spec

from .helpers import answers, prom_query, wait_until
from .test_e2e import ALERT_DEADLINE, PREFIX, SPEC, deliveries

pytestmark = pytest.mark.usefixtures("servers", "otel_extra")
APP_START_DEADLINE = 30.0  # seconds for the app to serve /metrics (the wait ends as soon as it does)


@pytest.mark.parametrize(("scenario", "kind"), [("rate-limit", "RateLimitRatioHigh"),
                                                ("server-errors", "ServerErrorRatioHigh")])
def test_otel_app_delivers_its_alert(tmp_path: Path, scenario: str, kind: str) -> None:
    capture = CaptureServer().start()
    upstream = FakeUpstreamServer(Upstream(SCENARIOS[scenario], {}, OTEL_APP.client_timeout, seed=7)).start()
    ports = Ports.free()
    # The e2e spec on otel-genai: its fixed buckets (the latency SLO on the 0.32s bucket).
    spec = fast_spec(loopback_spec(spec_on_source(read_spec(SPEC), "otel-genai")[0], ports, capture.url))
    spec_path = write_spec(spec, tmp_path / "otel.yaml")
    # The app `holystack up --source otel-genai` runs.
    app = subprocess.Popen(OTEL_APP.command(upstream.url, ports.metrics, 120, "gpt-4.1-mini", 20),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    stack = None

    def app_serves() -> None:  # while the stack renders and Alertmanager starts
        assert wait_until(lambda: answers(f"http://127.0.0.1:{ports.metrics}/metrics"), APP_START_DEADLINE), \
            "the app served no /metrics"

    try:
        stack = start_engine("prometheus", spec_path, ports, tmp_path / "work", True, app_serves)
        started = time.monotonic()
        want = PREFIX + kind

        def delivered() -> bool:
            return any(d.status == "firing" and d.alertname == want and d.receiver == "pager"
                       for d in deliveries(capture.notifications))

        assert wait_until(delivered, ALERT_DEADLINE), (
            f"{want} not delivered to the pager in {time.monotonic() - started:.0f}s; got "
            f"{sorted({d.alertname for d in deliveries(capture.notifications)})}")
        # The tokens feed the cost: OTel's input and output as prompt and completion, priced.
        series = Series(load_stack(spec_path))
        tokens = {r["metric"]["token_type"] for r in prom_query(stack.prometheus.url, f"{series.tokens} > 0")}
        assert tokens == {"prompt", "completion"}
        cost = prom_query(stack.prometheus.url, f'{series.cost_rate}{{model="gpt-4.1-mini"}} > 0')
        assert len(cost) == 1
    finally:
        if stack is not None:
            stack.stop()
        app.terminate()
        try:
            app.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            app.kill()
            app.communicate()
        upstream.stop()
        capture.stop()
