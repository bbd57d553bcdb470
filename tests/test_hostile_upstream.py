"""The instrument under a hostile upstream, through the real openai SDK: whatever bytes, statuses,
headers and SSE events come back, the caller sees what the SDK alone shows (the same exception type,
or none), every attempt the upstream read is counted once, the logical call once, and no retry is
counted that did not happen. One test per defect found by fuzzing (issue 17), then property tests
(hypothesis, the "ci" profile of tests/conftest.py: bounded and derandomized)."""
from __future__ import annotations

import dataclasses
import json
import zlib
from collections.abc import Callable
from typing import Any

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


def through_both(answer: Callable[[], list[Any]], stream: bool = False, stack: Any = STACK,
                 timeout: float | None = SDK_TIMEOUT, alone: bool = True) -> Seen:
    """The same call with the SDK alone (unless not alone), then with holystack's transport (the
    README's one line), against an upstream that answers every request with answer()."""
    server = HostileUpstream(answer).start()
    try:
        options = {} if timeout is None else {"timeout": timeout}
        by_itself = call(openai.OpenAI(base_url=base_url(server), api_key="sk-test", max_retries=0, **options),
                         stream) if alone else None
        before = server.requests
        instrument = Instrument.from_spec(stack, registry=CollectorRegistry(), initialize=False)
        sleeps = Sleeps()
        client = openai.OpenAI(base_url=base_url(server), api_key="sk-test", max_retries=0, **options,
                               http_client=http_client(instrument, provider=P, sleep=sleeps))
        instrumented = call(client, stream)
        client.close()
        return Seen(by_itself, instrumented, server.requests - before, instrument, sleeps)
    finally:
        server.stop()


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
