"""An httpx transport (for ``httpx`` and ``httpx2``, sync and async) that records every attempt and
owns retries, fallbacks and the circuit breaker.

    from openai import OpenAI
    from holystack.instrument import Instrument, http_client
    client = OpenAI(base_url=..., http_client=http_client(instrument, provider="holysheep"), max_retries=0)

Per attempt: P_requests_total, the duration histogram (for a stream: until it ends or is closed),
tokens read from the body or from the SSE events as the caller consumes them (a bounded tail of a
plain body, never a second copy of a stream), the rate-limit gauges. Per logical call: P_calls_total
with the status of its last attempt, P_call_duration_seconds from its start to its final answer (for
a stream, until it ends), time to first token from its start (retries and waits included).
Retries, fallbacks and breaker
states as P_retries_total, P_fallbacks_total, P_circuit_state.

Neither httpx nor httpx2 is imported until a client of that library is asked for.
"""
from __future__ import annotations

import json
import random
import re
import time
import zlib
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from importlib import import_module
from operator import methodcaller
from typing import Any

from .. import contract as c
from .core import Instrument, status_of_error
from .resilience import backoff_seconds, is_failure, policy_for, reason_of, retry_after_seconds
from .usage import NO_USAGE, Usage, read_usage, warn_once

LIBRARIES = ("httpx2", "httpx")
SHOULD_RETRY = "x-should-retry"  # "false" on what holystack returns: the SDK must not retry it again
REQUEST_ID = "x-request-id"
PLAIN_BODY_KEEP = 256 * 1024  # a plain body up to this size is kept whole for reading usage ...
PLAIN_TAIL_KEEP = 64 * 1024  # ... a longer one only by its tail, where usage is
_USAGE_KEYS = (b'"usage"', b'"usageMetadata"', b'"usage_metadata"')


def default_library() -> str:
    """httpx2 when installed (the openai SDK's own), else httpx."""
    for name in LIBRARIES:
        try:
            import_module(name)
        except ImportError:
            continue
        return name
    raise ImportError("holystack's transport needs httpx2 or httpx: pip install httpx2")


def http_client(instrument: Instrument, provider: str, *, library: str | None = None, **options: Any) -> Any:
    """A sync httpx2.Client (or httpx.Client with library="httpx") whose transport records and retries.
    options go to HolystackTransport (base_urls, api_keys, sleep, rng, inner) or, failing that, the Client."""
    lib = import_module(library or default_library())
    transport_options = {k: options.pop(k) for k in list(options) if k in _TRANSPORT_OPTIONS}
    options.setdefault("timeout", instrument.timeouts.get(provider, 60.0))
    transport = _classes(lib)[0](instrument, provider, **transport_options)
    return lib.Client(transport=transport, **options)


def async_http_client(instrument: Instrument, provider: str, *, library: str | None = None, **options: Any) -> Any:
    """The asyncio twin of http_client: an httpx2.AsyncClient (or httpx.AsyncClient)."""
    lib = import_module(library or default_library())
    transport_options = {k: options.pop(k) for k in list(options) if k in _TRANSPORT_OPTIONS}
    options.setdefault("timeout", instrument.timeouts.get(provider, 60.0))
    transport = _classes(lib)[1](instrument, provider, **transport_options)
    return lib.AsyncClient(transport=transport, **options)


def instrumented_transport(instrument: Instrument, provider: str, *, library: str | None = None,
                           asynchronous: bool = False, **options: Any) -> Any:
    """The bare transport, for a client built elsewhere: Client(transport=instrumented_transport(...))."""
    lib = import_module(library or default_library())
    return _classes(lib)[1 if asynchronous else 0](instrument, provider, **options)


_TRANSPORT_OPTIONS = frozenset({"base_urls", "api_keys", "sleep", "async_sleep", "rng", "inner", "wall_clock"})


