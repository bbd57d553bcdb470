"""Instrument: emits exactly the metric contract (holystack.contract) with prometheus_client."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from prometheus_client import (REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector,
                               disable_created_metrics)

from .. import contract as c
from .usage import NO_USAGE, RATELIMIT_HEADERS, Usage, ratelimit_values, read_usage, warn_once

if TYPE_CHECKING:  # the model, the spec pipeline and the generators load only when from_spec reads a file
    from ..model import Stack

log = logging.getLogger("holystack.instrument")

TRANSPORT_STATUSES = (c.STATUS_TIMEOUT, c.STATUS_ERROR)
# The token types in the order of the children lists.
TOKEN_ORDER = (c.TOKEN_PROMPT, c.TOKEN_COMPLETION, c.TOKEN_CACHED_PROMPT, c.TOKEN_CACHE_WRITE, c.TOKEN_CACHE_WRITE_1H)
# The token types bound at 0 up front (prompt, completion, cached_prompt); the cache-write series appear
# with a model's first cache write, so that models that never write a cache cost no series.
INITIALIZED_TOKEN_TYPES = 3
# The header names in RATELIMIT_HEADERS order, for record_call's fast path.
_REMAINING_REQUESTS, _REMAINING_TOKENS, _LIMIT_REQUESTS, _LIMIT_TOKENS = (name for _, _, name in RATELIMIT_HEADERS[:4])
# Kinds of call (provider, endpoint, model, status as given) whose bound children are kept.
MAX_CACHED_CALL_KINDS = 10_000


def _counter_name(name: str) -> str:
    """prometheus_client appends _total to counters itself."""
    return name.removesuffix("_total")


def status_label(status: int | str) -> str:
    """The status_code label: the HTTP status as a string, or "timeout", or "error"."""
    if type(status) is int and 100 <= status <= 599:
        return str(status)
    if status in TRANSPORT_STATUSES:
        return status  # type: ignore[return-value]
    if isinstance(status, str) and status.isdigit() and 100 <= int(status) <= 599:
        return status
    raise ValueError(f"status must be an HTTP status (100-599), 'timeout' or 'error', not {status!r}")


# Classes named like timeouts that are none: urllib3's NewConnectionError (and NameResolutionError)
# inherit from its ConnectTimeoutError, but a refused connection or an unknown host is a failed
# connection; TimeoutStateError is a misconfigured timeout, not one that expired.
_NOT_TIMEOUT_NAMES = frozenset({"NewConnectionError", "TimeoutStateError"})


def is_timeout(error: BaseException) -> bool:
    """Client timeouts of the standard library, httpx/httpx2, requests/urllib3, aiohttp and openai, by type."""
    names = [cls.__name__ for cls in type(error).__mro__]
    if _NOT_TIMEOUT_NAMES.intersection(names):
        return False
    if isinstance(error, TimeoutError):  # socket.timeout is TimeoutError too
        return True
    reason = getattr(error, "reason", None)  # urllib wraps socket timeouts in URLError
    if isinstance(reason, TimeoutError):
        return True
    return any("Timeout" in name for name in names)


# Connection failures by class name (httpx ConnectError, requests ConnectionError, urllib3
# NewConnectionError, openai APIConnectionError, aiohttp ClientConnectorError and ClientConnectionError),
# besides the standard library's ConnectionError.
_CONNECTION_NAMES = ("ConnectError", "ConnectionError", "NewConnectionError", "ClientConnectorError",
                     "ClientConnectionError")


def is_connection_error(error: BaseException) -> bool:
    if isinstance(error, ConnectionError):  # refused, reset, aborted
        return True
    reason = getattr(error, "reason", None)
    if isinstance(reason, ConnectionError):
        return True
    return any(cls.__name__ in _CONNECTION_NAMES for cls in type(error).__mro__)


def error_chain(error: BaseException) -> list[BaseException]:
    """The error, then its causes: __cause__, else __context__ unless suppressed (``raise ... from
    None``, as the openai SDK raises its status errors), as Python's own traceback follows them."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        if current.__cause__ is not None:
            current = current.__cause__
        else:
            current = None if current.__suppress_context__ else current.__context__
    return chain


