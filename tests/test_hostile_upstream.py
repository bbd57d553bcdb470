"""The instrument under a hostile upstream, through the real openai SDK: whatever bytes, statuses,
headers and SSE events come back, the caller sees what the SDK alone shows (the same exception type,
or none), every attempt the upstream read is counted once, the logical call once, and no retry is
counted that did not happen. One test per defect found by fuzzing (issue 17), then property tests
(hypothesis, the "ci" profile of tests/conftest.py: bounded and derandomized)."""
from __future__ import annotations

import asyncio
import dataclasses
import json
import ssl
import zlib
from collections.abc import Callable
from typing import Any

import httpx2
import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from holystack.instrument import Instrument, http_client
from holystack.model import Duration

from .hostile import Answer, HostileUpstream, gzipped, hang, sse
from .test_transport import MESSAGES, P, Sleeps, metric, without_fallbacks

MODEL = "deepseek-v3.2"
STACK = without_fallbacks()
MAX_ATTEMPTS = STACK.resilience.for_provider(P).retry.max_attempts
SDK_TIMEOUT = 10.0  # only a safety net: no answer below takes this long


def base_url(server: HostileUpstream) -> str:
    return f"{server.url}/{P}/v1"


def call(client: openai.OpenAI, stream: bool) -> str | None:
    """One chat call, a stream read to its end; the name of the exception it raised, if any."""
    try:
        if stream:
            with client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True,
                                                stream_options={"include_usage": True}) as chunks:
                for _ in chunks:
                    pass
        else:
            client.chat.completions.create(model=MODEL, messages=MESSAGES)
    except Exception as error:  # what the caller's code sees is the point
        return type(error).__name__
    return None


@dataclasses.dataclass
class Seen:
    alone: str | None  # what the SDK alone raised
    instrumented: str | None  # what it raised with holystack's transport
    attempts: int  # requests the upstream read from holystack's client
    instrument: Instrument
    sleeps: Sleeps

    def count(self, name: str, **where: str) -> float:
        return metric(self.instrument, name, **where)


@pytest.fixture(scope="module", autouse=True)
def upstream() -> Any:
    """One hostile upstream for the module (stopping one waits half a second); each call sets its answer."""
    server = HostileUpstream(lambda: []).start()
    UPSTREAM.append(server)
    yield server
    UPSTREAM.clear()
    for client in ALONE.values():
        client.close()
    ALONE.clear()
    server.stop()


UPSTREAM: list[HostileUpstream] = []
ALONE: dict[float | None, openai.OpenAI] = {}  # the SDK alone, by timeout
TLS = ssl.create_default_context()


def through_both(answer: Callable[[], list[Any]], stream: bool = False, stack: Any = STACK,
                 timeout: float | None = SDK_TIMEOUT, alone: bool = True) -> Seen:
    """The same call with the SDK alone (unless not alone), then with holystack's transport (the
    README's one line), against an upstream that answers every request with answer()."""
    server = UPSTREAM[0]
    server.answer = answer
    options = {} if timeout is None else {"timeout": timeout}
    if alone and timeout not in ALONE:  # one client each: building one loads the CA store (70ms)
        ALONE[timeout] = openai.OpenAI(base_url=base_url(server), api_key="sk-test", max_retries=0, **options)
    by_itself = call(ALONE[timeout], stream) if alone else None
    before = server.requests
    instrument = Instrument.from_spec(stack, registry=CollectorRegistry(), initialize=False)
    sleeps = Sleeps()
    inner = httpx2.HTTPTransport(verify=TLS)  # the SDK's own transport, its CA store loaded once
    client = openai.OpenAI(base_url=base_url(server), api_key="sk-test", max_retries=0, **options,
                           http_client=http_client(instrument, provider=P, sleep=sleeps, inner=inner))
    instrumented = call(client, stream)
    client.close()
    return Seen(by_itself, instrumented, server.requests - before, instrument, sleeps)


def assert_faithful(seen: Seen) -> None:
    """The caller sees what the SDK alone shows; every attempt and the call counted; retries real."""
    assert seen.instrumented == seen.alone
    assert seen.attempts >= 1
    assert seen.count("requests_total") == seen.attempts
    assert seen.count("calls_total") == 1
    assert seen.count("retries_total") == seen.attempts - 1 == len(seen.sleeps)


def fixed(answer: Answer) -> Callable[[], list[Any]]:
    return answer.pieces


