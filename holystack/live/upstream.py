"""A faithful fake of an OpenAI-compatible API, on 127.0.0.1 and an ephemeral port.

Serves POST .../chat/completions (plain and streamed with a final usage chunk), .../responses (plain
and streamed as response.created ... response.output_text.delta ... response.completed events),
.../embeddings, Anthropic's .../messages (plain and streamed, anthropic-ratelimit-* headers, 529 for
an overloaded upstream) and Gemini's .../models/<model>:{generateContent,streamGenerateContent,
embedContent} (live.wire) under any prefix (one prefix per provider). Bodies carry realistic usage, cached
prompt tokens included, and every field the openai SDK's strict validation asks for; every answer
carries x-request-id and x-ratelimit-* headers; 429s carry retry-after-ms and retry-after with
different values (the -ms form wins) and charge no tokens. What fails, and how, is drawn from a
TrafficProfile with a seeded random source. ``served`` counts answers by status, ``tokens`` what was served.
"""
from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter as Tally
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from . import wire
from .loopback import LoopbackServer
from .scenarios import TrafficProfile

LIMIT_REQUESTS = 10_000   # per minute, per model
LIMIT_TOKENS = 5_000_000  # per minute, per model
SERVER_ERROR_STATUSES = (500, 502, 503)
# A 429 asks for this wait twice: retry-after-ms takes precedence over retry-after (seconds).
RETRY_AFTER_MS = 800
RETRY_AFTER_SECONDS = 2
STREAM_GAP = 0.005  # seconds between the events of a stream, so that the first token comes first


@dataclass
class Fate:
    """What the upstream does with one call."""

    status: int = 200
    delay: float = 0.0


@dataclass
class Budget:
    """Per-model rate-limit window of one minute, as the x-ratelimit-* headers report it."""

    started: float = 0.0
    requests: int = 0
    tokens: int = 0


@dataclass
class Upstream:
    """The fake's behaviour: a scenario, the latency threshold of each path suffix, the client timeout."""

    scenario: TrafficProfile
    latency_thresholds: dict[str, float]  # endpoint path -> latency_p95 seconds
    client_timeout: float  # the shortest client timeout: slow answers stay below it
    seed: int = 0
    hang: float | None = None  # how long a timed-out call is held; default: client_timeout + 1s
    rng: random.Random = field(init=False)
    lock: threading.Lock = field(default_factory=threading.Lock)
    budgets: dict[str, Budget] = field(default_factory=dict)
    served: int = 0
    statuses: Tally[int] = field(default_factory=Tally)  # answers sent, by status (a timed-out call counts 200)
    tokens: Tally[str] = field(default_factory=Tally)  # prompt, completion, cached served in 200 answers

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def fate(self, path: str) -> Fate:
        threshold = next((t for p, t in self.latency_thresholds.items() if path.endswith(p)), 1.0)
        s = self.scenario
        with self.lock:
            self.served += 1
            draw, jitter = self.rng.random(), self.rng.random()
        normal = threshold * (0.05 + 0.25 * jitter)  # well below the threshold
        edges = (s.rate_limited, s.server_errors, s.timeouts, s.slow)
        if draw < edges[0]:
            return Fate(429, normal / 4)
        draw -= edges[0]
        if draw < edges[1]:
            return Fate(SERVER_ERROR_STATUSES[int(jitter * 3) % 3], normal)
        draw -= edges[1]
        if draw < edges[2]:
            return Fate(200, self.hang or self.client_timeout + 1.0)  # the client gives up first
        draw -= edges[2]
        if draw < edges[3]:
            return Fate(200, min(1.5 * threshold, (threshold + self.client_timeout) / 2))
        return Fate(200, normal)

    def usage(self, kind: str, scale: float) -> dict[str, int]:
        with self.lock:
            prompt = int(self.rng.randint(100, 400) * scale)
            completion = 0 if kind == "embeddings" else int(self.rng.randint(20, 150) * scale)
            cached = int(prompt * self.rng.choice((0, 0, 0.5, 0.75))) if kind != "embeddings" else 0
        return {"prompt": prompt, "completion": completion, "cached": cached}

    def ratelimit_headers(self, model: str, tokens: int, limited: bool) -> dict[str, str]:
        now = time.monotonic()
        with self.lock:
            budget = self.budgets.setdefault(model, Budget(now))
            if now - budget.started >= 60:
                budget.started, budget.requests, budget.tokens = now, 0, 0
            budget.requests += 1
            if not limited:  # a refused call consumes no tokens
                budget.tokens += tokens
            reset = 60 - (now - budget.started)
            remaining_requests = 0 if limited else max(LIMIT_REQUESTS - budget.requests, 0)
            remaining_tokens = max(LIMIT_TOKENS - budget.tokens, 0)
        return {
            "x-ratelimit-limit-requests": str(LIMIT_REQUESTS),
            "x-ratelimit-limit-tokens": str(LIMIT_TOKENS),
            "x-ratelimit-remaining-requests": str(remaining_requests),
            "x-ratelimit-remaining-tokens": str(remaining_tokens),
            "x-ratelimit-reset-requests": f"{reset:.3f}s",
            "x-ratelimit-reset-tokens": f"{reset:.3f}s",
        }


