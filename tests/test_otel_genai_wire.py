"""The otel-genai source against what the real components write: the official openai SDK,
opentelemetry-instrumentation-openai-v2 and opentelemetry-exporter-prometheus, calling holystack's
fake upstream. The series names, label names, error_type values and le bounds the source reads
must be those the exporter writes. The packages are the otel extra (in dev): missing, the otel_extra
fixture fails the test, never skips it."""
from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest
from prometheus_client.parser import text_string_to_metric_families

from holystack import contract as c
from holystack.live.scenarios import TrafficProfile
from holystack.live.upstream import FakeUpstreamServer, Upstream
from holystack.sources.otel_genai import (BUCKETS, DURATION, ERROR_TYPE, OPERATION, PROVIDER_NAME, REQUEST_MODEL, SYSTEM,
                                          STATUS_MATCHERS, TOKEN_KIND, TOKENS)

CALLS = 12
APP = textwrap.dedent('''
    import sys
    from openai import OpenAI
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
    from opentelemetry.metrics import set_meter_provider
    from opentelemetry.sdk.metrics import MeterProvider
    from prometheus_client import REGISTRY, generate_latest

    set_meter_provider(MeterProvider(metric_readers=[PrometheusMetricReader()]))
    OpenAIInstrumentor().instrument()
    client = OpenAI(base_url=sys.argv[1] + "/v1", api_key="test", max_retries=0, timeout=5)
    for _ in range(int(sys.argv[2])):
        try:
            client.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "hi"}])
        except Exception:
            pass
    sys.stdout.write(generate_latest(REGISTRY).decode())
''')


def _samples(url: str) -> list[tuple[str, dict[str, str], float]]:
    done = subprocess.run([sys.executable, "-c", APP, url, str(CALLS)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return [(s.name, s.labels, s.value) for family in text_string_to_metric_families(done.stdout)
            for s in family.samples]


@pytest.mark.usefixtures("otel_extra")
def test_the_exporter_writes_what_the_source_reads() -> None:
    upstream = Upstream(TrafficProfile("limited", "a third of the calls 429", rate_limited=0.33), {},
                        client_timeout=5.0, seed=11)
    server = FakeUpstreamServer(upstream).start()
    try:
        samples = _samples(server.url)
    finally:
        server.stop()
    limited = upstream.statuses[429]
    assert 1 <= limited < CALLS
    counts = [(labels, value) for name, labels, value in samples if name == f"{DURATION}_count"]
    assert sum(value for _, value in counts) == CALLS
    for labels, _ in counts:
        assert labels[OPERATION] == "chat" and labels[REQUEST_MODEL] == "gpt-4.1"
        assert labels.get(SYSTEM) == "openai" or labels.get(PROVIDER_NAME) == "openai"

    def matching(status_class: str) -> float:
        label, regex, op = STATUS_MATCHERS[status_class]
        hit = lambda labels: re.fullmatch(regex, labels.get(label, "")) is not None  # noqa: E731
        return sum(value for labels, value in counts if hit(labels) == (op in ("=", "=~")))

    assert matching(c.RATE_LIMITED) == limited  # error_type names the SDK's RateLimitError
    assert matching(c.SUCCESS) == CALLS - limited
    assert matching(c.FAILED) == 0
    assert {ERROR_TYPE in labels for labels, _ in counts} == {True}  # "" for a success
    bounds = {labels["le"] for name, labels, _ in samples if name == f"{DURATION}_bucket"}
    assert bounds == {repr(b) for b in BUCKETS} | {"+Inf"}
    tokens = {labels[TOKEN_KIND]: value for name, labels, value in samples if name == TOKENS}
    assert tokens == {"input": upstream.tokens["prompt"], "output": upstream.tokens["completion"]}