JSON = [("content-type", "application/json")]
EVENTS = [("content-type", "text/event-stream")]


def chunk(**fields: Any) -> dict[str, Any]:
    return {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": MODEL, "choices": [], **fields}


# --- one test per defect -----------------------------------------------------------------------------

@pytest.mark.parametrize("stream", [False, True])
def test_gzip_header_over_garbage_gives_what_the_sdk_gives(stream: bool) -> None:
    """Was zlib.error raised into the caller's code; the SDK alone gives APIConnectionError. The
    caller's call failed on the body, so the 200 counts as "error"."""
    answer = Answer(200, (EVENTS if stream else JSON) + [("content-encoding", "gzip")], b"\x1f\x8bgarbage" * 50)
    seen = through_both(fixed(answer), stream)
    assert seen.alone == "APIConnectionError"
    assert_faithful(seen)
    assert seen.count("requests_total", status_code="error") == seen.count("calls_total", status_code="error") == 1


@pytest.mark.parametrize("status", [600, 999])
def test_status_outside_http_is_counted_as_error(status: int) -> None:
    """Was ValueError, nothing counted."""
    seen = through_both(fixed(Answer(status, JSON, b'{"error": {"message": "odd"}}')))
    assert_faithful(seen)
    assert seen.count("requests_total", status_code="error") == 1
    assert seen.count("calls_total", status_code="error") == 1


@pytest.mark.parametrize("event", [
    chunk(choices="oops"), chunk(choices=[1]), chunk(choices=[{"delta": "text"}]), chunk(choices=[{"delta": [1]}]),
    {"type": "message_start", "message": "text"}, {"type": "response.completed", "response": [1, 2]},
], ids=["choices-str", "choices-int", "delta-str", "delta-list", "message-str", "response-list"])
def test_malformed_stream_events_pass_and_the_200_counts_as_200(event: dict[str, Any]) -> None:
    """Were AttributeError mid-stream and a 200 counted as error."""
    usage = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
    seen = through_both(fixed(Answer(200, EVENTS, sse([event, chunk(usage=usage)]))), stream=True)
    assert_faithful(seen)
    assert seen.count("requests_total", status_code="200") == 1
    assert seen.count("tokens_total", token_type="prompt") == 7


@pytest.mark.parametrize("stream", [False, True])
def test_a_token_count_of_1e400_counts_as_nothing(stream: bool) -> None:
    """Was OverflowError (json reads 1e400 as inf)."""
    usage = b'{"prompt_tokens": 1e400, "completion_tokens": 3, "total_tokens": 1e400}'
    body = (b'data: {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [], '
            b'"usage": ' + usage + b'}\n\ndata: [DONE]\n\n') if stream else (
        b'{"id": "c", "object": "chat.completion", "created": 1, "model": "m", "choices": [], "usage": ' + usage + b'}')
    seen = through_both(fixed(Answer(200, EVENTS if stream else JSON, body)), stream)
    assert_faithful(seen)
    assert seen.count("tokens_total", token_type="prompt") == 0
    assert seen.count("tokens_total", token_type="completion") == 3


def test_a_reset_during_a_503_body_counts_every_attempt_and_no_phantom_retry() -> None:
    """Was: nothing counted, and a retry counted that never happened."""
    answer = Answer(503, JSON, b'{"error": {"mess', length="short", reset=True)
    seen = through_both(fixed(answer))
    assert_faithful(seen)
    assert seen.attempts == MAX_ATTEMPTS
    assert seen.count("requests_total", status_code="error") == MAX_ATTEMPTS
    assert seen.count("retries_total", reason="error") == MAX_ATTEMPTS - 1


def test_one_huge_sse_line_is_read_in_linear_time() -> None:
    """Was quadratic: the unfinished line was copied again for every chunk (20s for 32 MB against
    0.8s for the SDK alone; bench/transport.py measures it). Checked by what is copied, not by a
    clock: the pieces of an unfinished line are kept as they came, and joined once it ends."""
    from holystack.instrument.transport import _Observer

    line = b"data: " + json.dumps(chunk(usage={"prompt_tokens": 5, "completion_tokens": 1},
                                        pad="x" * 2_000_000)).encode() + b"\n\n"
    unfinished = line[:-2]
    pieces = [unfinished[i:i + 4096] for i in range(0, len(unfinished), 4096)]
    seen = through_both(fixed(Answer(200, EVENTS, line + b"data: [DONE]\n\n")), stream=True)
    assert_faithful(seen)
    assert seen.count("tokens_total", token_type="prompt") == 5
    observer = _Observer.__new__(_Observer)
    observer.pending = []
    for piece in pieces:
        observer._lines(piece)
    assert len(observer.pending) == len(pieces) > 400
    assert all(kept is piece for kept, piece in zip(observer.pending, pieces))  # no copy per chunk


def test_the_spec_timeout_applies_through_the_readme_one_liner() -> None:
    """Was ignored: the openai SDK sends its own per-request timeout, 600s unless the http_client's
    differs from httpx's default (5s), so a provider timeout of 5s became 600s. The upstream holds
    the answer 8s; the provider's 5s ends the attempt (one attempt here, to keep the test short)."""
    one_attempt = dataclasses.replace(STACK.resilience.default,
                                      retry=dataclasses.replace(STACK.resilience.default.retry, max_attempts=1))
    stack = dataclasses.replace(
        STACK, providers=tuple(dataclasses.replace(p, timeout=Duration.parse("5s")) if p.name == P else p
                               for p in STACK.providers),
        resilience=dataclasses.replace(STACK.resilience, providers=((P, one_attempt),)))
    held = Answer(200, JSON, b"{}").pieces()
    seen = through_both(lambda: [hang(8.0), *held], stack=stack, timeout=None, alone=False)
    assert seen.instrumented == "APITimeoutError"
    assert seen.attempts == 1
    assert seen.count("requests_total", status_code="timeout") == seen.count("calls_total", status_code="timeout") == 1


def test_an_open_breaker_without_fallback_fails_at_once_and_counts_the_call() -> None:
    """Two 503s open the breaker (failure_count 2); the next call sends nothing upstream, fails with
    a connection error, and counts one logical call as error."""
    default = STACK.resilience.default
    tripping = dataclasses.replace(default, breaker=dataclasses.replace(default.breaker, failure_count=2,
                                                                        failure_ratio=None))
    stack = dataclasses.replace(STACK, resilience=dataclasses.replace(STACK.resilience, providers=((P, tripping),)))
    seen = through_both(fixed(Answer(503, JSON, b'{"error": {"message": "down"}}')), stack=stack)
    assert_faithful(seen)
    assert seen.alone == "InternalServerError" and seen.attempts == 2
    server = UPSTREAM[0]
    before = server.requests
    client = openai.OpenAI(base_url=base_url(server), api_key="sk-test", max_retries=0, timeout=SDK_TIMEOUT,
                           http_client=http_client(seen.instrument, provider=P, sleep=Sleeps()))
    assert call(client, stream=False) == "APIConnectionError"
    assert server.requests == before
    assert seen.count("calls_total", status_code="error") == 1 and seen.count("requests_total") == 2


async def call_async(client: openai.AsyncOpenAI, stream: bool) -> str | None:
    try:
        if stream:
            chunks = await client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True,
                                                          stream_options={"include_usage": True})
            async with chunks:
                async for _ in chunks:
                    pass
        else:
            await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    except Exception as error:
        return type(error).__name__
    return None