# --- what one request is about -------------------------------------------------------------------
_GEMINI_PATH = re.compile(r"(?P<prefix>.*)/models/(?P<model>[^/:]+):(?P<method>%s)" % "|".join(c.GEMINI_METHODS))


def gemini_route(path: str) -> tuple[str, str] | None:
    """(the path written for every model, the model) of a Gemini URL path
    (/v1beta/models/gemini-2.5-flash:generateContent -> /v1beta/models:generateContent, gemini-2.5-flash)."""
    found = _GEMINI_PATH.fullmatch(path)
    if found is None:
        return None
    return f"{found['prefix']}{c.GEMINI_ALL_MODELS}{found['method']}", found["model"]


class _Describe:
    """Endpoint (suffix match of the URL path against the spec's endpoints; a Gemini path also
    against the endpoints written for every model) and requested model."""

    def __init__(self, instrument: Instrument):
        self.endpoints = sorted(instrument.endpoints, key=len, reverse=True)
        self._paths: dict[str, tuple[str, str | None]] = {}

    def route(self, path: str) -> tuple[str, str | None]:
        """The endpoint a path is counted under, and the model its URL names (Gemini), if any."""
        found = self._paths.get(path)
        if found is None:
            gemini = gemini_route(path) if ":" in path else None
            endpoint = next((e for e in self.endpoints if path.endswith(e)), None)
            if endpoint is None and gemini is not None:
                endpoint = next((e for e in self.endpoints if gemini[0].endswith(e)), None)
            found = (endpoint or c.OTHER, gemini[1] if gemini is not None else None)
            if len(self._paths) < 1000:
                self._paths[path] = found
        return found

    def endpoint(self, path: str) -> str:
        return self.route(path)[0]

    @staticmethod
    def body(request: Any) -> dict[str, Any] | None:
        try:
            content = request.content
        except Exception:  # a streamed request body (uploads): nothing to read
            return None
        if not content or content[:1] != b"{":
            return None
        try:
            body = json.loads(content)
        except (ValueError, RecursionError):
            return None
        return body if isinstance(body, dict) else None


def counted(status: int | str) -> int | str:
    """The status an attempt is counted under: an HTTP status outside 100-599 (600, 999) is "error"."""
    return status if type(status) is not int or 100 <= status <= 599 else c.STATUS_ERROR


def capped_timeout(timeout: Any, seconds: float) -> dict[str, float]:
    """The request's timeout (httpx's extensions["timeout"]: connect, read, write, pool), none of
    them longer than the provider's: the openai SDK always sends its own, 600s unless the
    http_client's timeout differs from httpx's default (so a provider timeout of 5s was lost)."""
    if not isinstance(timeout, Mapping):
        return {"connect": seconds, "read": seconds, "write": seconds, "pool": seconds}
    return {k: seconds if v is None or v > seconds else v for k, v in timeout.items()}


class _Timeouts:
    """capped_timeout per provider and asked-for timeout, computed once (every call asks the same)."""

    def __init__(self, seconds: Mapping[str, float]):
        self.seconds = seconds
        self.found: dict[tuple[Any, ...], dict[str, float]] = {}
        self.last: tuple[str, Any, Any] = ("", None, None)  # (provider, asked, capped) of the last call

    def of(self, provider: str, timeout: Any) -> Any:
        last_provider, asked, capped = self.last
        if provider == last_provider and timeout == asked:  # the common case: every call asks the same
            return capped
        seconds = self.seconds.get(provider)
        if seconds is None:
            return timeout
        found = self._capped(provider, timeout, seconds)
        self.last = (provider, timeout, found)
        return found

    def _capped(self, provider: str, timeout: Any, seconds: float) -> Any:
        try:
            key = (provider, *timeout.values())
        except AttributeError:  # None, or a number: not what httpx sends
            return capped_timeout(timeout, seconds)
        found = self.found.get(key)
        if found is None:
            found = capped_timeout(timeout, seconds)
            if len(self.found) < 1000:
                self.found[key] = found
        return found


