"""The generated promtool cases' input series as the LiteLLM proxy would write the same traffic
(holystack.sources.litellm reads them back): deployment counters with api_base and exception_status,
the proxy's calls with route /v1/<path>, the token counters by type, the histograms, the deployment
state, the remaining and limit gauges, the fallbacks between model groups."""
from __future__ import annotations

import re
from collections.abc import Mapping

from .. import contract as c
from ..promql import matcher, number, selector
from .base import Stack
from .litellm_names import (API_BASE, API_LATENCY, API_PROVIDER, ATTEMPTS_TOTAL, CASE_CLASSES, COOLED_DOWN,
                      DEPLOYMENT_STATE, EXCEPTION_STATUS, FAILURE, FALLBACK_MODEL, MODEL_GROUP, MODEL_ID, PROXY_CALLS,
                      REQUESTED_MODEL, RESOURCE_GAUGES, ROUTE, ROUTE_PREFIX, STATUS, SUCCESS, SUCCESSFUL_FALLBACKS,
                      TIMEOUT_STATUS, TOKEN_METRICS, TOTAL_LATENCY, TTFT, UNSET)

Sample = float | str | None
SERIES_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\}$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
VALUE_RE = re.compile(r"(_|[-+]?[0-9.]+(?:e[-+]?[0-9]+)?)(?:([-+][0-9.]+(?:e[-+]?[0-9]+)?)?x([0-9]+))?")
TARGET = (c.LE, "job", "instance")


def expand(values: str) -> list[Sample]:
    """A promtool values string, sample by sample: numbers, None (_) and "stale"."""
    out: list[Sample] = []
    for token in values.split():
        if token == "stale":
            out.append(token)
            continue
        found = VALUE_RE.fullmatch(token)
        if found is None:
            raise ValueError(f"not promtool notation: {token!r}")
        start, step, times = found.groups()
        if start == "_":
            out.extend([None] * (int(times) if times else 1))
        else:
            out.extend(float(start) + float(step or 0) * i for i in range(int(times) + 1 if times else 1))
    return out


def encode(values: list[Sample]) -> str:
    return " ".join("_" if v is None else v if isinstance(v, str) else number(v) for v in values)


def _add(a: list[Sample], b: list[Sample]) -> list[Sample]:
    return [x if y is None else y if x is None else x + y if isinstance(x, float) and isinstance(y, float) else "stale"
            for x, y in zip(a, b)]


def raw_status(status: str) -> str:
    """The status LiteLLM writes for a canonical status_code."""
    return {c.STATUS_TIMEOUT: TIMEOUT_STATUS, c.STATUS_ERROR: UNSET}.get(status, status)


def _deployment(stack: Stack, provider_name: str, model: str) -> dict[str, str]:
    """A deployment's labels: api_base is the provider's base_url, api_provider LiteLLM's name for an
    OpenAI-compatible deployment (the spec's name where it has no base_url)."""
    provider = next((p for p in stack.providers if p.name == provider_name), None)
    base = provider.base_url if provider is not None and provider.base_url else None
    return {MODEL_GROUP: model, REQUESTED_MODEL: model, "litellm_model_name": f"openai/{model}",
            MODEL_ID: f"{provider_name}-{model}", API_BASE: base or UNSET, API_PROVIDER: "openai" if base else provider_name}


def _by_name(provider_name: str, model: str) -> dict[str, str]:
    """Labels of series without api_base (tokens, histograms): the provider is told by api_provider."""
    return {MODEL_GROUP: model, REQUESTED_MODEL: model, "model": f"openai/{model}", API_PROVIDER: provider_name}


