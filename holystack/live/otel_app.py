"""An application on metrics.source otel-genai, as a team runs one: the official openai SDK,
instrumented by opentelemetry-instrumentation-openai-v2, its metrics served by the OpenTelemetry
Prometheus exporter. It calls the fake upstream (holystack.live.upstream) until its time is up.
`holystack up --source otel-genai` and the otel end-to-end test run it:

    python -m holystack.live.otel_app UPSTREAM_URL METRICS_PORT SECONDS [--model M] [--rps R]

The otel extra (holystack[otel]) must be installed; the packages are imported only here."""
from __future__ import annotations

import argparse
import time

TIMEOUT_SECONDS = 5.0  # the SDK's timeout: the fake upstream holds a timed-out call just past it
DEFAULT_MODEL = "gpt-4.1-mini"
DEFAULT_RPS = 20.0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m holystack.live.otel_app", description=__doc__.splitlines()[0])
    parser.add_argument("upstream", help="the fake upstream's URL")
    parser.add_argument("port", type=int, help="the port of /metrics on 127.0.0.1")
    parser.add_argument("seconds", type=float, help="how long to call")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--rps", type=float, default=DEFAULT_RPS, help="calls per second at most (one at a time)")
    args = parser.parse_args(argv)

    from openai import OpenAI
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
    from opentelemetry.metrics import set_meter_provider
    from opentelemetry.sdk.metrics import MeterProvider
    from prometheus_client import start_http_server

    set_meter_provider(MeterProvider(metric_readers=[PrometheusMetricReader()]))
    OpenAIInstrumentor().instrument()
    start_http_server(args.port, addr="127.0.0.1")
    client = OpenAI(base_url=args.upstream + "/v1", api_key="test", max_retries=0, timeout=TIMEOUT_SECONDS)
    end = time.monotonic() + args.seconds
    while time.monotonic() < end:
        try:
            client.chat.completions.create(model=args.model, messages=[{"role": "user", "content": "hi"}])
        except Exception:  # noqa: BLE001 - every failure is what the metrics count
            pass
        time.sleep(1 / args.rps)


if __name__ == "__main__":
    main()