# --- one logical call: which provider next, retry or fall back ------------------------------------
@dataclass
class _Attempt:
    provider: str
    model: str
    request: Any
    started: float = field(default_factory=time.perf_counter)


@dataclass
class _Step:
    """What to do after an attempt: "return" the answer, "raise" the error, "wait" then try again."""

    kind: str
    wait: float = 0.0


class _LogicalCall:
    def __init__(self, engine: "_Engine", request: Any):
        self.engine, self.request = engine, request
        self.endpoint, url_model = engine.describe.route(request.url.path)
        self.body = engine.describe.body(request)
        self.model = str(self.body.get("model")) if self.body and "model" in self.body else url_model or c.OTHER
        self.started = engine.clock()
        self.began = time.perf_counter()  # what P_call_duration_seconds and time to first token count from
        self.provider = engine.provider
        self.fallback: Any = None  # the Fallback edge that led to the current provider
        self.visited = {self.provider}
        self.attempts = 0  # on the current provider
        self.waited = 0.0  # on the current provider
        self.last_status: int | str = c.STATUS_ERROR
        self._policy: tuple[str, Any] | None = None  # (provider, its policy)

    def policy(self) -> Any:
        found = self._policy
        if found is None or found[0] != self.provider:
            found = self._policy = (self.provider, policy_for(self.engine.instrument.resilience, self.provider))
        return found[1]

    def next_attempt(self) -> _Attempt | None:
        """The next attempt, skipping providers whose breaker is open; None when none is left."""
        while True:
            if self.engine.instrument.breaker(self.provider).allow():
                model = self.fallback.model_for(self.model) if self.fallback else self.model
                return _Attempt(self.provider, model, self._request_for(model))
            if not self._fall_back(c.REASON_CIRCUIT_OPEN):
                return None

    def _request_for(self, model: str) -> Any:
        request, lib = self.request, self.engine.lib
        timeout = self.engine.timeouts.of(self.provider, request.extensions.get("timeout"))
        if self.provider == self.engine.provider:
            request.extensions["timeout"] = timeout  # this request's own dict (httpx copies it per request)
            return request
        extensions = {**request.extensions, "timeout": timeout}
        base = self.engine.base_urls[self.provider].rstrip("/")
        path = self.endpoint if self.endpoint != c.OTHER else request.url.path
        if c.GEMINI_ALL_MODELS in path:  # an endpoint for every Gemini model: the attempt's model goes in the URL
            path = path.replace(c.GEMINI_ALL_MODELS, f"/models/{model}:")
        url = base + path
        query = request.url.query
        if query:
            url += "?" + (query.decode() if isinstance(query, bytes) else query)
        headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() not in ("host", "content-length")]
        key = self.engine.api_keys.get(self.provider)
        if key is not None:
            headers = [(k, v) for k, v in headers if k.lower() != "authorization"]
            headers.append(("authorization", f"Bearer {key}"))
        content = request.content
        if self.body is not None and "model" in self.body and model != self.body["model"]:
            content = json.dumps({**self.body, "model": model}).encode()
        return lib.Request(request.method, url, headers=headers, content=content, extensions=extensions)

    def _fall_back(self, reason: str) -> bool:
        """Move to the next provider of the chain, counting it; False when there is none (or a cycle)."""
        edge = self.engine.instrument.resilience.fallback_from(self.provider) \
            if self.engine.instrument.resilience is not None else None
        if edge is None or edge.target in self.visited or edge.target not in self.engine.base_urls \
                or self.engine.clock() - self.started >= self.policy().retry.deadline.seconds:
            return False
        self.engine.instrument.record_fallback(from_provider=self.provider, to_provider=edge.target, reason=reason)
        self.provider, self.fallback = edge.target, edge
        self.visited.add(edge.target)
        self.attempts, self.waited = 0, 0.0
        return True

    def retried(self, status: int) -> bool:
        """Whether the policy retries this HTTP status (its body is then read before deciding)."""
        return status in self.policy().retry.statuses

    def after(self, attempt: _Attempt, status: int | str, headers: Mapping[str, str] | None) -> _Step:
        """Record the attempt's outcome in the breaker and decide what comes next."""
        engine = self.engine
        breaker = engine.instrument.breaker(attempt.provider)
        breaker.record(is_failure(status))
        self.last_status = status
        retry = self.policy().retry
        if type(status) is int and status not in retry.statuses:
            return _Step("return")
        self.attempts += 1
        reason = reason_of(status)
        if self.attempts < retry.max_attempts and breaker.state == c.CIRCUIT_CLOSED:
            wait = retry_after_seconds(headers, engine.wall_clock()) if headers is not None else None
            if wait is None:
                wait = backoff_seconds(self.attempts, retry.backoff_base.seconds, retry.backoff_cap.seconds, engine.rng)
            wait = min(wait, retry.backoff_cap.seconds)
            elapsed = engine.clock() - self.started
            if self.waited + wait <= retry.max_wait.seconds and elapsed + wait < retry.deadline.seconds:
                self.waited += wait
                engine.instrument.record_retry(provider=attempt.provider, endpoint=self.endpoint,
                                               model=attempt.model, reason=reason)
                return _Step("wait", wait)
        if self._fall_back(reason):
            return _Step("wait", 0.0)
        return _Step("return" if type(status) is int else "raise")


