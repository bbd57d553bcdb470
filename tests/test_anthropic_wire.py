"""Anthropic's wire through holystack's transport: its anthropic-ratelimit-* headers fill the
rate-limit gauges (one resource per kind), its 529 "overloaded" is retried by default like a 5xx,
and the retry-after of a 429 or a 529 is the wait. Real HTTP on loopback, httpx2 as the SDK uses it."""
from __future__ import annotations

import json

import pytest

from holystack import contract as c
from holystack.instrument import http_client
from holystack.instrument.usage import RATELIMIT_HEADERS

from .hostile import Answer, HostileUpstream
from .test_call_duration import in_turn, instrument
from .test_transport import P, Sleeps, metric

MODEL = "claude-sonnet-4.5"
MESSAGES = "/messages"
JSON = [("content-type", "application/json")]
LIMITS = {c.RESOURCE_REQUESTS: (50, 49), c.RESOURCE_TOKENS: (90_000, 89_000),
          c.RESOURCE_INPUT_TOKENS: (80_000, 79_500), c.RESOURCE_OUTPUT_TOKENS: (16_000, 15_900)}
HEADERS = [(f"anthropic-ratelimit-{resource.replace('_', '-')}-{kind}", str(value))
           for resource, (limit, remaining) in LIMITS.items()
           for kind, value in (("limit", limit), ("remaining", remaining))]
MESSAGE = {"id": "msg_1", "type": "message", "role": "assistant", "model": MODEL, "stop_reason": "end_turn",
           "content": [{"type": "text", "text": "pong"}],
           "usage": {"input_tokens": 12, "output_tokens": 3, "cache_read_input_tokens": 4,
                     "cache_creation_input_tokens": 0}}
OVERLOADED = json.dumps({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}).encode()


def post(server: HostileUpstream, sleeps: Sleeps):  # type: ignore[no-untyped-def]
    inst = instrument()
    with http_client(inst, provider=P, sleep=sleeps) as client:
        response = client.post(f"{server.url}/{P}/v1{MESSAGES}", json={"model": MODEL, "max_tokens": 5,
                                                                         "messages": [{"role": "user", "content": "ping"}]})
    return inst, response


def test_the_header_vocabulary_covers_every_resource() -> None:
    anthropic = {(kind, resource) for kind, resource, name in RATELIMIT_HEADERS if name.startswith("anthropic-")}
    assert anthropic == {(kind, resource) for kind in ("limit", "remaining") for resource in c.RESOURCES}


@pytest.mark.parametrize(("status", "wait_header", "wait"), [(529, ("retry-after", "2"), 2.0),
                                                             (429, ("retry-after", "1"), 1.0),
                                                             (529, None, None)])
def test_529_and_429_are_retried_with_their_retry_after(status: int, wait_header, wait) -> None:  # type: ignore[no-untyped-def]
    failed = Answer(status, JSON + ([wait_header] if wait_header else []), OVERLOADED)
    ok = Answer(200, JSON + HEADERS, json.dumps(MESSAGE).encode())
    server = HostileUpstream(in_turn(failed.pieces(), ok.pieces())).start()
    sleeps = Sleeps()
    try:
        inst, response = post(server, sleeps)
    finally:
        server.stop()
    assert response.status_code == 200
    assert server.requests == 2
    assert metric(inst, "requests_total", status_code=str(status)) == 1
    assert metric(inst, "calls_total", status_code="200") == 1
    reason = c.REASON_RATE_LIMITED if status == 429 else c.REASON_SERVER_ERROR
    assert metric(inst, "retries_total", reason=reason) == 1
    assert len(sleeps) == 1
    if wait is not None:
        assert sleeps == [wait]
    # the gauges: one resource per kind, from the anthropic-ratelimit-* headers of the answer
    for resource, (limit, remaining) in LIMITS.items():
        assert metric(inst, "ratelimit_limit", resource=resource, model=MODEL) == limit
        assert metric(inst, "ratelimit_remaining", resource=resource, model=MODEL) == remaining
    # cache reads are counted as today: prompt = input + cache reads + cache writes, cached = reads
    assert metric(inst, "tokens_total", token_type="prompt") == 16
    assert metric(inst, "tokens_total", token_type="cached_prompt") == 4
    assert metric(inst, "tokens_total", token_type="completion") == 3
