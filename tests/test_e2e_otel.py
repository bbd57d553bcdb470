"""End to end on metrics.source otel-genai, through the real components: an application with the
official openai SDK, opentelemetry-instrumentation-openai-v2 and the Prometheus exporter calls
holystack's fake upstream; the real Prometheus scrapes it and evaluates the rendered rules; the
real Alertmanager routes the alerts to fake receivers on loopback. The otel extra must be
installed (the imports fail this file otherwise, never skip it)."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import opentelemetry.exporter.prometheus  # noqa: F401 - the extra must be installed
import opentelemetry.instrumentation.openai_v2  # noqa: F401
import pytest

from holystack.live.capture import CaptureServer
from holystack.live.playground import Ports, fast_spec, loopback_spec, start_engine, write_spec
from holystack.live.scenarios import SCENARIOS
from holystack.live.upstream import FakeUpstreamServer, Upstream
from holystack import load_stack
from holystack.series import Series
from holystack.spec import read_spec

from .helpers import answers, prom_query, wait_until
from .test_e2e import ALERT_DEADLINE, PREFIX, SPEC, deliveries

pytestmark = pytest.mark.usefixtures("servers")

APP = textwrap.dedent('''
    import sys, time
    from openai import OpenAI
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
    from opentelemetry.metrics import set_meter_provider
    from opentelemetry.sdk.metrics import MeterProvider
    from prometheus_client import start_http_server

    set_meter_provider(MeterProvider(metric_readers=[PrometheusMetricReader()]))
    OpenAIInstrumentor().instrument()
    start_http_server(int(sys.argv[2]), addr="127.0.0.1")
    client = OpenAI(base_url=sys.argv[1] + "/v1", api_key="test", max_retries=0, timeout=5)
    end = time.monotonic() + float(sys.argv[3])
    while time.monotonic() < end:
        try:
            client.chat.completions.create(model="gpt-4.1-mini", messages=[{"role": "user", "content": "hi"}])
        except Exception:
            pass
        time.sleep(0.05)
''')


def otel_spec(data: dict[str, Any]) -> dict[str, Any]:
    """The e2e spec on otel-genai: its fixed buckets (the latency SLO on the 0.32s bucket), no
    fallback chain, and the endpoints OTel's operations name."""
    data["metrics"].pop("latency_buckets")
    data["metrics"]["source"] = "otel-genai"
    data.pop("resilience", None)
    data["endpoints"] = [e for e in data["endpoints"] if e["path"] != "/responses"]
    data["endpoints"][0]["latency_slo"]["threshold"] = "320ms"
    return data


@pytest.mark.parametrize(("scenario", "kind"), [("rate-limit", "RateLimitRatioHigh"),
                                                ("server-errors", "ServerErrorRatioHigh")])
def test_otel_app_delivers_its_alert(tmp_path: Path, scenario: str, kind: str) -> None:
    capture = CaptureServer().start()
    upstream = FakeUpstreamServer(Upstream(SCENARIOS[scenario], {}, client_timeout=5.0, seed=7)).start()
    ports = Ports.free()
    spec = fast_spec(loopback_spec(otel_spec(read_spec(SPEC)), ports, capture.url))
    spec_path = write_spec(spec, tmp_path / "otel.yaml")
    app = subprocess.Popen([sys.executable, "-c", APP, upstream.url, str(ports.metrics), "120"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    stack = None
    try:
        assert wait_until(lambda: answers(f"http://127.0.0.1:{ports.metrics}/metrics"), 30), "the app served no /metrics"
        stack = start_engine("prometheus", spec_path, ports, tmp_path / "work", fast=True)
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