def _replayed(headers: Any) -> list[tuple[str, str]]:
    """An answer's headers for a body already read (and decoded), marked not to be retried again."""
    return [(k, v) for k, v in headers.multi_items()
            if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")] + [(SHOULD_RETRY, "false")]


class _Engine:
    """What the sync and async transports share."""

    def __init__(self, lib: Any, instrument: Instrument, provider: str, *, base_urls: Mapping[str, str] | None = None,
                 api_keys: Mapping[str, str] | None = None, rng: random.Random | None = None,
                 wall_clock: Callable[[], float] = time.time):
        self.lib, self.instrument, self.provider = lib, instrument, provider
        self.base_urls = {k: v for k, v in {**instrument.base_urls, **(base_urls or {})}.items() if v}
        self.api_keys = dict(api_keys or {})
        self.rng = rng or random.Random()
        self.wall_clock = wall_clock
        self.describe = _Describe(instrument)
        self.timeouts = _Timeouts(instrument.timeouts)

    def clock(self) -> float:
        return self.instrument.clock()

    def record_failed(self, call: _LogicalCall, attempt: _Attempt, status: int | str,
                      headers: Mapping[str, str] | None) -> None:
        self.instrument.record_call(provider=attempt.provider, endpoint=call.endpoint, model=attempt.model,
                                    status=counted(status), seconds=time.perf_counter() - attempt.started,
                                    headers=headers,
                                    request_id=headers.get(REQUEST_ID) if headers is not None else None,
                                    logical=False, usage=NO_USAGE)

    def finish(self, call: _LogicalCall, status: int | str) -> None:
        """Count the logical call once, with the seconds the user waited for its final answer."""
        self.instrument.record_logical(endpoint=call.endpoint, model=call.model, status=counted(status),
                                       seconds=time.perf_counter() - call.began)

    def attempt_failed(self, call: _LogicalCall, attempt: _Attempt, error: Exception) -> _Step:
        """An attempt that raised (refused, reset, timed out, broke off mid-body): count it, decide;
        when the step is "raise" the logical call is counted too."""
        status = status_of_error(error)
        self.record_failed(call, attempt, status, None)
        step = call.after(attempt, status, None)
        if step.kind == "raise":
            self.finish(call, status)
        return step

    def replay(self, call: _LogicalCall, answer: tuple[int, Any, bytes]) -> Any:
        """A failed answer whose body was read, handed to the caller as the upstream sent it."""
        status, headers, content = answer
        self.finish(call, status)
        return self.lib.Response(status, headers=_replayed(headers), content=content, request=call.request)

    def broken(self, call: _LogicalCall, response: Any, error: Exception, stream_class: type) -> Any:
        """The last answer, whose body broke off (reset, timeout): handed to the caller with a body
        that raises the same error when read, as it would have without holystack (already counted)."""
        return self.lib.Response(response.status_code, headers=_replayed(response.headers),
                                 stream=stream_class(error), request=call.request)


    def give_up(self, call: _LogicalCall, error: BaseException | None, answer: tuple[int, Any, bytes] | None) -> Any:
        """No attempt left (breakers open down the chain): the last failed answer again, else its error,
        else a connection error naming the open breaker."""
        if answer is not None:
            return self.replay(call, answer)
        if error is not None:
            self.finish(call, call.last_status)
            raise error
        self.finish(call, c.STATUS_ERROR)
        raise self.lib.ConnectError(f"holystack: circuit breaker open for {call.provider} and no fallback left",
                                    request=call.request)


# --- one logical call as steps: the retry and fallback state machine both transports drive ----------
SEND, READ, CLOSE, SLEEP, RETURN = "send", "read", "close", "sleep", "return"


def _steps(engine: _Engine, call: _LogicalCall, observed: type, broken: type) -> Generator[tuple[str, Any], Any, Any]:
    """Every rule of retrying and falling back, written once, as the steps a transport's loop carries
    out: (SEND, request) -> its response, (READ, response) -> its body, (CLOSE, response),
    (SLEEP, seconds). What a step raises is thrown back in here, where it was asked for; the
    generator's return value is the answer handed to the caller (observed / broken: the stream
    classes of the caller's flavour, sync or async)."""
    last_error: BaseException | None = None
    last_answer: tuple[int, Any, bytes] | None = None
    while True:
        attempt = call.next_attempt()
        if attempt is None:
            return engine.give_up(call, last_error, last_answer)
        try:
            response = yield SEND, attempt.request
        except BaseException as error:
            if not isinstance(error, Exception):  # cancelled (asyncio), interrupted: no outcome
                engine.instrument.breaker(attempt.provider).release()
                raise
            step = engine.attempt_failed(call, attempt, error)
            last_error, last_answer = error, None
            if step.kind == "raise":
                raise
        else:
            status = response.status_code
            if not call.retried(status):  # the caller reads the answer as it streams
                call.after(attempt, status, response.headers)
                response.headers[SHOULD_RETRY] = "false"  # holystack has retried what the policy retries
                response.stream = observed(response.stream, _Observer(engine, call, attempt, response))
                return response
            try:  # a retried answer is read whole before the next step is decided
                content = yield READ, response
            except Exception as error:  # it broke off mid-body: a failed attempt, like a reset
                step = engine.attempt_failed(call, attempt, error)
                last_error, last_answer = error, None
                if step.kind == "raise":  # the caller reads the same break
                    return engine.broken(call, response, error, broken)
            else:
                engine.record_failed(call, attempt, status, response.headers)
                step = call.after(attempt, status, response.headers)
                last_error, last_answer = None, (status, response.headers, content)
                if step.kind == "return":
                    return engine.replay(call, last_answer)
            finally:
                yield CLOSE, response
        if step.wait > 0:
            yield SLEEP, step.wait


class _Plan:
    """The steps of one logical call, as a loop reads them: carry out the step (kind, value), put what
    it gave in reply or what it raised in error, advance; at RETURN, value is the answer."""

    def __init__(self, engine: _Engine, request: Any, observed: type, broken: type):
        self._steps = _steps(engine, _LogicalCall(engine, request), observed, broken)
        self.kind, self.value = RETURN, None
        self.reply: Any = None
        self.error: BaseException | None = None
        self.advance()

    def advance(self) -> None:
        reply, error = self.reply, self.error
        self.reply = self.error = None
        try:
            self.kind, self.value = self._steps.send(reply) if error is None else self._steps.throw(error)
        except StopIteration as answer:
            self.kind, self.value = RETURN, answer.value


# --- reading the body as the caller consumes it ----------------------------------------------------
class _Observer:
    """Reads usage and time to first token from the bytes passing by; records at the end, once."""

    def __init__(self, engine: _Engine, call: _LogicalCall, attempt: _Attempt, response: Any):
        self.engine, self.call, self.attempt = engine, call, attempt
        self.status: int | str = counted(response.status_code)
        self.headers = response.headers
        content_type = response.headers.get("content-type", "")
        self.sse = content_type.startswith("text/event-stream")
        encoding = response.headers.get("content-encoding", "identity").lower()
        self.decoder: Any = None
        self.deflate = encoding == "deflate"  # zlib-wrapped, or else raw deflate (as httpx reads it)
        if encoding in ("gzip", "deflate"):
            self.decoder = zlib.decompressobj(16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS)
        elif encoding not in ("identity", ""):
            warn_once(f"encoding:{encoding}", "holystack: cannot read usage from %s-encoded bodies; ask for "
                      "gzip or identity (Accept-Encoding)", encoding)
            self.decoder = False
        self.pending: list[bytes] = []  # SSE: the pieces of the unfinished line, joined once it ends
        self.kept = bytearray()  # plain body: all of it, or its tail
        self.whole = True
        self.usage: Usage | None = None
        self.anthropic_start: Usage | None = None
        self.ttft: float | None = None
        self.done = False

    def passing(self, chunk: bytes) -> bytes:
        """The chunk as it came, once read."""
        self.feed(chunk)
        return chunk

    def feed(self, chunk: bytes) -> None:
        """Read what passes by; never raises into the caller's code: a body holystack cannot read
        (garbage under a gzip header) is passed on untouched and its usage not read."""
        if self.decoder is False or not chunk:
            return
        try:
            if self.decoder is not None:
                try:
                    chunk = self.decoder.decompress(chunk)
                except zlib.error:
                    if not self.deflate:
                        raise
                    self.deflate, self.decoder = False, zlib.decompressobj(-zlib.MAX_WBITS)
                    chunk = self.decoder.decompress(chunk)
            if self.sse:
                self._lines(chunk)
            else:
                kept = self.kept
                kept += chunk
                if len(kept) > PLAIN_BODY_KEEP:
                    del kept[:len(kept) - PLAIN_TAIL_KEEP]
                    self.whole = False
        except Exception as error:  # stop reading, let the bytes through as they came
            self.decoder = False
            if isinstance(error, zlib.error):  # a broken body: the caller's httpx fails on it too (DecodingError)
                self.status = c.STATUS_ERROR
            warn_once(f"unreadable:{type(error).__name__}", "holystack: cannot read usage from an answer of "
                      "%s %s (%s); passed on as sent", self.attempt.provider, self.call.endpoint, error)

    def _lines(self, chunk: bytes) -> None:
        if b"\n" not in chunk:  # a long line still arriving: keep its pieces, join them once (linear)
            self.pending.append(chunk)
            return
        lines = chunk.split(b"\n")
        if self.pending:
            self.pending.append(lines[0])
            lines[0] = b"".join(self.pending)
        last = lines.pop()
        self.pending = [last] if last else []
        for line in lines:
            if not line.startswith(b"data:"):
                continue
            payload = line[5:]  # json.loads skips the spaces around it: no stripped copy of a long line
            if len(payload) <= 8 and payload.strip() in (b"", b"[DONE]"):
                continue
            if self.ttft is not None and b"sage" not in payload and b"message_start" not in payload:
                continue  # after the first token only usage-bearing events need parsing
            try:
                event = json.loads(payload)
            except (ValueError, RecursionError):
                continue
            if not isinstance(event, dict):
                continue
            if self.ttft is None and _is_content(event):
                self.ttft = time.perf_counter() - self.call.began  # the user's wait, retries included
            usage = read_usage(event)
            if usage is None:
                continue
            kind = event.get("type")
            if kind == "message_start":
                self.anthropic_start = usage
            elif kind == "message_delta" and self.anthropic_start is not None:
                start = self.anthropic_start
                usage = start._replace(completion=usage.completion)
            self.usage = usage

    def _plain_usage(self) -> Usage | None:
        data = bytes(self.kept)
        for key in _USAGE_KEYS:
            at = data.rfind(key)
            if at < 0:
                continue
            colon = data.find(b":", at + len(key))
            try:
                value, _ = json.JSONDecoder().raw_decode(data[colon + 1:].decode("utf-8", "replace").lstrip())
            except (ValueError, RecursionError):
                continue
            found = read_usage({key.strip(b'"').decode(): value})
            if found is not None:
                return found
        if self.whole and data:
            try:
                return read_usage(json.loads(data))
            except (ValueError, RecursionError):
                return None
        return None

    def finish(self, error: BaseException | None = None) -> None:
        """Record the attempt once: error is what ended the stream (GeneratorExit: the reader stopped)."""
        if self.done:
            return
        self.done = True
        ended = error is None or isinstance(error, GeneratorExit)  # read to its end, or the reader stopped
        status = self.status if ended else counted(status_of_error(error))
        try:
            if self.sse and self.pending and self.decoder is not False:
                self._lines(b"\n")
            usage = self.usage if self.sse else self._plain_usage()
        except Exception:  # whatever the body held, the attempt is counted
            usage = None
        if usage is None:
            usage = NO_USAGE
            if type(status) is int and 200 <= status < 300 and self.decoder is not False:
                warn_once(f"transport:{self.call.endpoint}", "holystack: no token usage in the answers of %s %s "
                          "(for chat streams pass stream_options={'include_usage': True})",
                          self.attempt.provider, self.call.endpoint)
        self.engine.instrument.record_call(
            provider=self.attempt.provider, endpoint=self.call.endpoint, model=self.attempt.model, status=status,
            seconds=time.perf_counter() - self.attempt.started, headers=self.headers,
            request_id=self.headers.get(REQUEST_ID), logical=False, ttft=self.ttft, usage=usage)
        self.engine.finish(self.call, status)


class _Passing:
    """A response stream passed on to the caller, its bytes shown to an _Observer on the way."""

    def __init__(self, inner: Any, observer: _Observer):
        self.inner, self.observer = inner, observer


def _is_content(event: dict[str, Any]) -> bool:
    """The first event that carries generated output: a chat delta, a Responses or Anthropic delta,
    a Gemini candidate."""
    choices = event.get("choices")
    if choices:
        first = choices[0] if isinstance(choices, list) else None
        delta = first.get("delta") if isinstance(first, dict) else None
        return isinstance(delta, dict) and bool(delta.get("content") or delta.get("tool_calls")
                                                or delta.get("refusal") or delta.get("reasoning_content"))
    kind = event.get("type")
    if isinstance(kind, str):
        return kind.endswith(".delta") or kind == "content_block_delta"
    return bool(event.get("candidates"))


_CLASSES: dict[str, tuple[type, type]] = {}


def _classes(lib: Any) -> tuple[type, type]:
    """The transport classes for one library (httpx or httpx2), built once on first use."""
    found = _CLASSES.get(lib.__name__)
    if found is None:
        found = _CLASSES[lib.__name__] = _build(lib)
    return found


def _build(lib: Any) -> tuple[type, type]:
    class ObservedStream(_Passing, lib.SyncByteStream):
        def __iter__(self):  # type: ignore[no-untyped-def]
            try:
                for chunk in self.inner:
                    yield self.observer.passing(chunk)
            except BaseException as error:  # GeneratorExit: the reader stopped (closed early, or failed on it)
                self.observer.finish(error)
                raise
            self.observer.finish()

        def close(self) -> None:
            try:
                self.inner.close()
            finally:
                self.observer.finish()

    class AsyncObservedStream(_Passing, lib.AsyncByteStream):
        async def __aiter__(self):  # type: ignore[no-untyped-def]
            try:
                async for chunk in self.inner:
                    yield self.observer.passing(chunk)
            except BaseException as error:  # GeneratorExit: the reader stopped (closed early, or failed on it)
                self.observer.finish(error)
                raise
            self.observer.finish()

        async def aclose(self) -> None:
            try:
                await self.inner.aclose()
            finally:
                self.observer.finish()

    class BrokenStream(lib.SyncByteStream):
        def __init__(self, error: Exception):
            self.error = error

        def __iter__(self):  # type: ignore[no-untyped-def]
            raise self.error
            yield b""  # a generator, as httpx iterates it

    class AsyncBrokenStream(lib.AsyncByteStream):
        def __init__(self, error: Exception):
            self.error = error

        async def __aiter__(self):  # type: ignore[no-untyped-def]
            raise self.error
            yield b""

    class HolystackTransport(lib.BaseTransport):
        """Records every attempt; retries, falls back and breaks circuits per the spec's resilience."""

        def __init__(self, instrument: Instrument, provider: str, *, inner: Any = None,
                     sleep: Callable[[float], None] = time.sleep, **options: Any):
            options.pop("async_sleep", None)
            self.engine = _Engine(lib, instrument, provider, **options)
            self.inner = inner if inner is not None else lib.HTTPTransport()
            self.sleep = sleep
            self._does = {SEND: self.inner.handle_request, READ: methodcaller("read"), CLOSE: methodcaller("close"),
                          SLEEP: sleep}

        def handle_request(self, request: Any) -> Any:
            plan = _Plan(self.engine, request, ObservedStream, BrokenStream)
            while plan.kind is not RETURN:
                try:
                    plan.reply = self._does[plan.kind](plan.value)
                except BaseException as error:  # thrown into the plan where the step was asked for
                    plan.error = error
                plan.advance()
            return plan.value

        def close(self) -> None:
            self.inner.close()

    class AsyncHolystackTransport(lib.AsyncBaseTransport):
        """The asyncio twin of HolystackTransport; breakers are shared with it through the Instrument."""

        def __init__(self, instrument: Instrument, provider: str, *, inner: Any = None,
                     async_sleep: Callable[[float], Any] | None = None, **options: Any):
            import asyncio  # only for asyncio users: it is a heavy import

            options.pop("sleep", None)
            self.engine = _Engine(lib, instrument, provider, **options)
            self.inner = inner if inner is not None else lib.AsyncHTTPTransport()
            self.sleep = async_sleep or asyncio.sleep
            self._does = {SEND: self.inner.handle_async_request, READ: methodcaller("aread"),
                          CLOSE: methodcaller("aclose"), SLEEP: self.sleep}

        async def handle_async_request(self, request: Any) -> Any:
            plan = _Plan(self.engine, request, AsyncObservedStream, AsyncBrokenStream)
            while plan.kind is not RETURN:  # each step of the plan awaited: the sync loop's twin
                try:
                    plan.reply = await self._does[plan.kind](plan.value)
                except BaseException as error:  # thrown into the plan where the step was asked for
                    plan.error = error
                plan.advance()
            return plan.value

        async def aclose(self) -> None:
            await self.inner.aclose()

    HolystackTransport.__qualname__ = HolystackTransport.__name__ = f"HolystackTransport[{lib.__name__}]"
    AsyncHolystackTransport.__qualname__ = AsyncHolystackTransport.__name__ = \
        f"AsyncHolystackTransport[{lib.__name__}]"
    return HolystackTransport, AsyncHolystackTransport
