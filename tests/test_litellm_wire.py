"""The litellm source against what the real LiteLLM proxy writes: litellm[proxy] 1.106.12 (extra
litellm, in .venv-litellm: it needs openai<3) in front of holystack's fake upstream, driven by the
official openai SDK, its /metrics/ read with the master key. The series names, label names and
values the source reads must be those the proxy writes. Without the proxy the litellm fixture
(tests/conftest.py) fails this file, never skips it."""
from __future__ import annotations

import copy
import re
from collections import Counter as Tally
from pathlib import Path
from typing import Any

import openai
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from holystack.live.litellm_proxy import METRICS_PATH, LitellmProxy, on_upstream
from holystack.live.scenarios import TrafficProfile
from holystack.live.upstream import FakeUpstreamServer, Upstream
from holystack.model import build_model
from holystack.sources import litellm as source
from holystack.spec import check_spec_text, read_spec

from .test_e2e import SPEC

CHAT_CALLS = 24
STREAMS = 4
EMBEDDINGS = 3
Sample = tuple[str, dict[str, str], float]


def litellm_spec(data: dict[str, Any], key_file: Path | None = None) -> dict[str, Any]:
    """The e2e spec on metrics.source litellm: LiteLLM's buckets (the latency SLO on 0.5s), no
    /responses (the deployment counters carry no route: each model is on one endpoint, the embedding
    model on /embeddings), no fallback chain, the scrape of /metrics/ with the master key's file."""
    spec = copy.deepcopy(data)
    spec["metrics"].pop("latency_buckets", None)
    spec["metrics"].update(source="litellm", model_endpoints={"text-embedding-3-small": "/embeddings"})
    spec.pop("resilience", None)
    spec["endpoints"] = [e for e in spec["endpoints"] if e["path"] != "/responses"]
    spec["endpoints"][0]["latency_slo"]["threshold"] = "500ms"
    job = spec["scrape"]["jobs"][0]
    job["metrics_path"] = METRICS_PATH
    if key_file is not None:
        job["authorization"] = {"credentials_file": str(key_file)}
    return spec


def stack_of(data: dict[str, Any]) -> Any:
    return build_model(check_spec_text(yaml.safe_dump(data)), "e2e.yaml")


def drive(url: str, key: str) -> Tally[str]:
    """Chat calls (plain and streamed, with the usage chunk) and embeddings through the proxy; the
    outcome of each, by the status the client saw."""
    client = openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=30)
    seen: Tally[str] = Tally()
    calls = ([("chat", False)] * CHAT_CALLS + [("chat", True)] * STREAMS + [("embeddings", False)] * EMBEDDINGS)
    for kind, stream in calls:
        try:
            if kind == "embeddings":
                client.embeddings.create(model="text-embedding-3-small", input="holystack")
            elif stream:
                with client.chat.completions.create(model="gpt-4.1-mini", messages=[{"role": "user", "content": "hi"}],
                                                    stream=True, stream_options={"include_usage": True}) as chunks:
                    for _ in chunks:
                        pass
            else:
                client.chat.completions.create(model="gpt-4.1-mini", messages=[{"role": "user", "content": "hi"}])
            seen["200"] += 1
        except openai.APIStatusError as error:
            seen[str(error.status_code)] += 1
    client.close()
    return seen


def samples(text: str) -> list[Sample]:
    return [(s.name, s.labels, s.value) for family in text_string_to_metric_families(text) for s in family.samples]


def total(found: list[Sample], name: str, **labels: str) -> float:
    return sum(v for n, l, v in found if n == name and all(l.get(k) == want for k, want in labels.items()))


