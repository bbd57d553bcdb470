"""holystack's transport with the real openai SDK against the fake upstream on loopback: every attempt
counted, tokens as the SDK reports them, retries from the headers, fallbacks, the circuit breaker.
Waits go through a recording sleep and the breaker through a fake clock: no real sleeps."""
from __future__ import annotations

import asyncio
import dataclasses
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

import httpx
import httpx2
import openai
import pytest
from prometheus_client import CollectorRegistry

from holystack import load_stack
from holystack.contract import CIRCUIT_CLOSED, CIRCUIT_HALF_OPEN, CIRCUIT_OPEN
from holystack.instrument import Instrument, async_http_client, http_client, status_of_error, usage_from_body
from holystack.instrument import usage as usage_module
from holystack.instrument.usage import Usage
from holystack.instrument.resilience import CircuitBreaker, retry_after_seconds
from holystack.live.scenarios import SCENARIOS, TrafficProfile
from holystack.live.upstream import RETRY_AFTER_MS, FakeUpstreamServer, Upstream
from holystack.model import Fallback

from .conftest import EXAMPLE
from .test_instrument import labels, samples

CHAT = "/chat/completions"
P = "holysheep"
THRESHOLDS = {CHAT: 0.05, "/embeddings": 0.05, "/responses": 0.05}
MESSAGES = [{"role": "user", "content": "ping"}]


class Sleeps(list):
    """A sleep that records the wait instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def serve(scenario: TrafficProfile, seed: int = 3) -> FakeUpstreamServer:
    return FakeUpstreamServer(Upstream(scenario, THRESHOLDS, client_timeout=2.0, seed=seed)).start()


@pytest.fixture
def healthy():
    server = serve(SCENARIOS["healthy"])
    yield server
    server.stop()


@pytest.fixture
def limited():
    server = serve(TrafficProfile("limited", "half the calls 429", rate_limited=0.5))
    yield server
    server.stop()


def without_fallbacks():
    """The example without its fallback chain: its backup's base_url is not on loopback."""
    stack = load_stack(EXAMPLE)
    return dataclasses.replace(stack, resilience=dataclasses.replace(stack.resilience, fallbacks=()))


def instrument_for(stack=None) -> Instrument:
    return Instrument.from_spec(stack or without_fallbacks(), registry=CollectorRegistry(), initialize=False)


def base_url(server: FakeUpstreamServer, provider: str = P) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/{provider}/v1"


def metric(instrument: Instrument, name: str, **where: str) -> float:
    """The sum of a metric's samples whose labels include where."""
    return sum(v for (n, ls), v in samples(instrument.registry).items()
               if n == f"{P}_{name}" and set(where.items()) <= set(ls))


def sdk(instrument: Instrument, server: FakeUpstreamServer, **options) -> openai.OpenAI:
    """The README's one line (max_retries=0: holystack retries)."""
    return openai.OpenAI(base_url=base_url(server), api_key="sk-test", max_retries=0,
                         http_client=http_client(instrument, provider=P, **options))


def refused_url(provider: str = P) -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/{provider}/v1"


# --- the contract, through the real SDK -------------------------------------------------------------