def status_of_error(error: BaseException) -> int | str:
    """The status a failed call counts as. A transport timeout anywhere in the cause chain is
    "timeout", then a failed connection "error", whatever HTTP status a wrapper claims (LiteLLM's
    Timeout says 408, its connection errors 500); else the HTTP status an HTTP error carries."""
    chain = error_chain(error)
    if any(is_timeout(e) for e in chain):
        return c.STATUS_TIMEOUT
    if any(is_connection_error(e) for e in chain):
        return c.STATUS_ERROR
    for link in chain:
        for holder in (link, getattr(link, "response", None)):
            for attribute in ("status_code", "status", "code"):
                value = getattr(holder, attribute, None)
                if type(value) is int and 100 <= value <= 599:
                    return value
    return c.STATUS_ERROR


def _response_id(body: Any) -> str | None:
    """The id an OpenAI-compatible response carries (chatcmpl-..., resp_...), if any."""
    if isinstance(body, Mapping):
        value = body.get("id")
        return value if isinstance(value, str) else None
    if isinstance(body, list) and body:
        return _response_id(body[-1])
    value = getattr(body, "id", None)  # an SDK object
    return value if isinstance(value, str) else None


@dataclass
class Call:
    """One call being timed by Instrument.track; give it the outcome with ``response``."""

    provider: str
    endpoint: str
    model: str
    status: int | str | None = None
    body: Any = None
    headers: Mapping[str, str] | None = None
    started: float = field(default_factory=time.perf_counter)

    def response(self, status: int, body: Any = None, headers: Mapping[str, str] | None = None) -> None:
        """The answer the upstream gave: HTTP status, parsed JSON body (or stream chunks), headers."""
        self.status, self.body, self.headers = status, body, headers


@dataclass(frozen=True)
class CallRow:
    """One call as the sinks (the PostgreSQL ledger) receive it."""

    ts: datetime
    provider: str
    endpoint: str
    model: str
    status: str
    latency_seconds: float
    prompt_tokens: int
    completion_tokens: int
    cached_prompt_tokens: int
    request_id: str | None
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0


class Sink(Protocol):
    """Receives one CallRow per recorded attempt; must not block (see holystack.instrument.ledger)."""

    def submit(self, row: CallRow) -> None: ...


@dataclass(frozen=True, slots=True)
class _CallSeries:
    """The bound children one kind of call (provider, endpoint, model, status) updates."""

    request: Any
    duration: Any
    tokens: list[Any]  # in TOKEN_ORDER, None until first used
    gauges: list[Any]  # in RATELIMIT_HEADERS order, None until a value arrives
    provider: str
    endpoint: str
    model: str
    status: str


def _process_collector(registry: CollectorRegistry) -> None:
    """process_start_time_seconds (with the rest of prometheus_client's process metrics) on a registry
    of its own; the global REGISTRY has it already. The counter steps read it to count the first
    values of a process that Prometheus never saw (an app started after Prometheus)."""
    try:
        ProcessCollector(registry=registry)
    except ValueError:  # already there: another Instrument on the same registry
        pass