def test_the_proxy_writes_what_the_source_reads(tmp_path: Path, litellm: str) -> None:
    upstream = Upstream(TrafficProfile("limited", "a fifth of the calls 429", rate_limited=0.2), {},
                        client_timeout=30.0, seed=5)
    server = FakeUpstreamServer(upstream).start()
    proxy = LitellmProxy(tmp_path)
    try:
        data = on_upstream(litellm_spec(read_spec(SPEC), proxy.key_file), server.url)
        stack = stack_of(data)
        url = proxy.start(stack)
        assert proxy.scrape(with_key=False)[0] == 401  # hence scrape.jobs[].authorization
        seen = drive(url, proxy.key)
        status, text = proxy.scrape()
    finally:
        proxy.stop()
        server.stop()
    assert status == 200
    found = samples(text)
    names = {name for name, _, _ in found}
    limited, served = upstream.statuses[429], upstream.statuses[200]
    assert limited >= 1 and served >= 1

    # Attempts: every answer of the upstream, each retry included, by deployment.
    base = on_upstream(data, server.url)["providers"][0]["base_url"]
    assert total(found, source.SUCCESS) == served
    assert total(found, source.FAILURE, **{source.EXCEPTION_STATUS: "429"}) == limited
    assert total(found, source.FAILURE) == limited
    assert total(found, source.ATTEMPTS_TOTAL) == served + limited
    for name, labels, _ in found:
        if name in (source.SUCCESS, source.FAILURE, source.ATTEMPTS_TOTAL):
            assert labels[source.API_BASE] == base and labels[source.API_PROVIDER] == "openai"
            assert labels[source.REQUESTED_MODEL] == labels[source.MODEL_GROUP]
            assert labels[source.REQUESTED_MODEL] in {"gpt-4.1-mini", "text-embedding-3-small"}
        if name == source.FAILURE:
            assert labels["exception_class"] == "Openai.RateLimitError"
    assert any(v == source.UNSET for _, labels, _ in found for v in labels.values())  # unset labels read "None"

    # Logical calls: one per call the client made, its final status; the scrapes of /metrics/ counted too.
    calls = {(l[source.ROUTE], l[source.STATUS]): v for n, l, v in found if n == source.PROXY_CALLS}
    route = re.compile(f"({re.escape(source.ROUTE_PREFIX)})?(/chat/completions|/embeddings)")
    spec_calls: Tally[str] = Tally()
    for (r, status), v in calls.items():
        spec_calls[status] += v if route.fullmatch(r) else 0
    assert +spec_calls == Tally({k: float(v) for k, v in seen.items()}), calls
    assert {r for r, _ in calls} >= {"/v1/chat/completions", "/v1/embeddings", "/metrics/"}
    assert not route.fullmatch("/metrics/")

    # Tokens: what the upstream served, cached prompt tokens included.
    assert total(found, source.INPUT_TOKENS) == upstream.tokens["prompt"]
    assert total(found, source.OUTPUT_TOKENS) == upstream.tokens["completion"]
    assert total(found, source.CACHED_INPUT_TOKENS) == upstream.tokens["cached"]
    assert {l[source.REQUESTED_MODEL] for n, l, _ in found if n == source.INPUT_TOKENS} == {
        "gpt-4.1-mini", "text-embedding-3-small"}

    # Latency and time to first token: LiteLLM's fixed buckets, on successes.
    for histogram in (source.API_LATENCY, source.TOTAL_LATENCY, source.TTFT):
        bounds = {l["le"] for n, l, _ in found if n == f"{histogram}_bucket"}
        assert bounds == {repr(b) for b in source.BUCKETS} | {"+Inf"}, histogram
    assert total(found, f"{source.API_LATENCY}_count") == served
    assert total(found, f"{source.TTFT}_count") >= 1

    # Headroom, deployment state, spend.
    for gauge in (source.REMAINING_REQUESTS, source.REMAINING_TOKENS, source.DEPLOYMENT_STATE):
        labelled = [l for n, l, _ in found if n == gauge]
        assert labelled and all(l[source.API_BASE] == base for l in labelled), gauge
    assert all(l[source.MODEL_GROUP] in {"gpt-4.1-mini", "text-embedding-3-small"}
               for n, l, _ in found if n == source.REMAINING_REQUESTS)
    assert {v for n, _, v in found if n == source.DEPLOYMENT_STATE} <= {0.0, 1.0, 2.0}
    assert total(found, source.SPEND) > 0

    # Every series the source reads is written, but those this setup has no reason to write: no
    # deployment sets rpm/tpm limits, no fallback chain, no Anthropic cache writes.
    absent_here = {source.RPM_LIMIT, source.TPM_LIMIT, source.SUCCESSFUL_FALLBACKS, source.CACHE_WRITE_TOKENS}
    raw = stack.source.series_names() - stack.contract.series_names()
    assert raw - absent_here <= names, sorted(raw - absent_here - names)