def test_every_attempt_and_every_token_counted_through_the_sdk(limited) -> None:
    """Sync chat, streamed chat, Responses plain and streamed, embeddings; half the attempts are 429s.
    The counts equal what the fake served, the tokens what the SDK reported."""
    instrument = instrument_for()
    sleeps = Sleeps()
    client = sdk(instrument, limited, sleep=sleeps)
    reported = Counter()
    calls = Counter()

    def add(usage, prompt: str, completion: str, details: str) -> None:
        reported["prompt"] += getattr(usage, prompt)
        reported["completion"] += getattr(usage, completion) if completion else 0
        reported["cached"] += getattr(getattr(usage, details), "cached_tokens") if details else 0

    for _ in range(8):
        for kind in ("chat", "stream", "responses", "responses-stream", "embeddings"):
            try:
                if kind == "chat":
                    r = client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
                    add(r.usage, "prompt_tokens", "completion_tokens", "prompt_tokens_details")
                elif kind == "stream":
                    stream = client.chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=True,
                                                            stream_options={"include_usage": True})
                    chunks = list(stream)
                    add(chunks[-1].usage, "prompt_tokens", "completion_tokens", "prompt_tokens_details")
                elif kind == "responses":
                    r = client.responses.create(model="gpt-4.1", input="ping")
                    assert r.output_text == "pong"
                    add(r.usage, "input_tokens", "output_tokens", "input_tokens_details")
                elif kind == "responses-stream":
                    with client.responses.stream(model="gpt-4.1", input="ping") as events:
                        assert any(e.type == "response.output_text.delta" for e in events)
                        add(events.get_final_response().usage, "input_tokens", "output_tokens",
                            "input_tokens_details")
                else:
                    r = client.embeddings.create(model="text-embedding-3-small", input="x")
                    add(r.usage, "prompt_tokens", "", "")
                calls["200"] += 1
            except openai.RateLimitError:
                calls["429"] += 1
    served = limited.upstream.statuses
    assert served[429] > 0 and sum(sleeps) > 0
    assert metric(instrument, "requests_total", status_code="429") == served[429]
    assert metric(instrument, "requests_total", status_code="200") == served[200]
    assert metric(instrument, "tokens_total", token_type="prompt") == reported["prompt"]
    assert metric(instrument, "tokens_total", token_type="completion") == reported["completion"]
    assert metric(instrument, "tokens_total", token_type="cached_prompt") == reported["cached"]
    # One logical call each, with the status its caller saw; retries counted by reason.
    assert metric(instrument, "calls_total", status_code="200") == calls["200"]
    assert metric(instrument, "calls_total", status_code="429") == calls["429"]
    assert metric(instrument, "retries_total", reason="rate_limited") == served[429] - calls["429"]
    assert metric(instrument, "time_to_first_token_seconds_count") == 16  # 8 chat + 8 Responses streams
    # Every wait is the retry-after-ms the fake sent (0.8s), not retry-after (2s).
    assert set(sleeps) == {RETRY_AFTER_MS / 1000}


def test_async_client_and_plain_httpx(healthy) -> None:
    instrument = instrument_for()

    async def run() -> int:
        client = openai.AsyncOpenAI(base_url=base_url(healthy), api_key="sk-test", max_retries=0,
                                    http_client=async_http_client(instrument, provider=P))
        stream = await client.chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=True,
                                                      stream_options={"include_usage": True})
        last = None
        async for chunk in stream:
            last = chunk
        plain = await client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
        await client.close()
        return last.usage.prompt_tokens + plain.usage.prompt_tokens

    prompt = asyncio.run(run())
    # Plain httpx (older SDKs, other clients): the same transport for the httpx library.
    with http_client(instrument, provider=P, library="httpx") as client:
        assert isinstance(client, httpx.Client)
        answer = client.post(base_url(healthy) + "/embeddings", json={"model": "text-embedding-3-small", "input": "x"})
        prompt += answer.json()["usage"]["prompt_tokens"]
    assert metric(instrument, "requests_total", status_code="200") == healthy.upstream.statuses[200] == 3
    assert metric(instrument, "tokens_total", token_type="prompt") == prompt


def test_stream_read_after_the_call_keeps_its_tokens_and_its_real_duration(healthy) -> None:
    """Defect: a stream iterated after track()'s block lost its tokens and stopped its clock at the headers."""
    instrument = instrument_for()
    client = sdk(instrument, healthy)
    stream = client.chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=True,
                                            stream_options={"include_usage": True})
    assert metric(instrument, "requests_total") == 0  # not finished yet: nothing recorded
    time.sleep(0.3)  # the caller is busy before reading the stream
    chunks = list(stream)
    assert metric(instrument, "tokens_total", token_type="prompt") == chunks[-1].usage.prompt_tokens > 0
    assert metric(instrument, "request_duration_seconds_sum") >= 0.3
    ttft = metric(instrument, "time_to_first_token_seconds_sum")
    assert 0 < ttft < metric(instrument, "request_duration_seconds_sum")


def test_a_stream_closed_early_is_recorded_once(healthy) -> None:
    instrument = instrument_for()
    client = sdk(instrument, healthy)
    stream = client.chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=True)
    next(iter(stream))
    stream.close()
    stream.close()
    assert metric(instrument, "requests_total", status_code="200") == 1
    assert metric(instrument, "calls_total", status_code="200") == 1


def test_the_sdk_with_its_own_retries_on_still_shows_every_429(limited) -> None:
    """Defect: the SDK retried 429s itself and the rate-limit alert never saw one. Left at the SDK's
    default max_retries=2, every attempt still reaches P_requests_total, and the SDK does not retry
    what holystack already retried (x-should-retry: false)."""
    instrument = instrument_for()
    client = openai.OpenAI(base_url=base_url(limited), api_key="sk-test",
                           http_client=http_client(instrument, provider=P, sleep=Sleeps()))
    for _ in range(20):
        try:
            client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
        except openai.RateLimitError:
            pass
    served = limited.upstream.statuses
    assert served[429] > 0
    assert metric(instrument, "requests_total", status_code="429") == served[429]
    assert metric(instrument, "calls_total") == 20