def endpoint_kind(path: str) -> str:
    """Which API shape a path gets: embeddings, responses, Anthropic's messages, a Gemini method, or
    chat (the default)."""
    if wire.gemini_call(path) is not None:
        return wire.GEMINI
    path = path.split("?", 1)[0]
    if path.rstrip("/").endswith("/messages"):
        return wire.ANTHROPIC
    if path.rstrip("/").endswith("/embeddings"):
        return "embeddings"
    if path.rstrip("/").endswith("/responses"):
        return "responses"
    return "chat"


def served_model(model: str) -> str:
    """Real APIs answer with a dated snapshot name; the instrumentation must not label by it."""
    return f"{model}-2025-06-01"


def body_for(kind: str, model: str, usage: dict[str, int], call_id: int) -> dict[str, Any]:
    prompt, completion, cached = usage["prompt"], usage["completion"], usage["cached"]
    if kind == "embeddings":
        return {"object": "list", "model": served_model(model),
                "data": [{"object": "embedding", "index": 0, "embedding": [0.0125, -0.0311, 0.0042, 0.0288]}],
                "usage": {"prompt_tokens": prompt, "total_tokens": prompt}}
    if kind == "responses":
        return {"id": f"resp_{call_id}", "object": "response", "created_at": int(time.time()), "status": "completed",
                "background": False, "error": None, "incomplete_details": None, "instructions": None,
                "max_output_tokens": None, "metadata": {}, "model": served_model(model),
                "output": [{"type": "message", "id": f"msg_{call_id}", "status": "completed", "role": "assistant",
                            "content": [{"type": "output_text", "text": "pong", "annotations": []}]}],
                "parallel_tool_calls": True, "previous_response_id": None,
                "reasoning": {"effort": None, "summary": None}, "service_tier": "default", "store": True,
                "temperature": 1.0, "text": {"format": {"type": "text"}}, "tool_choice": "auto", "tools": [],
                "top_p": 1.0, "truncation": "disabled", "user": None,
                "usage": {"input_tokens": prompt, "output_tokens": completion, "total_tokens": prompt + completion,
                          "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": 0},
                          "output_tokens_details": {"reasoning_tokens": 0}}}
    return {"id": f"chatcmpl-{call_id}", "object": "chat.completion", "created": int(time.time()),
            "model": served_model(model),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "pong"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
                      "prompt_tokens_details": {"cached_tokens": cached},
                      "completion_tokens_details": {"reasoning_tokens": 0}}}


def stream_chunks(body: dict[str, Any]) -> list[dict[str, Any]]:
    """A chat completion as stream chunks: content deltas, then the usage chunk with no choices."""
    base = {"id": body["id"], "object": "chat.completion.chunk", "created": body["created"], "model": body["model"]}
    return [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "po"}, "finish_reason": None}]},
            {**base, "choices": [{"index": 0, "delta": {"content": "ng"}, "finish_reason": "stop"}]},
            {**base, "choices": [], "usage": body["usage"]}]


def response_events(body: dict[str, Any]) -> list[dict[str, Any]]:
    """A Responses answer as its stream events, from response.created to response.completed."""
    item = body["output"][0]
    text = item["content"][0]["text"]
    pending = {**body, "status": "in_progress", "output": [], "usage": None}
    empty_item = {**item, "status": "in_progress", "content": []}
    part = {"type": "output_text", "text": "", "annotations": []}
    events = [{"type": "response.created", "response": pending},
              {"type": "response.in_progress", "response": pending},
              {"type": "response.output_item.added", "output_index": 0, "item": empty_item},
              {"type": "response.content_part.added", "item_id": item["id"], "output_index": 0, "content_index": 0,
               "part": part}]
    for piece in (text[:2], text[2:]):
        events.append({"type": "response.output_text.delta", "item_id": item["id"], "output_index": 0,
                       "content_index": 0, "delta": piece, "logprobs": []})
    events += [{"type": "response.output_text.done", "item_id": item["id"], "output_index": 0, "content_index": 0,
                "text": text, "logprobs": []},
               {"type": "response.content_part.done", "item_id": item["id"], "output_index": 0, "content_index": 0,
                "part": {**part, "text": text}},
               {"type": "response.output_item.done", "output_index": 0, "item": item},
               {"type": "response.completed", "response": body}]
    return [{**event, "sequence_number": number} for number, event in enumerate(events)]


