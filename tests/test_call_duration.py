"""P_call_duration_seconds: one observation per logical call, from its start to its final answer,
retries and retry-after waits included, through the real openai SDK and through track() and
record_call. The waits are real here (0.3 s): the point is the time the user waited."""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import openai
import pytest
from prometheus_client import CollectorRegistry

from holystack.instrument import Instrument, async_http_client, http_client

from .hostile import Answer, HostileUpstream, hang, sse
from .test_instrument import labels, samples
from .test_transport import MESSAGES, P, metric, without_fallbacks

MODEL = "deepseek-v3.2"
CHAT = "/chat/completions"
RETRY_AFTER_MS = 300
JSON = [("content-type", "application/json")]
EVENTS = [("content-type", "text/event-stream")]
COMPLETION = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": MODEL,
              "choices": [{"index": 0, "finish_reason": "stop",
                           "message": {"role": "assistant", "content": "pong"}}],
              "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}


def chunk(**fields: Any) -> dict[str, Any]:
    return {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": MODEL, "choices": [], **fields}


STREAM = sse([chunk(choices=[{"index": 0, "delta": {"role": "assistant", "content": "po"}}]),
              chunk(choices=[{"index": 0, "delta": {"content": "ng"}, "finish_reason": "stop"}]),
              chunk(usage={"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5})])
RATE_LIMITED = Answer(429, JSON + [("retry-after-ms", str(RETRY_AFTER_MS))],
                      json.dumps({"error": {"message": "slow down", "type": "rate_limit"}}).encode())


def in_turn(*answers: list[Any]) -> Callable[[], list[Any]]:
    """Each request gets the next answer's pieces; the last one repeats."""
    queue = list(answers)
    return lambda: queue.pop(0) if len(queue) > 1 else queue[0]


def instrument() -> Instrument:
    return Instrument.from_spec(without_fallbacks(), registry=CollectorRegistry(), initialize=False)


def durations(inst: Instrument) -> tuple[float, float]:
    """(observations, their sum) of P_call_duration_seconds for the chat endpoint and model."""
    where = {"endpoint": CHAT, "model": MODEL}
    return metric(inst, "call_duration_seconds_count", **where), metric(inst, "call_duration_seconds_sum", **where)


@pytest.mark.parametrize("stream", [False, True])
def test_a_429_with_retry_after_ms_then_200_is_one_observation_of_at_least_the_wait(stream: bool) -> None:
    """The 429's retry-after-ms (300) is really waited (the default sleep), and the user's wait,
    one logical call, holds it; each attempt's own histogram holds only its attempt."""
    ok = Answer(200, EVENTS if stream else JSON, STREAM if stream else json.dumps(COMPLETION).encode())
    server = HostileUpstream(in_turn(RATE_LIMITED.pieces(), ok.pieces())).start()
    try:
        inst = instrument()
        client = openai.OpenAI(base_url=f"{server.url}/{P}/v1", api_key="sk-test", max_retries=0,
                               http_client=http_client(inst, provider=P))
        if stream:
            with client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True,
                                                stream_options={"include_usage": True}) as chunks:
                for _ in chunks:
                    pass
        else:
            client.chat.completions.create(model=MODEL, messages=MESSAGES)
        client.close()
    finally:
        server.stop()
    assert server.requests == 2
    assert metric(inst, "requests_total") == 2
    count, seconds = durations(inst)
    assert count == 1
    assert seconds >= RETRY_AFTER_MS / 1000
    attempts = metric(inst, "request_duration_seconds_sum")
    assert seconds >= attempts + RETRY_AFTER_MS / 1000 - 0.001  # the wait is in the call, not in any attempt
    if stream:  # time to first token is the user's too: from the start of the call, the wait included
        assert metric(inst, "time_to_first_token_seconds_count") == 1
        assert metric(inst, "time_to_first_token_seconds_sum") >= RETRY_AFTER_MS / 1000


def test_a_stream_is_observed_until_it_ends() -> None:
    """A stream that holds its last event back is observed once, after that event arrived."""
    pause = 0.2
    head, tail = STREAM.split(b"\n\n", 1)
    answer = [b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n",
              head + b"\n\n", hang(pause), tail]
    server = HostileUpstream(lambda: answer).start()
    try:
        inst = instrument()
        client = openai.OpenAI(base_url=f"{server.url}/{P}/v1", api_key="sk-test", max_retries=0,
                               http_client=http_client(inst, provider=P))
        with client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True,
                                            stream_options={"include_usage": True}) as chunks:
            first = next(iter(chunks))
            assert durations(inst)[0] == 0  # not yet: the stream has not ended
            assert first.choices[0].delta.content == "po"
            for _ in chunks:
                pass
        client.close()
    finally:
        server.stop()
    count, seconds = durations(inst)
    assert count == 1 and seconds >= pause


def test_async_client_observes_each_logical_call_once() -> None:
    import asyncio

    server = HostileUpstream(in_turn(RATE_LIMITED.pieces(), Answer(200, JSON, json.dumps(COMPLETION).encode())
                                     .pieces())).start()

    async def main(inst: Instrument) -> None:
        client = openai.AsyncOpenAI(base_url=f"{server.url}/{P}/v1", api_key="sk-test", max_retries=0,
                                    http_client=async_http_client(inst, provider=P))
        await client.chat.completions.create(model=MODEL, messages=MESSAGES)
        await client.close()

    try:
        inst = instrument()
        asyncio.run(main(inst))
    finally:
        server.stop()
    count, seconds = durations(inst)
    assert count == 1 and seconds >= RETRY_AFTER_MS / 1000


def test_track_and_record_call_observe_the_logical_call() -> None:
    """track() times the block, its failures included; record_call observes the seconds given;
    record_call(logical=False) is an attempt only."""
    inst = instrument()
    with inst.track(provider=P, endpoint=CHAT, model=MODEL) as call:
        time.sleep(0.05)
        call.response(200, COMPLETION)
    with pytest.raises(TimeoutError), inst.track(provider=P, endpoint=CHAT, model=MODEL):
        raise TimeoutError
    inst.record_call(provider=P, endpoint=CHAT, model=MODEL, status=200, seconds=2.0, body=COMPLETION)
    inst.record_call(provider=P, endpoint=CHAT, model=MODEL, status=200, seconds=9.0, body=COMPLETION,
                     logical=False)
    count, seconds = durations(inst)
    assert count == 3
    assert 2.05 <= seconds < 9.0
    assert metric(inst, "call_duration_seconds_bucket", endpoint=CHAT, model=MODEL, le="+Inf") == 3


def test_an_idle_app_exposes_the_histogram_for_every_endpoint_and_model() -> None:
    stack = without_fallbacks()
    exposed = samples(Instrument.from_spec(stack, registry=CollectorRegistry()).registry)
    for endpoint in stack.endpoints:
        for model in stack.models:
            assert exposed[(f"{P}_call_duration_seconds_count", labels(endpoint=endpoint.path, model=model.name))] == 0