def test_a_400_is_never_retried(healthy) -> None:
    instrument = instrument_for()
    sleeps = Sleeps()
    with http_client(instrument, provider=P, sleep=sleeps) as client:
        answer = client.post(base_url(healthy) + CHAT, json={"messages": []})  # no model: 400
    assert answer.status_code == 400 and healthy.upstream.statuses == {400: 1}
    assert sleeps == [] and metric(instrument, "retries_total") == 0
    assert metric(instrument, "requests_total", status_code="400") == 1


def test_timeouts_are_retried_then_raised() -> None:
    server = FakeUpstreamServer(Upstream(TrafficProfile("hang", "every call held", timeouts=1.0), THRESHOLDS,
                                         client_timeout=0.2, seed=1, hang=0.4)).start()
    try:
        instrument = instrument_for()
        sleeps = Sleeps()
        client = openai.OpenAI(base_url=base_url(server), api_key="sk-test", max_retries=0, timeout=0.2,
                               http_client=http_client(instrument, provider=P, sleep=sleeps))
        with pytest.raises(openai.APITimeoutError) as caught:
            client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    finally:
        server.stop()
    assert status_of_error(caught.value) == "timeout"
    assert metric(instrument, "requests_total", status_code="timeout") == 3
    assert metric(instrument, "retries_total", reason="timeout") == 2 and len(sleeps) == 2
    assert metric(instrument, "calls_total", status_code="timeout") == 1
    # The real elapsed time of each: at least the client's timeout (an upper bound would time the machine).
    assert metric(instrument, "request_duration_seconds_sum") >= 3 * 0.2


def test_refused_connections_are_retried_then_raised() -> None:
    instrument = instrument_for()
    sleeps = Sleeps()
    client = openai.OpenAI(base_url=refused_url(), api_key="sk-test", max_retries=0,
                           http_client=http_client(instrument, provider=P, sleep=sleeps))
    with pytest.raises(openai.APIConnectionError) as caught:
        client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    assert status_of_error(caught.value) == "error"
    assert metric(instrument, "requests_total", status_code="error") == 3  # max_attempts
    assert metric(instrument, "retries_total", reason="error") == 2 and len(sleeps) == 2
    assert all(0 <= wait <= 8 for wait in sleeps)  # full jitter under the cap
    assert metric(instrument, "calls_total", status_code="error") == 1


# --- fallback and the circuit breaker --------------------------------------------------------------

def test_primary_down_calls_succeed_through_the_backup_and_the_breaker_opens(healthy) -> None:
    stack = load_stack(EXAMPLE)
    chain = (Fallback("holysheep", "backup", (("gpt-4.1", "deepseek-v3.2"),)),)
    stack = dataclasses.replace(stack, resilience=dataclasses.replace(stack.resilience, fallbacks=chain))
    instrument = instrument_for(stack)
    clock = FakeClock()
    instrument.clock = clock
    sleeps = Sleeps()
    urls = {"holysheep": refused_url(), "backup": base_url(healthy, "backup")}
    client = openai.OpenAI(base_url=urls["holysheep"], api_key="sk-test", max_retries=0,
                           http_client=http_client(instrument, provider=P, sleep=sleeps, base_urls=urls))
    for _ in range(12):
        answer = client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
        assert answer.usage.prompt_tokens > 0
    # 3 refused attempts per call until 10 failures open the breaker (4th call); then straight to backup.
    assert metric(instrument, "requests_total", provider="holysheep", status_code="error") == 10
    assert metric(instrument, "circuit_state", provider="holysheep", state=CIRCUIT_OPEN) == 1
    assert metric(instrument, "fallbacks_total", reason="error") == 4
    assert metric(instrument, "fallbacks_total", reason="circuit_open") == 8
    assert metric(instrument, "requests_total", provider="backup", model="deepseek-v3.2", status_code="200") == 12
    assert metric(instrument, "calls_total", model="gpt-4.1", status_code="200") == 12
    assert set(healthy.upstream.budgets) == {"deepseek-v3.2"}  # the body sent to the backup names the mapped model
    # After the cool-down one probe goes to the primary, fails, and the breaker opens again.
    clock.now += 31
    client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    assert metric(instrument, "requests_total", provider="holysheep", status_code="error") == 11
    assert metric(instrument, "circuit_state", provider="holysheep", state=CIRCUIT_OPEN) == 1