def raw_series(stack: Stack, contract: c.Contract, rate_limits: Mapping[str, float],
               series: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """series, written in the contract's shape, as LiteLLM's series of the same traffic (Source.test_series);
    rate_limits: the spec's metrics.rate_limits, against which the remaining gauges are scaled."""
    k = contract
    parsed = []
    for text, values in series:
        found = SERIES_RE.match(text)
        parsed.append((found.group(1), dict(LABEL_RE.findall(found.group(2)))) if found else (text, None))
    limits = {(labels[c.PROVIDER], labels[c.MODEL], labels[c.RESOURCE]): expand(values)
              for (name, labels), (_, values) in zip(parsed, series)
              if labels is not None and name == k.ratelimit_limit.name}
    out: list[tuple[str, list[Sample] | str]] = []
    totals: dict[str, list[Sample]] = {}
    states: dict[str, list[Sample]] = {}
    for (name, labels), (text, values) in zip(parsed, series):
        if labels is None:
            out.append((text, values))
            continue
        target = {key: labels[key] for key in TARGET if key in labels}
        raw: tuple[str, dict[str, str]] | None
        if name == k.requests.name:
            deployment = _deployment(stack, labels[c.PROVIDER], labels[c.MODEL])
            key = selector(ATTEMPTS_TOTAL, *(matcher(a, b) for a, b in {**deployment, **target}.items()))
            totals[key] = _add(totals[key], expand(values)) if key in totals else expand(values)
            status = labels[c.STATUS_CODE]
            if status.startswith("2"):
                raw = SUCCESS, deployment
            else:
                exception = raw_status(status)
                raw = FAILURE, {**deployment, EXCEPTION_STATUS: exception,
                                "exception_class": CASE_CLASSES.get(exception, CASE_CLASSES.get(exception[:1], CASE_CLASSES[UNSET]))}
        elif name == k.calls.name:
            raw = PROXY_CALLS, {REQUESTED_MODEL: labels[c.MODEL], ROUTE: ROUTE_PREFIX + labels[c.ENDPOINT]
                                if labels[c.ENDPOINT].startswith("/") else f"{ROUTE_PREFIX}/{labels[c.ENDPOINT]}",
                                STATUS: raw_status(labels[c.STATUS_CODE])}
        elif name == k.tokens.name:
            metric = TOKEN_METRICS.get(labels[c.TOKEN_TYPE])
            raw = (metric, _by_name(labels[c.PROVIDER], labels[c.MODEL])) if metric else None
        elif name.startswith((k.duration.name, k.call_duration.name, k.time_to_first_token.name)) and \
                name.rsplit("_", 1)[-1] in ("bucket", "count", "sum"):
            base, suffix = name.rsplit("_", 1)
            histogram = {k.duration.name: API_LATENCY, k.call_duration.name: TOTAL_LATENCY,
                         k.time_to_first_token.name: TTFT}[base]
            provider = labels.get(c.PROVIDER, stack.providers[0].name)
            raw = f"{histogram}_{suffix}", _by_name(provider, labels[c.MODEL])
        elif name in (k.ratelimit_remaining.name, k.ratelimit_limit.name):
            gauges = RESOURCE_GAUGES.get(labels[c.RESOURCE])
            raw = None
            if gauges is not None:
                remaining = name == k.ratelimit_remaining.name
                deployment = _deployment(stack, labels[c.PROVIDER], labels[c.MODEL])
                spec_limit = rate_limits.get(labels[c.RESOURCE])
                if remaining and spec_limit is not None:  # the same headroom against the spec's limit
                    limit = limits.get((labels[c.PROVIDER], labels[c.MODEL], labels[c.RESOURCE]))
                    if limit:
                        values = encode([v * spec_limit / lim if isinstance(v, float) and isinstance(lim, float)
                                         else v for v, lim in zip(expand(values), limit)])
                if remaining or spec_limit is None:
                    raw = gauges[0 if remaining else 1], deployment
        elif name == k.circuit_state.name:
            if labels[c.STATE] in c.CIRCUIT_STATES:  # open and half-open both read as cooled down, closed as 0
                provider = labels[c.PROVIDER]
                weight = 0.0 if labels[c.STATE] == c.CIRCUIT_CLOSED else float(COOLED_DOWN)
                cooled = [v if not isinstance(v, float) else weight * v for v in expand(values)]
                state_labels = {key: value for key, value in _deployment(stack, provider, stack.models[0].name).items()
                                if key in ("litellm_model_name", MODEL_ID, API_BASE, API_PROVIDER)}
                key = selector(DEPLOYMENT_STATE, *(matcher(a, b) for a, b in {**state_labels, **target}.items()))
                states[key] = _add(states[key], cooled) if key in states else cooled
            continue
        elif name == k.fallbacks.name:
            edge = next((e for e in stack.resilience.fallbacks
                         if (e.source, e.target) == (labels[c.FROM_PROVIDER], labels[c.TO_PROVIDER])), None)
            raw = None
            if edge is not None and edge.models:
                model, fallback = edge.models[0]
                raw = SUCCESSFUL_FALLBACKS, {REQUESTED_MODEL: model, FALLBACK_MODEL: fallback,
                                             EXCEPTION_STATUS: "429" if labels.get(c.REASON) == c.REASON_RATE_LIMITED
                                             else "503"}
        elif name in k.series_names():
            raw = None  # a metric LiteLLM has no counterpart of (retries)
        else:
            out.append((text, values))
            continue
        if raw is not None:
            metric, raw_labels = raw
            out.append((selector(metric, *(matcher(a, b) for a, b in {**raw_labels, **target}.items())), values))
    out += list(totals.items())
    out += list(states.items())
    written: list[tuple[str, str]] = []
    seen: set[str] = set()
    for text, values in out:
        if text not in seen:
            seen.add(text)
            written.append((text, values if isinstance(values, str) else encode(values)))
    return written
