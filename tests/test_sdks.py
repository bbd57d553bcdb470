"""Each official SDK (openai, anthropic, google-genai), sync and async, plain and streamed, through
holystack's http_client against the fake upstream (the same server `holystack upstream` runs), with
a third of the attempts answered 429: attempts, logical calls, tokens, rate-limit gauges and time
to first token are exactly what the fake served and the SDK saw. Waits go through a recording sleep."""
from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import openai
import pytest
from prometheus_client import CollectorRegistry

from holystack.instrument import Instrument, async_http_client, http_client
from holystack.live.scenarios import TrafficProfile
from holystack.live.upstream import FakeUpstreamServer, Upstream
from holystack.model import Endpoint

from .test_transport import P, Sleeps, metric, without_fallbacks

CALLS = 4
LIMITED = TrafficProfile("limited", "a third of the calls 429", rate_limited=0.33)
MODELS = {"openai": "deepseek-v3.2", "anthropic": "claude-sonnet-4.5", "gemini": "gemini-2.5-flash"}
ENDPOINTS = {"openai": "/chat/completions", "anthropic": "/messages", "gemini": "/models:generateContent",
             "gemini-stream": "/models:streamGenerateContent"}
PROMPT = "ping"


def stack():  # type: ignore[no-untyped-def]
    base = without_fallbacks()
    gemini = dataclasses.replace(base.models[0], name=MODELS["gemini"])
    return dataclasses.replace(base, endpoints=(*base.endpoints, *(Endpoint(p, None, None) for p in ENDPOINTS.values()
                                                                   if p not in {e.path for e in base.endpoints})),
                               models=(*base.models, gemini))


STACK = stack()


def _openai(url: str, inst: Instrument, sleeps: Sleeps, asynchronous: bool, stream: bool) -> Any:
    model = MODELS["openai"]
    kwargs: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": PROMPT}]}
    if stream:
        kwargs.update(stream=True, stream_options={"include_usage": True})
    if not asynchronous:
        client = openai.OpenAI(base_url=f"{url}/{P}/v1", api_key="sk-test", max_retries=0,
                               http_client=http_client(inst, provider=P, sleep=sleeps))
        answer = client.chat.completions.create(**kwargs)
        return [chunk for chunk in answer] if stream else answer

    async def run() -> Any:
        client = openai.AsyncOpenAI(base_url=f"{url}/{P}/v1", api_key="sk-test", max_retries=0,
                                    http_client=async_http_client(inst, provider=P, async_sleep=asleep(sleeps)))
        answer = await client.chat.completions.create(**kwargs)
        return [chunk async for chunk in answer] if stream else answer

    return asyncio.run(run())


def _anthropic(url: str, inst: Instrument, sleeps: Sleeps, asynchronous: bool, stream: bool) -> Any:
    import anthropic  # imported by its tests only: every xdist worker collects this module

    kwargs: dict[str, Any] = {"model": MODELS["anthropic"], "max_tokens": 16,
                              "messages": [{"role": "user", "content": PROMPT}]}
    if stream:
        kwargs["stream"] = True
    if not asynchronous:
        client = anthropic.Anthropic(base_url=f"{url}/{P}", api_key="sk-test", max_retries=0,
                                     http_client=http_client(inst, provider=P, sleep=sleeps))
        answer = client.messages.create(**kwargs)
        return [event for event in answer] if stream else answer

    async def run() -> Any:
        client = anthropic.AsyncAnthropic(base_url=f"{url}/{P}", api_key="sk-test", max_retries=0,
                                          http_client=async_http_client(inst, provider=P, async_sleep=asleep(sleeps)))
        answer = await client.messages.create(**kwargs)
        return [event async for event in answer] if stream else answer

    return asyncio.run(run())


def _gemini(url: str, inst: Instrument, sleeps: Sleeps, asynchronous: bool, stream: bool) -> Any:
    from google import genai  # imported by its tests only, as anthropic
    from google.genai import types

    options = types.HttpOptions(base_url=f"{url}/{P}", api_version="v1beta",
                                httpx_client=http_client(inst, provider=P, library="httpx", sleep=sleeps),
                                httpx_async_client=async_http_client(inst, provider=P, library="httpx",
                                                                     async_sleep=asleep(sleeps)))
    client = genai.Client(api_key="test-key", http_options=options)
    model = MODELS["gemini"]
    if not asynchronous:
        if stream:
            return list(client.models.generate_content_stream(model=model, contents=PROMPT))
        return client.models.generate_content(model=model, contents=PROMPT)

    async def run() -> Any:
        if stream:
            return [chunk async for chunk in await client.aio.models.generate_content_stream(model=model,
                                                                                             contents=PROMPT)]
        return await client.aio.models.generate_content(model=model, contents=PROMPT)

    return asyncio.run(run())