def policy(**changes):
    from holystack.model import build_resilience

    breaker = build_resilience({}).default.breaker
    return breaker.__class__(**{**breaker.__dict__, **changes})


def test_breaker_opens_half_opens_closes_and_reopens_on_a_failed_probe() -> None:
    clock = FakeClock()
    states = []
    breaker = CircuitBreaker(policy(failure_ratio=0.5, min_calls=4, half_open_probes=2), P,
                             on_change=lambda provider, state: states.append(state), clock=clock)
    for failed in (False, True, False):
        assert breaker.allow()
        breaker.record(failed)
    assert breaker.state == CIRCUIT_CLOSED  # 1 of 3: under min_calls
    breaker.allow()
    breaker.record(True)  # 2 of 4 failed: ratio 0.5 reached
    assert breaker.state == CIRCUIT_OPEN and not breaker.allow()
    clock.now += 29.9
    assert not breaker.allow()
    clock.now += 0.1
    assert breaker.state == CIRCUIT_HALF_OPEN
    assert breaker.allow() and breaker.allow() and not breaker.allow()  # two probes, no more
    breaker.record(False)
    assert breaker.state == CIRCUIT_HALF_OPEN
    breaker.record(False)
    assert breaker.state == CIRCUIT_CLOSED
    # Open again by count, then a failed probe re-opens it.
    breaker = CircuitBreaker(policy(failure_ratio=None, failure_count=2), P, clock=clock)
    for _ in range(2):
        breaker.allow()
        breaker.record(True)
    assert breaker.state == CIRCUIT_OPEN
    clock.now += 30
    assert breaker.allow()
    breaker.record(True)
    assert breaker.state == CIRCUIT_OPEN and not breaker.allow()
    assert states == [CIRCUIT_CLOSED, CIRCUIT_OPEN, CIRCUIT_HALF_OPEN, CIRCUIT_CLOSED]


def test_breaker_window_forgets_old_failures() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(policy(failure_ratio=None, failure_count=3), P, clock=clock)
    for _ in range(2):
        breaker.allow()
        breaker.record(True)
    clock.now += 61
    breaker.allow()
    breaker.record(True)
    assert breaker.state == CIRCUIT_CLOSED