@pytest.mark.parametrize("answer", [
    Answer(200, JSON + [("content-encoding", "gzip")], b"\x1f\x8bgarbage"),
    Answer(999, JSON, b"{}"),
    Answer(503, JSON, b'{"error": {"mess', length="short", reset=True),
    Answer(200, EVENTS, sse([chunk(choices=[{"delta": "text"}]), {"type": "message_start", "message": 1}])),
], ids=["gzip-garbage", "status-999", "reset-in-503", "malformed-events"])
@pytest.mark.parametrize("stream", [False, True])
def test_the_async_transport_is_as_faithful(answer: Answer, stream: bool) -> None:
    """The asyncio twin, through AsyncOpenAI and async_http_client."""
    from holystack.instrument import async_http_client

    server = UPSTREAM[0]
    server.answer = answer.pieces
    instrument = Instrument.from_spec(STACK, registry=CollectorRegistry(), initialize=False)
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async def both() -> tuple[str | None, str | None, int]:
        alone = openai.AsyncOpenAI(base_url=base_url(server), api_key="sk-test", max_retries=0, timeout=SDK_TIMEOUT)
        by_itself = await call_async(alone, stream)
        await alone.close()
        before = server.requests
        client = openai.AsyncOpenAI(base_url=base_url(server), api_key="sk-test", max_retries=0, timeout=SDK_TIMEOUT,
                                    http_client=async_http_client(instrument, provider=P, async_sleep=sleep))
        instrumented = await call_async(client, stream)
        await client.close()
        return by_itself, instrumented, server.requests - before

    by_itself, instrumented, attempts = asyncio.run(both())
    assert_faithful(Seen(by_itself, instrumented, attempts, instrument, Sleeps(waits)))