class Instrument:
    """The contract's metrics for one spec. Thread-safe; bind once per process and share it."""

    def __init__(self, stack: "Stack", registry: CollectorRegistry | None = None, initialize: bool = True,
                 created_series: bool = False):
        registry = REGISTRY if registry is None else registry
        if not created_series:
            disable_created_metrics()  # process-wide: the contract has no *_created series
        if registry is not REGISTRY:
            _process_collector(registry)
        contract = stack.contract
        self.contract = contract
        self.providers = frozenset(p.name for p in stack.providers)
        self.endpoints = frozenset(e.path for e in stack.endpoints)
        self.models = frozenset(m.name for m in stack.models)
        self.base_urls = {p.name: p.base_url for p in stack.providers}
        self.timeouts = {p.name: p.timeout.seconds for p in stack.providers}
        self.resilience = getattr(stack, "resilience", None)
        self.registry = registry
        self.requests = Counter(_counter_name(contract.requests.name), contract.requests.help,
                                contract.requests.labels, registry=registry)
        self.duration = Histogram(contract.duration.name, contract.duration.help, contract.duration.labels,
                                  buckets=stack.latency_buckets, registry=registry)
        self.tokens = Counter(_counter_name(contract.tokens.name), contract.tokens.help, contract.tokens.labels,
                              registry=registry)
        # In multiprocess mode a gauge keeps the value of the last write, whichever worker made it.
        self.gauges = {
            "remaining": Gauge(contract.ratelimit_remaining.name, contract.ratelimit_remaining.help,
                               contract.ratelimit_remaining.labels, registry=registry, multiprocess_mode="mostrecent"),
            "limit": Gauge(contract.ratelimit_limit.name, contract.ratelimit_limit.help,
                           contract.ratelimit_limit.labels, registry=registry, multiprocess_mode="mostrecent"),
        }
        self.ttft = Histogram(contract.time_to_first_token.name, contract.time_to_first_token.help,
                              contract.time_to_first_token.labels, buckets=stack.latency_buckets, registry=registry)
        self.calls = Counter(_counter_name(contract.calls.name), contract.calls.help, contract.calls.labels,
                             registry=registry)
        self.call_duration = Histogram(contract.call_duration.name, contract.call_duration.help,
                                       contract.call_duration.labels, buckets=stack.latency_buckets, registry=registry)
        self.retries = Counter(_counter_name(contract.retries.name), contract.retries.help,
                               contract.retries.labels, registry=registry)
        self.fallbacks = Counter(_counter_name(contract.fallbacks.name), contract.fallbacks.help,
                                 contract.fallbacks.labels, registry=registry)
        self.circuit_state = Gauge(contract.circuit_state.name, contract.circuit_state.help,
                                   contract.circuit_state.labels, registry=registry, multiprocess_mode="mostrecent")
        self._series: dict[tuple[Any, ...], _CallSeries] = {}
        self._logical: dict[tuple[Any, ...], Any] = {}
        self._call_durations: dict[tuple[str, str], Any] = {}
        self._breakers: dict[str, Any] = {}
        self.clock = time.monotonic  # the breakers' clock, read through this attribute: tests may replace it
        self._breakers_lock = threading.Lock()
        # Sinks (the PostgreSQL ledger) get one CallRow per attempt; see holystack.instrument.ledger.
        self.sinks: list[Sink] = []
        self._token_children: dict[tuple[str, str], list[Any]] = {}
        self._gauge_children: dict[tuple[str, str], list[Any]] = {}
        if initialize:
            self._initialize()

    @classmethod
    def from_spec(cls, spec: "str | Path | Stack", registry: CollectorRegistry | None = None,
                  initialize: bool = True, created_series: bool = False) -> "Instrument":
        """An Instrument for a spec file or an already loaded model.

        registry defaults to prometheus_client's global REGISTRY. With initialize (the default), the
        request counter (status 200) and the token counters start at 0 for every provider, endpoint and
        model of the spec, so that an idle application still exposes the contract and MetricsAbsent
        stays quiet: providers x endpoints x models + providers x models x 3 series. Pass
        initialize=False for very large specs. prometheus_client's *_created series are turned off for
        the whole process unless created_series is True: the contract has none."""
        if isinstance(spec, (str, Path)):
            from ..spec import read_stack  # the spec reader alone (no renderer), only when given a file

            spec = read_stack(Path(spec))
        return cls(spec, registry, initialize, created_series)

    def _initialize(self) -> None:
        for provider in sorted(self.providers):
            for model in sorted(self.models):
                for index in range(INITIALIZED_TOKEN_TYPES):
                    self._token(provider, model, index)
                for endpoint in sorted(self.endpoints):
                    self._call_series(provider, endpoint, model, "200")
        for endpoint in sorted(self.endpoints):
            for model in sorted(self.models):
                self._logical_child(endpoint, model, "200")
                self._call_duration_child(endpoint, model)
        for provider in sorted(self.providers):  # every breaker starts closed, visibly
            self.breaker(provider)
        for edge in getattr(self.resilience, "fallbacks", ()):
            for reason in c.FALLBACK_REASONS:
                self.fallbacks.labels(edge.source, edge.target, reason)

    # Children bound once and kept: labels() costs more than the update that follows it.
    def _call_series(self, provider: str, endpoint: str, model: str, status: int | str) -> "_CallSeries":
        """The children one kind of call updates, keyed by the caller's own values; unknown names are
        folded first, and the cache stops growing at MAX_CACHED_CALL_KINDS so odd inputs cannot bloat it."""
        key = (provider, endpoint, model, status)
        series = self._series.get(key)
        if series is not None:
            return series
        code = status_label(status)
        provider, endpoint, model = self.labels_for(provider, endpoint, model)
        tokens_key = (provider, model)
        series = _CallSeries(self.requests.labels(provider, endpoint, model, code),
                             self.duration.labels(provider, endpoint, model),
                             self._tokens(provider, model), self._gauge_children.setdefault(tokens_key, [None] * len(RATELIMIT_HEADERS)),
                             provider, endpoint, model, code)
        if len(self._series) < MAX_CACHED_CALL_KINDS:
            self._series[key] = series
        return series

    def _tokens(self, provider: str, model: str) -> list[Any]:
        """The children of a provider and model in TOKEN_ORDER, each None until bound by _token: a
        call without usage (a timeout) must not create token series."""
        return self._token_children.setdefault((provider, model), [None] * len(TOKEN_ORDER))

    def _token(self, provider: str, model: str, index: int) -> Any:
        children = self._tokens(provider, model)
        if children[index] is None:
            children[index] = self.tokens.labels(provider, model, TOKEN_ORDER[index])
        return children[index]

    def _set_ratelimits(self, series: "_CallSeries", headers: Mapping[str, str]) -> None:
        """Gauges are bound on their first value: a gauge at 0 would read as an exhausted limit."""
        bound = series.gauges
        for index, value in enumerate(ratelimit_values(headers)):
            if value is None:
                continue
            gauge = bound[index]
            if gauge is None:
                kind, resource, _ = RATELIMIT_HEADERS[index]
                gauge = bound[index] = self.gauges[kind].labels(series.provider, series.model, resource)
            gauge.set(value)

    def labels_for(self, provider: str, endpoint: str, model: str) -> tuple[str, str, str]:
        """The label values a call is counted under: names outside the spec become "other"."""
        return (provider if provider in self.providers else c.OTHER,
                endpoint if endpoint in self.endpoints else c.OTHER,
                model if model in self.models else c.OTHER)

    def _logical_child(self, endpoint: str, model: str, status: int | str) -> Any:
        key = (endpoint, model, status)
        child = self._logical.get(key)
        if child is None:
            code = status_label(status)
            _, endpoint, model = self.labels_for(c.OTHER, endpoint, model)
            child = self.calls.labels(endpoint, model, code)
            if len(self._logical) < MAX_CACHED_CALL_KINDS:
                self._logical[key] = child
        return child

    def _call_duration_child(self, endpoint: str, model: str) -> Any:
        key = (endpoint, model)
        child = self._call_durations.get(key)
        if child is None:
            _, folded_endpoint, folded_model = self.labels_for(c.OTHER, endpoint, model)
            child = self.call_duration.labels(folded_endpoint, folded_model)
            if len(self._call_durations) < MAX_CACHED_CALL_KINDS:
                self._call_durations[key] = child
        return child

    def record_logical(self, *, endpoint: str, model: str, status: int | str, seconds: float | None = None) -> None:
        """Count one logical call (P_calls_total): status is that of its last attempt; seconds, from
        its start to its final answer (retries, waits and fallbacks included), go to
        P_call_duration_seconds."""
        self._logical_child(endpoint, model, status).inc()
        if seconds is not None:
            self._call_duration_child(endpoint, model).observe(seconds)

    def record_retry(self, *, provider: str, endpoint: str, model: str, reason: str) -> None:
        provider, endpoint, model = self.labels_for(provider, endpoint, model)
        self.retries.labels(provider, endpoint, model, reason).inc()

    def record_fallback(self, *, from_provider: str, to_provider: str, reason: str) -> None:
        self.fallbacks.labels(self.labels_for(from_provider, "", "")[0], self.labels_for(to_provider, "", "")[0],
                              reason).inc()

    def set_circuit_state(self, provider: str, state: str) -> None:
        """P_circuit_state: 1 for state, 0 for the provider's other states."""
        provider = self.labels_for(provider, "", "")[0]
        for each in c.CIRCUIT_STATES:
            self.circuit_state.labels(provider, each).set(1 if each == state else 0)

    def breaker(self, provider: str) -> Any:
        """The provider's circuit breaker, shared by every client of this Instrument (created on first use)."""
        found = self._breakers.get(provider)
        if found is None:
            from .resilience import CircuitBreaker, policy_for

            with self._breakers_lock:
                found = self._breakers.get(provider)
                if found is None:
                    found = self._breakers[provider] = CircuitBreaker(
                        policy_for(self.resilience, provider).breaker, provider,
                        on_change=self.set_circuit_state, clock=lambda: self.clock())
        return found

    def record_call(self, *, provider: str, endpoint: str, model: str, status: int | str, seconds: float,
                    body: Any = None, headers: Mapping[str, str] | None = None,
                    request_id: str | None = None, logical: bool = True, ttft: float | None = None,
                    usage: Usage | None = None) -> Usage:
        """Count one finished call: its status, its elapsed seconds (once), its tokens, its rate limits.

        model is the model the caller asked for, never the one the body names. body is the parsed
        JSON, an SDK object (model_dump()) or a list of stream chunks; usage, when given, is used
        instead of reading body. request_id goes to the ledger (default: the body's id). With logical
        (the default, for record_call and track()), the call also counts in P_calls_total and its
        seconds in P_call_duration_seconds; the transport passes False per attempt and counts the
        logical call itself. ttft: seconds to the
        first token of a stream. Returns the usage read."""
        series = self._series.get((provider, endpoint, model, status))
        if series is None:
            series = self._call_series(provider, endpoint, model, status)
        series.request.inc()
        series.duration.observe(seconds)
        if logical:
            self._logical_child(endpoint, model, status).inc()
            self._call_duration_child(endpoint, model).observe(seconds)
        if ttft is not None:
            self.ttft.labels(series.provider, series.endpoint, series.model).observe(ttft)
        if usage is None:
            if body is None:
                usage = NO_USAGE
            else:
                found = read_usage(body)
                if found is None:
                    usage = NO_USAGE
                    if series.status.startswith("2"):
                        warn_once(f"body:{type(body).__name__}",
                                  "holystack: no token usage readable in a %s body of %s %s; its tokens count as 0 "
                                  "(pass the parsed JSON, the SDK object or the list of stream chunks)",
                                  type(body).__name__, series.provider, series.endpoint)
                else:
                    usage = found
        if usage.prompt or usage.completion:
            prompt, completion, cached, written, written_1h = series.tokens
            (prompt or self._token(series.provider, series.model, 0)).inc(usage.prompt)
            (completion or self._token(series.provider, series.model, 1)).inc(usage.completion)
            if usage.cached_prompt:
                (cached or self._token(series.provider, series.model, 2)).inc(usage.cached_prompt)
            if usage.cache_write:
                (written or self._token(series.provider, series.model, 3)).inc(usage.cache_write)
                if usage.cache_write_1h:
                    (written_1h or self._token(series.provider, series.model, 4)).inc(usage.cache_write_1h)
        if headers:
            gauges = series.gauges
            try:  # fast path: OpenAI's four headers present, as numbers, and their gauges already bound
                if gauges[0] is None or gauges[1] is None or gauges[2] is None or gauges[3] is None:
                    raise LookupError
                remaining_requests, remaining_tokens, limit_requests, limit_tokens = (
                    float(headers[_REMAINING_REQUESTS]), float(headers[_REMAINING_TOKENS]),
                    float(headers[_LIMIT_REQUESTS]), float(headers[_LIMIT_TOKENS]))
            except (LookupError, TypeError, ValueError):
                self._set_ratelimits(series, headers)
            else:
                gauges[0].set(remaining_requests)
                gauges[1].set(remaining_tokens)
                gauges[2].set(limit_requests)
                gauges[3].set(limit_tokens)
        if self.sinks:
            self._to_sinks(series, seconds, usage, request_id or _response_id(body))
        return usage

    def _to_sinks(self, series: _CallSeries, seconds: float, usage: Usage, request_id: str | None) -> None:
        row = CallRow(datetime.now(timezone.utc), series.provider, series.endpoint, series.model, series.status,
                      seconds, usage.prompt, usage.completion, usage.cached_prompt, request_id,
                      usage.cache_write, usage.cache_write_1h)
        for sink in self.sinks:
            sink.submit(row)

    @contextmanager
    def track(self, *, provider: str, endpoint: str, model: str) -> Iterator[Call]:
        """Time one call and record it once, whatever happens.

        Inside the block, call ``call.response(status, body, headers)``. An exception that leaves the
        block is recorded with the HTTP status it carries (requests' and httpx's HTTPStatusError), else
        as "timeout" or "error", with the real elapsed time, and then re-raised."""
        call = Call(provider, endpoint, model)
        try:
            yield call
        except BaseException as error:
            seconds = time.perf_counter() - call.started
            status = status_of_error(error) if isinstance(error, Exception) else c.STATUS_ERROR
            body, headers = call.body, call.headers
            if type(status) is int and status != call.status:  # the error's own response, not one given earlier
                response_headers = getattr(getattr(error, "response", None), "headers", None)
                body, headers = None, response_headers if isinstance(response_headers, Mapping) else None
            self.record_call(provider=provider, endpoint=endpoint, model=model, status=status,
                             seconds=seconds, body=body, headers=headers)
            raise
        seconds = time.perf_counter() - call.started
        if call.status is None:
            log.warning("holystack: call to %s %s %s ended without call.response(); counted as error",
                        provider, endpoint, model)
            call.status = c.STATUS_ERROR
        self.record_call(provider=provider, endpoint=endpoint, model=model, status=call.status,
                         seconds=seconds, body=call.body, headers=call.headers)
