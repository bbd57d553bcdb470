"""Gemini's wire through holystack's transport: the model is read from the URL
(.../models/<model>:<method>) for generateContent, streamGenerateContent and embedContent on v1
and v1beta, and an endpoint written <prefix>/models:<method> counts every model. Real HTTP on
loopback through httpx2, as the SDKs send it."""
from __future__ import annotations

import dataclasses
import json

import pytest
from prometheus_client import CollectorRegistry

from holystack.instrument import Instrument, http_client
from holystack.model import Endpoint

from .hostile import Answer, HostileUpstream, sse
from .test_transport import P, metric, without_fallbacks

MODEL = "gemini-2.5-flash"
JSON = [("content-type", "application/json")]
USAGE = {"promptTokenCount": 7, "candidatesTokenCount": 2, "totalTokenCount": 9}
ANSWER = {"candidates": [{"content": {"role": "model", "parts": [{"text": "pong"}]}, "finishReason": "STOP"}],
          "usageMetadata": USAGE, "modelVersion": "gemini-2.5-flash-001"}
EMBEDDING = {"embedding": {"values": [0.1, 0.2]}}
METHODS = ("generateContent", "streamGenerateContent", "embedContent")


def stack(*paths: str):  # type: ignore[no-untyped-def]
    base = without_fallbacks()
    gemini = dataclasses.replace(base.models[0], name=MODEL)
    return dataclasses.replace(base, endpoints=tuple(Endpoint(p, None, None) for p in paths),
                               models=(*base.models, gemini))


def answer(method: str) -> Answer:
    if method == "streamGenerateContent":
        return Answer(200, [("content-type", "text/event-stream")], sse([ANSWER])[: -len(b"data: [DONE]\n\n")])
    return Answer(200, JSON, json.dumps(EMBEDDING if method == "embedContent" else ANSWER).encode())


def call(spec, version: str, method: str) -> Instrument:  # type: ignore[no-untyped-def]
    server = HostileUpstream(answer(method).pieces).start()
    inst = Instrument.from_spec(spec, registry=CollectorRegistry(), initialize=False)
    try:
        with http_client(inst, provider=P) as client:
            query = "?alt=sse" if method == "streamGenerateContent" else ""
            body = {"content": {"parts": [{"text": "ping"}]}} if method == "embedContent" else \
                {"contents": [{"role": "user", "parts": [{"text": "ping"}]}]}
            with client.stream("POST", f"{server.url}/{P}/{version}/models/{MODEL}:{method}{query}", json=body) as r:
                r.read()
                assert r.status_code == 200
    finally:
        server.stop()
    return inst


@pytest.mark.parametrize("version", ["v1", "v1beta"])
@pytest.mark.parametrize("method", METHODS)
def test_an_endpoint_for_every_model_reads_the_model_from_the_url(version: str, method: str) -> None:
    endpoint = f"/models:{method}"
    inst = call(stack(*(f"/models:{m}" for m in METHODS)), version, method)
    assert metric(inst, "requests_total", endpoint=endpoint, model=MODEL, status_code="200") == 1
    assert metric(inst, "calls_total", endpoint=endpoint, model=MODEL, status_code="200") == 1
    assert metric(inst, "call_duration_seconds_count", endpoint=endpoint, model=MODEL) == 1
    if method != "embedContent":
        assert metric(inst, "tokens_total", model=MODEL, token_type="prompt") == 7
        assert metric(inst, "tokens_total", model=MODEL, token_type="completion") == 2


def test_an_endpoint_for_one_model_is_matched_first() -> None:
    one = f"/models/{MODEL}:generateContent"
    inst = call(stack("/models:generateContent", one), "v1beta", "generateContent")
    assert metric(inst, "calls_total", endpoint=one, model=MODEL) == 1
    assert metric(inst, "calls_total", endpoint="/models:generateContent") == 0


def test_without_a_gemini_endpoint_the_model_is_still_read() -> None:
    inst = call(stack("/chat/completions"), "v1beta", "generateContent")
    assert metric(inst, "calls_total", endpoint="other", model=MODEL) == 1


def test_a_fallback_puts_the_attempts_model_in_the_url() -> None:
    """The primary refuses; the backup gets .../models/<mapped model>:generateContent, and the body
    (which names no model) is sent as it was. The fake upstream serves Gemini and tallies by model."""
    from holystack.live.scenarios import SCENARIOS
    from holystack.live.upstream import FakeUpstreamServer, Upstream
    from holystack.model import Fallback

    from .test_transport import Sleeps, refused_url

    backup_model = "deepseek-v3.2"
    base = stack("/models:generateContent")
    chain = (Fallback(P, "backup", ((MODEL, backup_model),)),)
    spec = dataclasses.replace(base, resilience=dataclasses.replace(base.resilience, fallbacks=chain))
    server = FakeUpstreamServer(Upstream(SCENARIOS["healthy"], {}, client_timeout=5.0)).start()
    inst = Instrument.from_spec(spec, registry=CollectorRegistry(), initialize=False)
    urls = {P: refused_url(), "backup": f"{server.url}/backup/v1beta"}
    try:
        with http_client(inst, provider=P, sleep=Sleeps(), base_urls=urls) as client:
            answer = client.post(f"{urls[P].removesuffix('/v1')}/v1beta/models/{MODEL}:generateContent",
                                 json={"contents": [{"role": "user", "parts": [{"text": "ping"}]}]})
        assert answer.status_code == 200
    finally:
        server.stop()
    assert set(server.upstream.budgets) == {backup_model}  # the URL named the mapped model
    assert metric(inst, "requests_total", provider="backup", model=backup_model, status_code="200") == 1
    assert metric(inst, "calls_total", endpoint="/models:generateContent", model=MODEL,
                  status_code="200") == 1