def asleep(sleeps: Sleeps):  # type: ignore[no-untyped-def]
    async def record(seconds: float) -> None:
        sleeps(seconds)
    return record


SDKS = {"openai": _openai, "anthropic": _anthropic, "gemini": _gemini}


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("sdk", list(SDKS))
def test_each_sdk_is_counted_exactly(sdk: str, asynchronous: bool, stream: bool) -> None:
    upstream = Upstream(LIMITED, {}, client_timeout=5.0, seed=11)
    server = FakeUpstreamServer(upstream).start()
    inst = Instrument.from_spec(STACK, registry=CollectorRegistry(), initialize=False)
    sleeps = Sleeps()
    try:
        for _ in range(CALLS):
            SDKS[sdk](server.url, inst, sleeps, asynchronous, stream)
    finally:
        server.stop()
    model = MODELS[sdk]
    endpoint = ENDPOINTS["gemini-stream" if sdk == "gemini" and stream else sdk]
    limited = upstream.statuses[429]
    assert limited >= 1, "the seed must give some 429s"  # else the retries are not exercised
    # attempts: every answer the fake sent, one series per status; logical calls: one per SDK call
    assert metric(inst, "requests_total", endpoint=endpoint, model=model) == upstream.served == CALLS + limited
    assert metric(inst, "requests_total", status_code="429") == limited
    assert metric(inst, "calls_total", endpoint=endpoint, model=model, status_code="200") == CALLS
    assert metric(inst, "retries_total", reason="rate_limited") == limited == len(sleeps)
    assert metric(inst, "call_duration_seconds_count", endpoint=endpoint, model=model) == CALLS
    # tokens: what the fake served, prompt counting its cached part
    served = upstream.tokens
    assert metric(inst, "tokens_total", model=model, token_type="prompt") == served["prompt"]
    assert metric(inst, "tokens_total", model=model, token_type="completion") == served["completion"]
    assert metric(inst, "tokens_total", model=model, token_type="cached_prompt") == served["cached"]
    # rate-limit gauges: OpenAI's two resources, Anthropic's four, none from Gemini
    resources = {"openai": {"requests", "tokens"}, "gemini": set(),
                 "anthropic": {"requests", "tokens", "input_tokens", "output_tokens"}}[sdk]
    for resource in resources:
        assert metric(inst, "ratelimit_limit", model=model, resource=resource) > 0
    assert {r for r in ("requests", "tokens", "input_tokens", "output_tokens")
            if metric(inst, "ratelimit_limit", model=model, resource=r) > 0} == resources
    # time to first token: once per streamed logical call, none for plain answers
    assert metric(inst, "time_to_first_token_seconds_count", model=model) == (CALLS if stream else 0)


# --- the command: `holystack upstream` -------------------------------------------------------------

def test_the_upstream_command_prints_its_url_and_serves_every_sdk() -> None:
    """Started as a user would, it prints its URL; each SDK gets its answer through holystack's
    transport, the 429s of the rate-limit scenario retried; SIGTERM stops it with what it served."""
    import signal
    import subprocess
    import sys

    from .helpers import read_until

    process = subprocess.Popen([sys.executable, "-m", "holystack", "upstream", "--scenario", "rate-limit",
                                "--port", "0", "--seed", "5", "--latency", "50ms"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        printed = read_until(process, "http://127.0.0.1:", 30)
        url = next(line.strip() for line in printed.splitlines() if line.startswith("http://127.0.0.1:"))
        inst = Instrument.from_spec(STACK, registry=CollectorRegistry(), initialize=False)
        sleeps = Sleeps()
        failed = 0
        for sdk in SDKS.values():
            for _ in range(3):
                try:
                    sdk(url, inst, sleeps, False, False)
                except Exception as error:  # three 429s in a row: the SDK raises the last one
                    assert "429" in str(error)
                    failed += 1
        assert metric(inst, "calls_total", status_code="200") == 9 - failed
        assert metric(inst, "calls_total", status_code="429") == failed
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output
    attempts = metric(inst, "requests_total")
    assert attempts == 9 + len(sleeps) and metric(inst, "requests_total", status_code="429") > 0
    assert f"served {attempts:g} calls" in output


def test_the_upstream_command_refuses_an_unknown_scenario() -> None:
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "holystack", "upstream", "--scenario", "nope"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "--scenario: 'nope' is not a scenario" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
