"""Instrument: emits exactly the metric contract (holystack.contract) with prometheus_client."""
from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

from .. import contract as c
from ..defaults import DEFAULT_METRICS_PORT
from ..model import Stack
from .usage import NO_USAGE, Usage, ratelimits_from_headers, usage_from_body

log = logging.getLogger("holystack.instrument")

TRANSPORT_STATUSES = (c.STATUS_TIMEOUT, c.STATUS_ERROR)


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


def is_timeout(error: BaseException) -> bool:
    """Client timeouts of the standard library, httpx, requests, aiohttp and openai, by type."""
    if isinstance(error, TimeoutError):  # socket.timeout is TimeoutError too
        return True
    reason = getattr(error, "reason", None)  # urllib wraps socket timeouts in URLError
    if isinstance(reason, TimeoutError):
        return True
    return any("Timeout" in cls.__name__ for cls in type(error).__mro__)


def status_of_error(error: BaseException) -> int | str:
    """The status a failed call counts as: the HTTP status an HTTP error carries, else timeout or error."""
    for holder in (error, getattr(error, "response", None)):
        for attribute in ("status_code", "status", "code"):
            value = getattr(holder, attribute, None)
            if type(value) is int and 100 <= value <= 599:
                return value
    return c.STATUS_TIMEOUT if is_timeout(error) else c.STATUS_ERROR


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


class Instrument:
    """The contract's metrics for one spec. Thread-safe; bind once per process and share it."""

    def __init__(self, stack: Stack, registry: CollectorRegistry | None = None, initialize: bool = True,
                 created_series: bool = False):
        registry = REGISTRY if registry is None else registry
        if not created_series:
            disable_created_metrics()  # process-wide: the contract has no *_created series
        contract = stack.contract
        self.contract = contract
        self.providers = frozenset(p.name for p in stack.providers)
        self.endpoints = frozenset(e.path for e in stack.endpoints)
        self.models = frozenset(m.name for m in stack.models)
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
        self._request_children: dict[tuple[str, str, str, str], Any] = {}
        self._duration_children: dict[tuple[str, str, str], Any] = {}
        self._token_children: dict[tuple[str, str], tuple[Any, Any, Any]] = {}
        self._gauge_children: dict[tuple[str, str, str, str], Any] = {}
        if initialize:
            self._initialize()

    @classmethod
    def from_spec(cls, spec: str | Path | Stack, registry: CollectorRegistry | None = None,
                  initialize: bool = True, created_series: bool = False) -> "Instrument":
        """An Instrument for a spec file or an already loaded model.

        registry defaults to prometheus_client's global REGISTRY. With initialize (the default), the
        request counter (status 200) and the token counters start at 0 for every provider, endpoint and
        model of the spec, so that an idle application still exposes the contract and MetricsAbsent
        stays quiet: providers x endpoints x models + providers x models x 3 series. Pass
        initialize=False for very large specs. prometheus_client's *_created series are turned off for
        the whole process unless created_series is True: the contract has none."""
        if not isinstance(spec, Stack):
            from ..pipeline import load_stack  # spec checks only when given a file

            spec = load_stack(Path(spec))
        return cls(spec, registry, initialize, created_series)

    def _initialize(self) -> None:
        for provider in sorted(self.providers):
            for model in sorted(self.models):
                self._tokens(provider, model)
                for endpoint in sorted(self.endpoints):
                    self._request(provider, endpoint, model, "200")

    # Bound children, cached: labels() costs more than the increment it precedes.
    def _request(self, provider: str, endpoint: str, model: str, status: str) -> Any:
        key = (provider, endpoint, model, status)
        child = self._request_children.get(key)
        if child is None:
            child = self._request_children[key] = self.requests.labels(provider, endpoint, model, status)
        return child

    def _duration(self, provider: str, endpoint: str, model: str) -> Any:
        key = (provider, endpoint, model)
        child = self._duration_children.get(key)
        if child is None:
            child = self._duration_children[key] = self.duration.labels(provider, endpoint, model)
        return child

    def _tokens(self, provider: str, model: str) -> tuple[Any, Any, Any]:
        key = (provider, model)
        children = self._token_children.get(key)
        if children is None:
            children = self._token_children[key] = tuple(
                self.tokens.labels(provider, model, token_type)
                for token_type in (c.TOKEN_PROMPT, c.TOKEN_COMPLETION, c.TOKEN_CACHED_PROMPT))
        return children

    def _gauge(self, kind: str, provider: str, model: str, resource: str) -> Any:
        key = (kind, provider, model, resource)
        child = self._gauge_children.get(key)
        if child is None:
            child = self._gauge_children[key] = self.gauges[kind].labels(provider, model, resource)
        return child

    def labels_for(self, provider: str, endpoint: str, model: str) -> tuple[str, str, str]:
        """The label values a call is counted under: names outside the spec become "other"."""
        return (provider if provider in self.providers else c.OTHER,
                endpoint if endpoint in self.endpoints else c.OTHER,
                model if model in self.models else c.OTHER)

    def record_call(self, *, provider: str, endpoint: str, model: str, status: int | str, seconds: float,
                    body: Any = None, headers: Mapping[str, str] | None = None) -> Usage:
        """Count one finished call: its status, its elapsed seconds (once), its tokens, its rate limits.

        model is the model the caller asked for, never the one the body names. Returns the usage read."""
        provider, endpoint, model = self.labels_for(provider, endpoint, model)
        self._request(provider, endpoint, model, status_label(status)).inc()
        self._duration(provider, endpoint, model).observe(seconds)
        usage = usage_from_body(body) if body is not None else NO_USAGE
        if usage.prompt or usage.completion:
            prompt, completion, cached = self._tokens(provider, model)
            prompt.inc(usage.prompt)
            completion.inc(usage.completion)
            if usage.cached_prompt:
                cached.inc(usage.cached_prompt)
        if headers:
            for kind, resource, value in ratelimits_from_headers(headers):
                self._gauge(kind, provider, model, resource).set(value)
        return usage

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