# --- property tests: random bytes, statuses, headers and SSE events ----------------------------------
# 1xx statuses are left out: an HTTP client waits for the final answer after one, as it must.
STATUSES = st.one_of(st.sampled_from([200, 200, 200, 201, 204, 302, 400, 404, 429, 500, 502, 503, 504, 599, 600, 999]),
                     st.integers(200, 999))
HEADER_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30)
JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70), st.floats(), st.text(max_size=8))
JSON_ANY = st.recursive(JSON_LEAF, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                           st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                        max_leaves=8)
USAGE_KEYS = ["prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details", "input_tokens",
              "output_tokens", "cache_read_input_tokens"]
HOSTILE_USAGE = st.one_of(JSON_ANY, st.dictionaries(st.sampled_from(USAGE_KEYS), JSON_ANY, max_size=4))
EVENT = st.one_of(
    st.fixed_dictionaries({}, optional={"id": JSON_ANY, "object": st.just("chat.completion.chunk"), "created": JSON_ANY,
                                        "model": JSON_ANY, "choices": JSON_ANY, "usage": HOSTILE_USAGE}),
    st.builds(lambda delta, usage: chunk(choices=[{"index": 0, "delta": delta}], usage=usage), JSON_ANY, HOSTILE_USAGE),
    st.fixed_dictionaries({"type": st.sampled_from(["message_start", "message_delta", "response.completed",
                                                     "content_block_delta", "response.output_text.delta"])},
                          optional={"message": JSON_ANY, "response": JSON_ANY, "usage": HOSTILE_USAGE}),
    JSON_ANY)
SSE_LINE = st.one_of(EVENT.map(lambda e: b"data: " + json.dumps(e).encode() + b"\n\n"),
                     st.binary(max_size=40), st.sampled_from([b"data: [DONE]\n\n", b": ping\n\n", b"data:\n\n",
                                                               b'data: {"usage": {"prompt_tokens": 1e400}}\n\n']))
BODY = st.one_of(
    st.binary(max_size=300),
    st.builds(lambda usage: json.dumps({"id": "c", "object": "chat.completion", "created": 1, "model": MODEL,
                                        "choices": [], "usage": usage}).encode(), HOSTILE_USAGE),
    st.lists(SSE_LINE, max_size=6).map(b"".join))


@st.composite
def answers(draw: Any) -> Answer:
    content_type = draw(st.sampled_from(["application/json", "text/event-stream", "text/plain", None]))
    encoding = draw(st.sampled_from([None, None, "gzip", "gzip-garbage", "deflate", "deflate-raw", "br"]))
    body = draw(BODY)
    headers = [("content-type", content_type)] if content_type else []
    if encoding in ("gzip", "gzip-garbage"):
        body = gzipped(body) if encoding == "gzip" else b"\x1f\x8b" + body
        headers.append(("content-encoding", "gzip"))
    elif encoding in ("deflate", "deflate-raw"):
        packer = zlib.compressobj(wbits=zlib.MAX_WBITS if encoding == "deflate" else -zlib.MAX_WBITS)
        body = packer.compress(body) + packer.flush()
        headers.append(("content-encoding", "deflate"))
    elif encoding:
        headers.append(("content-encoding", encoding))
    for name in draw(st.lists(st.sampled_from(["retry-after", "retry-after-ms", "x-ratelimit-remaining-requests",
                                               "x-ratelimit-limit-tokens", "x-request-id", "x-should-retry"]),
                              max_size=3, unique=True)):
        headers.append((name, draw(st.one_of(HEADER_TEXT, st.sampled_from(["1e400", "nan", "-1", "0.2", "inf"])))))
    return Answer(draw(STATUSES), headers, body, draw(st.sampled_from(["exact", "exact", "none", "short", "chunked"])),
                  draw(st.booleans()))


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answer=answers(), stream=st.booleans())
def test_any_answer_reaches_the_caller_as_without_holystack_and_is_counted(answer: Answer, stream: bool) -> None:
    seen = through_both(fixed(answer), stream)
    assert_faithful(seen)
