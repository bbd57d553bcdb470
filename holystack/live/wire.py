"""The Anthropic Messages and Gemini wire formats the fake upstream serves, as the official SDKs
validate them: plain bodies, stream events, error bodies, rate-limit headers."""
from __future__ import annotations

import json
import re
from typing import Any

from ..contract import GEMINI_METHODS, RESOURCES

ANTHROPIC = "anthropic"
GEMINI = "gemini"
GEMINI_PATH = re.compile(r".*/models/(?P<model>[^/:]+):(?P<method>%s)" % "|".join(GEMINI_METHODS))
# Anthropic's "overloaded", which it sends instead of a 503.
OVERLOADED = 529


def gemini_call(path: str) -> tuple[str, str] | None:
    """(model, method) of a Gemini URL path (the query string cut off), or None."""
    found = GEMINI_PATH.fullmatch(path.split("?", 1)[0])
    return (found["model"], found["method"]) if found else None


def anthropic_message(model: str, usage: dict[str, int], call_id: int) -> dict[str, Any]:
    """A Messages answer; prompt tokens split as Anthropic reports them (input + cache reads)."""
    return {"id": f"msg_{call_id:024d}", "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": "pong"}], "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": usage["prompt"] - usage["cached"], "output_tokens": usage["completion"],
                      "cache_read_input_tokens": usage["cached"], "cache_creation_input_tokens": 0}}


def anthropic_events(body: dict[str, Any]) -> list[bytes]:
    """A Messages answer as its stream: message_start (input usage), text deltas, message_delta
    (output usage), message_stop."""
    usage = body["usage"]
    start = {**body, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
    events = [("message_start", {"type": "message_start", "message": start}),
              ("content_block_start", {"type": "content_block_start", "index": 0,
                                       "content_block": {"type": "text", "text": ""}})]
    for piece in ("po", "ng"):
        events.append(("content_block_delta", {"type": "content_block_delta", "index": 0,
                                               "delta": {"type": "text_delta", "text": piece}}))
    events += [("content_block_stop", {"type": "content_block_stop", "index": 0}),
               ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                  "usage": {"output_tokens": usage["output_tokens"]}}),
               ("message_stop", {"type": "message_stop"})]
    return [f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in events]


def anthropic_error(status: int, message: str) -> bytes:
    kind = {429: "rate_limit_error", OVERLOADED: "overloaded_error"}.get(status, "api_error")
    return json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode()


def anthropic_ratelimit_headers(limit_requests: int, remaining_requests: int, limit_tokens: int,
                                remaining_tokens: int) -> dict[str, str]:
    """anthropic-ratelimit-* for every resource; input and output tokens share the token budget 4:1."""
    limits = {"requests": (limit_requests, remaining_requests), "tokens": (limit_tokens, remaining_tokens),
              "input_tokens": (limit_tokens * 4 // 5, remaining_tokens * 4 // 5),
              "output_tokens": (limit_tokens // 5, remaining_tokens // 5)}
    headers = {}
    for resource in RESOURCES:
        limit, remaining = limits[resource]
        name = resource.replace("_", "-")
        headers[f"anthropic-ratelimit-{name}-limit"] = str(limit)
        headers[f"anthropic-ratelimit-{name}-remaining"] = str(remaining)
    return headers


def gemini_answer(model: str, usage: dict[str, int], call_id: int) -> dict[str, Any]:
    return {"candidates": [{"content": {"role": "model", "parts": [{"text": "pong"}]}, "finishReason": "STOP",
                            "index": 0}],
            "usageMetadata": {"promptTokenCount": usage["prompt"], "candidatesTokenCount": usage["completion"],
                              "cachedContentTokenCount": usage["cached"],
                              "totalTokenCount": usage["prompt"] + usage["completion"]},
            "modelVersion": model, "responseId": f"resp-{call_id}"}


def gemini_events(body: dict[str, Any]) -> list[bytes]:
    """streamGenerateContent?alt=sse: one chunk per text piece, the usage on the last."""
    first = {**body, "candidates": [{"content": {"role": "model", "parts": [{"text": "po"}]}, "index": 0}]}
    first.pop("usageMetadata")
    last = {**body, "candidates": [{**body["candidates"][0], "content": {"role": "model", "parts": [{"text": "ng"}]}}]}
    return [f"data: {json.dumps(chunk)}\n\n".encode() for chunk in (first, last)]


def gemini_embedding() -> dict[str, Any]:
    return {"embedding": {"values": [0.0125, -0.0311, 0.0042, 0.0288]}}


def gemini_error(status: int, message: str) -> bytes:
    name = {429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE", 500: "INTERNAL"}.get(status, "INTERNAL")
    return json.dumps({"error": {"code": status, "message": message, "status": name}}).encode()