class _Handler(BaseHTTPRequestHandler):
    server: "FakeUpstreamServer"
    protocol_version = "HTTP/1.1"
    # Headers and body go out as separate writes: with Nagle's algorithm the body would wait for the
    # client's delayed ACK (40 ms on Linux) and every answer would look 40 ms slower than it is.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # quiet: traffic is counted, not logged
        pass

    def _send(self, status: int, payload: bytes | list[bytes], headers: dict[str, str], content_type: str) -> None:
        """Send one answer; a list of pieces (stream events) is written piece by piece, STREAM_GAP apart."""
        pieces = payload if isinstance(payload, list) else [payload]
        payload = b"".join(pieces)
        with self.server.upstream.lock:
            self.server.upstream.statuses[status] += 1
            request_id = f"req_{self.server.upstream.served:08d}_{sum(self.server.upstream.statuses.values())}"
        self.send_response(status)
        for name, value in {**headers, "x-request-id": request_id, "content-type": content_type,
                            "content-length": str(len(payload))}.items():
            self.send_header(name, value)
        self.end_headers()
        for number, piece in enumerate(pieces):
            if number:
                self.wfile.flush()
                time.sleep(STREAM_GAP)
            self.wfile.write(piece)

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        upstream = self.server.upstream
        length = int(self.headers.get("content-length") or 0)
        kind = endpoint_kind(self.path)
        gemini = wire.gemini_call(self.path)
        try:
            request = json.loads(self.rfile.read(length) or b"{}")
            model = gemini[0] if gemini else str(request["model"])
        except (ValueError, KeyError, TypeError):
            self._send(400, json.dumps({"error": {"message": "body must be JSON with a model",
                                                  "type": "invalid_request_error"}}).encode(), {}, "application/json")
            return
        fate = upstream.fate(self.path.split("?", 1)[0])
        time.sleep(fate.delay)
        usage_kind = "embeddings" if gemini and gemini[1] == "embedContent" else kind
        usage = upstream.usage(usage_kind, upstream.scenario.token_scale)
        headers = upstream.ratelimit_headers(model, usage["prompt"] + usage["completion"], fate.status != 200)
        if kind == wire.ANTHROPIC:
            headers = wire.anthropic_ratelimit_headers(*(int(headers[f"x-ratelimit-{k}-{r}"])
                                                        for r in ("requests", "tokens") for k in ("limit", "remaining")))
        elif kind == wire.GEMINI:
            headers = {}  # Gemini sends no rate-limit headers
        if fate.status != 200:
            self._fail(kind, fate.status, model, headers)
            return
        with upstream.lock:
            upstream.tokens.update(usage)
        if kind == wire.ANTHROPIC:
            body = wire.anthropic_message(model, usage, upstream.served)
            if request.get("stream"):
                self._send(200, wire.anthropic_events(body), headers, "text/event-stream")
            else:
                self._send(200, json.dumps(body).encode(), headers, "application/json")
            return
        if gemini:
            method = gemini[1]
            if method == "embedContent":
                self._send(200, json.dumps(wire.gemini_embedding()).encode(), headers, "application/json")
            elif method == "streamGenerateContent":
                body = wire.gemini_answer(model, usage, upstream.served)
                self._send(200, wire.gemini_events(body), headers, "text/event-stream")
            else:
                body = wire.gemini_answer(model, usage, upstream.served)
                self._send(200, json.dumps(body).encode(), headers, "application/json")
            return
        body = body_for(kind, model, usage, upstream.served)
        if kind == "chat" and request.get("stream"):
            chunks = stream_chunks(body)
            if not (request.get("stream_options") or {}).get("include_usage"):
                chunks = chunks[:-1]
            events = [f"data: {json.dumps(chunk)}\n\n".encode() for chunk in chunks] + [b"data: [DONE]\n\n"]
            self._send(200, events, headers, "text/event-stream")
            return
        if kind == "responses" and request.get("stream"):
            events = [f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()
                      for event in response_events(body)]
            self._send(200, events, headers, "text/event-stream")
            return
        self._send(200, json.dumps(body).encode(), headers, "application/json")

    def _fail(self, kind: str, status: int, model: str, headers: dict[str, str]) -> None:
        """A 429 (with retry-after-ms and retry-after; Gemini's without either) or a 5xx in the
        provider's own error format; Anthropic's 503 is its 529 "overloaded"."""
        if status == 429:
            if kind != wire.GEMINI:
                headers["retry-after"] = str(RETRY_AFTER_SECONDS)
                headers["retry-after-ms"] = str(RETRY_AFTER_MS)  # OpenAI sends both; the -ms form takes precedence
            message = f"Rate limit reached for {model} on requests per min."
        else:
            message = "The server had an error while processing your request."
        if kind == wire.ANTHROPIC:
            status = wire.OVERLOADED if status == 503 else status
            self._send(status, wire.anthropic_error(status, message), headers, "application/json")
        elif kind == wire.GEMINI:
            self._send(status, wire.gemini_error(status, message), headers, "application/json")
        elif status == 429:
            error = {"message": message, "type": "requests", "code": "rate_limit_exceeded"}
            self._send(429, json.dumps({"error": error}).encode(), headers, "application/json")
        else:
            self._send(status, json.dumps({"error": {"message": message, "type": "server_error"}}).encode(), headers,
                       "application/json")


class FakeUpstreamServer(LoopbackServer):
    def __init__(self, upstream: Upstream, port: int = 0):
        super().__init__(_Handler, port)
        self.upstream = upstream

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that timed out has closed its socket; that is the scenario, not a fault."""