def test_breaker_is_thread_safe() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(policy(failure_ratio=None, failure_count=1000, window=policy().window), P, clock=clock)

    def hammer() -> None:
        for _ in range(400):
            if breaker.allow():
                breaker.record(True)

    threads = [threading.Thread(target=hammer) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert breaker.state == CIRCUIT_OPEN  # exactly the 1000th failure opened it, whatever the interleaving


def test_circuit_state_gauge_has_one_state_at_1() -> None:
    instrument = instrument_for()
    instrument.set_circuit_state(P, CIRCUIT_OPEN)
    got = {dict(ls)["state"]: v for (n, ls), v in samples(instrument.registry).items() if n == f"{P}_circuit_state"}
    assert got == {CIRCUIT_CLOSED: 0, CIRCUIT_OPEN: 1, CIRCUIT_HALF_OPEN: 0}


# --- retry waits from the headers -------------------------------------------------------------------

@pytest.mark.parametrize("headers, expected", [
    ({"retry-after-ms": "800", "retry-after": "2"}, 0.8),  # -ms first
    ({"retry-after": "2"}, 2.0),
    ({"retry-after": "1.5"}, 1.5),  # seconds need not be an integer
    ({"retry-after": "Sat, 28 Nov 2026 03:00:07 GMT"}, 7.0),  # an HTTP date, against now
    ({"retry-after": "Sat, 28 Nov 2026 02:59:00 GMT"}, 0.0),  # in the past: no wait
    ({"retry-after": "soon"}, None),
    ({"retry-after-ms": "nan", "retry-after": "3"}, 3.0),
    ({}, None),
])
def test_retry_after(headers, expected) -> None:
    now = 1795834800.0  # 2026-11-28 03:00:00 UTC
    assert retry_after_seconds(httpx2.Headers(headers), now) == expected


def test_retry_waits_are_capped_and_bounded_by_the_budget(limited) -> None:
    """A retry-after longer than the cap waits the cap; waits never exceed max_wait in all."""
    instrument = instrument_for()
    sleeps = Sleeps()
    client = sdk(instrument, limited, sleep=sleeps)
    for _ in range(10):
        try:
            client.embeddings.create(model="text-embedding-3-small", input="x")
        except openai.RateLimitError:
            pass
    retry = load_stack(EXAMPLE).resilience.default.retry
    assert sleeps and max(sleeps) <= retry.backoff_cap.seconds


# --- record_call and track() --------------------------------------------------------------------------

def test_sdk_objects_and_chunk_lists_are_read(healthy, caplog) -> None:
    """Defect: call.response(200, completion) with the SDK's object recorded 0 tokens silently."""
    raw = openai.OpenAI(base_url=base_url(healthy), api_key="sk-test", max_retries=0)
    completion = raw.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    chunks = list(raw.chat.completions.create(model="gpt-4.1", messages=MESSAGES, stream=True,
                                              stream_options={"include_usage": True}))
    instrument = instrument_for()
    with instrument.track(provider=P, endpoint=CHAT, model="gpt-4.1") as call:
        call.response(200, completion)
    instrument.record_call(provider=P, endpoint=CHAT, model="gpt-4.1", status=200, seconds=0.1, body=chunks)
    expected = completion.usage.prompt_tokens + chunks[-1].usage.prompt_tokens
    assert metric(instrument, "tokens_total", token_type="prompt") == expected
    assert metric(instrument, "calls_total", status_code="200") == 2  # recorded calls are logical calls
    # An unreadable body warns, once per process.
    usage_module._warned.clear()
    for _ in range(3):
        instrument.record_call(provider=P, endpoint=CHAT, model="gpt-4.1", status=200, seconds=0.1, body=object())
    assert sum("no token usage" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.parametrize("body, expected", [
    # Anthropic Messages: input_tokens excludes the cache; prompt = all input, cached = cache reads,
    # cache_write = cache writes, cache_write_1h = the part of them written for one hour.
    ({"type": "message", "usage": {"input_tokens": 30, "cache_read_input_tokens": 1000,
                                   "cache_creation_input_tokens": 200, "output_tokens": 55}}, (1230, 55, 1000, 200)),
    ({"type": "message", "usage": {"input_tokens": 30, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 500,
                                   "cache_creation": {"ephemeral_5m_input_tokens": 200,
                                                      "ephemeral_1h_input_tokens": 300},
                                   "output_tokens": 5}}, (530, 5, 0, 500, 300)),
    ([{"type": "message_start", "message": {"usage": {"input_tokens": 30, "cache_read_input_tokens": 1000,
                                                      "cache_creation_input_tokens": 0, "output_tokens": 1}}},
      {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "hi"}},
      {"type": "message_delta", "usage": {"output_tokens": 42}}], (1030, 42, 1000)),
    # A stream keeps message_start's cache writes past the last message_delta.
    ([{"type": "message_start", "message": {"usage": {"input_tokens": 30, "cache_read_input_tokens": 0,
                                                      "cache_creation_input_tokens": 700, "output_tokens": 1,
                                                      "cache_creation": {"ephemeral_1h_input_tokens": 700}}}},
      {"type": "message_delta", "usage": {"output_tokens": 9}}], (730, 9, 0, 700, 700)),
    # Gemini: promptTokenCount includes the cached content; thoughts are output.
    ({"usageMetadata": {"promptTokenCount": 900, "cachedContentTokenCount": 600, "candidatesTokenCount": 80,
                        "thoughtsTokenCount": 20}}, (900, 100, 600)),
    ({"usage_metadata": {"prompt_token_count": 50, "candidates_token_count": 7}}, (50, 7, 0)),
])
def test_usage_of_anthropic_and_gemini(body, expected) -> None:
    assert usage_from_body(body) == Usage(*expected)


ReadTimeout = type("ReadTimeout", (Exception,), {})


class LiteLLMTimeout(Exception):
    """Like litellm.Timeout: claims HTTP 408 (its class name says nothing about the transport)."""

    status_code = 408


LiteLLMTimeout.__name__ = "WrappedError"


class LiteLLMConnectionError(Exception):
    status_code = 500


def test_status_of_error_follows_the_cause_chain() -> None:
    """Defect: with LiteLLM a timeout counted as "408" and a refused connection as "500"."""
    try:
        try:
            raise ReadTimeout("read timed out")
        except Exception as inner:
            raise LiteLLMTimeout("Request timed out") from inner
    except Exception as error:
        assert status_of_error(error) == "timeout"
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except Exception:
            raise LiteLLMConnectionError("Connection error")  # implicit context
    except Exception as error:
        assert status_of_error(error) == "error"
    # A status error raised "from None" while handling an earlier timeout (an SDK retrying inside its
    # except block) is that status: a suppressed context is not a cause.
    try:
        try:
            raise ReadTimeout("first attempt timed out")
        except Exception:
            raise LiteLLMConnectionError("429 on the retry") from None
    except Exception as error:
        error.status_code = 429
        assert status_of_error(error) == 429
    real = httpx2.Response(503, request=httpx2.Request("POST", "http://x/v1/chat/completions"))
    assert status_of_error(httpx2.HTTPStatusError("503", request=real.request, response=real)) == 503


# --- imports ------------------------------------------------------------------------------------------

def test_import_loads_no_generator_code() -> None:
    """Defect: import holystack.instrument loaded jinja2, grafanalib, jsonschema and yaml."""
    code = ("import sys, holystack.instrument; "
            "print(' '.join(m for m in ('jinja2', 'grafanalib', 'jsonschema', 'typer', 'yaml', 'httpx', 'httpx2',"
            " 'holystack.model', 'holystack.pipeline', 'holystack.spec', 'asyncio') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == ""


# --- simulate's primary-outage, live -------------------------------------------------------------------

def test_primary_outage_live(tmp_path: Path) -> None:
    """simulate as a subprocess: the first provider refuses connections; /metrics shows the breaker
    open, fallbacks counted and the logical calls succeeding."""
    from holystack.live.playground import fast_spec, write_spec
    from holystack.spec import read_spec

    spec = write_spec(fast_spec(read_spec(EXAMPLE)), tmp_path / "spec.yaml")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    simulator = subprocess.Popen([sys.executable, "-m", "holystack", "simulate", str(spec), "--scenario",
                                  "primary-outage", "--duration", "30s", "--rps", "20", "--metrics-port", str(port)],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    found: dict = {}
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            time.sleep(1)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
                    text = answer.read().decode()
            except OSError:
                continue
            from prometheus_client.parser import text_string_to_metric_families

            found = {(s.name, tuple(sorted(s.labels.items()))): s.value
                     for family in text_string_to_metric_families(text) for s in family.samples}

            def total(name: str, **where: str) -> float:
                return sum(v for (n, ls), v in found.items() if n == f"{P}_{name}" and set(where.items()) <= set(ls))

            ok = total("calls_total", status_code="200")
            if (total("circuit_state", provider="holysheep", state="open") == 1
                    and total("fallbacks_total", from_provider="holysheep", to_provider="backup") > 0
                    and ok >= 100 and ok / total("calls_total") >= 0.95):
                break
        else:
            pytest.fail(f"primary-outage never showed an open breaker, fallbacks and successful calls: {found}")
    finally:
        simulator.terminate()
        output, _ = simulator.communicate(timeout=30)
    assert simulator.returncode == 0, output


def test_a_cancelled_probe_frees_its_slot() -> None:
    """An asyncio task cancelled mid-probe must not leave the breaker half-open with no probe slot."""
    clock = FakeClock()
    breaker = CircuitBreaker(policy(failure_ratio=None, failure_count=1), P, clock=clock)
    breaker.allow()
    breaker.record(True)
    clock.now += 30
    assert breaker.allow() and not breaker.allow()
    breaker.release()
    assert breaker.allow()


def test_an_idle_app_shows_its_breakers_closed_and_its_fallback_edges() -> None:
    instrument = Instrument.from_spec(EXAMPLE, registry=CollectorRegistry())
    got = samples(instrument.registry)
    assert got[(f"{P}_circuit_state", labels(provider="backup", state=CIRCUIT_CLOSED))] == 1
    assert got[(f"{P}_circuit_state", labels(provider="holysheep", state=CIRCUIT_OPEN))] == 0
    edges = {dict(ls)["reason"] for (n, ls), v in got.items() if n == f"{P}_fallbacks_total" and v == 0}
    assert edges == {"rate_limited", "server_error", "timeout", "error", "circuit_open"}


def test_only_the_http_library_asked_for_is_imported() -> None:
    code = ("import sys; from prometheus_client import CollectorRegistry; "
            "from holystack.instrument import Instrument, http_client; "
            f"i = Instrument.from_spec({str(EXAMPLE)!r}, registry=CollectorRegistry()); "
            "assert 'httpx' not in sys.modules and 'httpx2' not in sys.modules; "
            "http_client(i, 'holysheep', library='httpx').close(); "
            "print('httpx2' in sys.modules, 'httpx' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True"]
