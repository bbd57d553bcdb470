"""The litellm source: the LiteLLM proxy's Prometheus metrics (callbacks: ["prometheus"]), as
litellm[proxy] 1.106.12 writes them (litellm/integrations/prometheus.py, label sets in
litellm/types/integrations/prometheus.py; prometheus_client adds _total to every counter).

Raw series read, and the labels read of them (every other label stays and is summed away):
- attempts: litellm_deployment_success_responses_total and litellm_deployment_failure_responses_total
  {exception_status}, which LiteLLM increments beside litellm_deployment_total_requests_total on every
  deployment call (so together they are it; MetricsAbsent watches the total); labels model_group,
  requested_model, api_base, api_provider.
- logical calls: litellm_proxy_total_requests_metric_total{status_code, route, requested_model}.
- tokens: litellm_input_tokens_metric_total, litellm_output_tokens_metric_total,
  litellm_input_cached_tokens_metric_total, litellm_input_cache_creation_tokens_metric_total
  {requested_model, api_provider}.
- latency: litellm_llm_api_latency_metric (per attempt) and litellm_request_total_latency_metric (per
  logical call), time to first token litellm_llm_api_time_to_first_token_metric: histograms with
  LATENCY_BUCKETS {requested_model, api_provider}, observed on successes only.
- headroom: litellm_remaining_requests_metric, litellm_remaining_tokens_metric over
  litellm_deployment_rpm_limit, litellm_deployment_tpm_limit (or metrics.rate_limits)
  {model_group, api_base, api_provider, model_id}.
- fallbacks: litellm_deployment_successful_fallbacks_total{requested_model, fallback_model}.
- breaker: litellm_deployment_state{api_base, api_provider} (0 healthy, 1 partial outage, 2 cooled down).
- spend: litellm_spend_metric_total{requested_model, api_provider}, recorded beside holystack's cost.
Seen live: unset labels read the string "None"; route carries /v1 (/v1/chat/completions) and the proxy
counts the scrapes of its own /metrics/ route, so only the spec's endpoints are read; exception_class
reads like Openai.RateLimitError (not read: exception_status says the class).

Each mapping is a label_replace over the raw rate or counter step; the choices:
- status: exception_status / status_code as the HTTP status, except 408 (LiteLLM's Timeout carries 408)
  -> timeout and "None" or empty (no status on the exception) -> error.
- provider: api_base matched against the spec's base_url (scheme, host and port; the longest path
  wins), else api_provider equal to a spec provider's name, else other. Tokens, latency and spend carry
  no api_base: there only api_provider (LiteLLM's provider name, "openai" for every OpenAI-compatible
  deployment) tells, so name spec providers as LiteLLM does to tell them apart there.
- model: requested_model (the model group the client asked for), model_group on the gauges; a model
  outside the spec -> other.
- endpoint: route for logical calls (path or /v1 + path). The deployment counters and histograms carry
  no route: each model is on the endpoint metrics.model_endpoints names, else the spec's first one; a
  model outside the spec on other.
- breaker: state 2 (cooled down) -> open, else closed. LiteLLM keeps 2 until the deployment's next
  answer, after its cooldown_time too, like a breaker waiting for its probe; it has no half-open state.
- fallbacks: LiteLLM counts them between model groups, so each resilience.fallbacks chain names its
  models ({model group: fallback model group}, as the router's fallbacks list has them), and a
  fallback of model m to m' moves a call from the chain's provider to its target. Failed fallbacks
  (litellm_deployment_failed_fallbacks_total) are not counted.
- cost stays tokens x the spec's prices; LiteLLM's own spend is recorded beside it (spend_rules)."""
from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from .. import contract as c
from ..frozen import frozen
from ..promql import alternation, by, matcher, number, quote, selector
from .base import (ATTEMPTS, BREAKER_STATE, CACHED_TOKENS, FALLBACKS, LOGICAL_CALLS, RATE_LIMIT_GAUGES, RETRIES,
                   TIME_TO_FIRST_TOKEN, Match, Source, Stack, StepFn)
from .litellm_cases import raw_series
from .litellm_names import (SUCCESS, FAILURE, ATTEMPTS_TOTAL, PROXY_CALLS, INPUT_TOKENS, OUTPUT_TOKENS,
                            CACHED_INPUT_TOKENS, CACHE_WRITE_TOKENS, API_LATENCY, TOTAL_LATENCY, TTFT,
                            REMAINING_REQUESTS, REMAINING_TOKENS, RPM_LIMIT, TPM_LIMIT, SUCCESSFUL_FALLBACKS,
                            DEPLOYMENT_STATE, SPEND, API_BASE, API_PROVIDER, MODEL_GROUP, REQUESTED_MODEL,
                            FALLBACK_MODEL, MODEL_ID, EXCEPTION_STATUS, STATUS, ROUTE, UNSET, TIMEOUT_STATUS,
                            ROUTE_PREFIX, UNLISTED_MODEL, FALLBACK_PAIR, PAIR_SEPARATOR, BUCKETS, COOLED_DOWN,
                            RAW_STATUS, RESOURCE_GAUGES, TOKEN_METRICS, STEP_LABELS, CASE_CLASSES)

__all__ = ["Litellm", "Part", "SUCCESS", "FAILURE", "ATTEMPTS_TOTAL", "PROXY_CALLS", "INPUT_TOKENS", "OUTPUT_TOKENS",
           "CACHED_INPUT_TOKENS", "CACHE_WRITE_TOKENS", "API_LATENCY", "TOTAL_LATENCY", "TTFT", "REMAINING_REQUESTS",
           "REMAINING_TOKENS", "RPM_LIMIT", "TPM_LIMIT", "SUCCESSFUL_FALLBACKS", "DEPLOYMENT_STATE", "SPEND",
           "API_BASE", "API_PROVIDER", "MODEL_GROUP", "REQUESTED_MODEL", "FALLBACK_MODEL", "MODEL_ID",
           "EXCEPTION_STATUS", "STATUS", "ROUTE", "UNSET", "TIMEOUT_STATUS", "ROUTE_PREFIX", "BUCKETS",
           "CASE_CLASSES"]  # the raw names (litellm_names) re-exported: what other modules and tests read here


@frozen
class Part:
    """One raw series read as (part of) a canonical one."""

    raw: str
    model_label: str = REQUESTED_MODEL
    base: bool = False         # carries api_base
    route: bool = False        # carries route (the endpoint); else the endpoint is the model's
    status: str | None = None  # the raw label of the status, or None
    constants: tuple[tuple[str, str], ...] = ()  # canonical labels the part always has


def _replace(vector: str, target: str, value: str, source: str, regex: str) -> str:
    return f"label_replace({vector}, {quote(target)}, {quote(value)}, {quote(source)}, {quote(regex)})"


def _raw_status(regex: str) -> str:
    """A regex on the contract's status_code as one on LiteLLM's status (timeout is 408, error None)."""
    words = {c.STATUS_TIMEOUT: TIMEOUT_STATUS, c.STATUS_ERROR: f"{UNSET}|"}
    return RAW_STATUS.get(regex) or "|".join(words.get(alt, alt) for alt in regex.split("|"))


def _netloc_path(url: str | None) -> tuple[str, str] | None:
    if not url:
        return None
    parts = urlsplit(url)
    return (parts.netloc, parts.path.rstrip("/")) if parts.netloc else None


class Litellm(Source):
    name = "litellm"
    capabilities = frozenset({ATTEMPTS, LOGICAL_CALLS, CACHED_TOKENS, RATE_LIMIT_GAUGES, FALLBACKS, BREAKER_STATE,
                              TIME_TO_FIRST_TOKEN})
    options = frozenset({"model_endpoints", "rate_limits"})
    fixed_buckets = BUCKETS
    unlisted_endpoint = c.OTHER
    lacking = {RETRIES: "LiteLLM counts no retries (num_retries' attempts are in "
                        "litellm_deployment_total_requests_total, but nothing says which were retries)"}

    def __init__(self, contract: c.Contract, settings: Mapping[str, Any] | None = None) -> None:
        super().__init__(contract, settings)
        settings = settings or {}
        self.model_endpoints: dict[str, str] = dict(sorted((settings.get("model_endpoints") or {}).items()))
        self.rate_limits: dict[str, float] = dict(sorted((settings.get("rate_limits") or {}).items()))

    # -- which raw series a canonical one is read from -------------------------------------------
    def _parts(self, series: str) -> tuple[Part, ...]:
        k = self.contract
        tokens = tuple(Part(raw, constants=((c.TOKEN_TYPE, token_type),)) for token_type, raw in TOKEN_METRICS.items())
        table = {
            k.requests.name: (Part(SUCCESS, base=True, constants=((c.STATUS_CODE, "200"),)),
                              Part(FAILURE, base=True, status=EXCEPTION_STATUS)),
            k.calls.name: (Part(PROXY_CALLS, route=True, status=STATUS),),
            k.tokens.name: tokens,
        }
        for canonical, raw in ((k.duration.name, API_LATENCY), (k.call_duration.name, TOTAL_LATENCY),
                               (k.time_to_first_token.name, TTFT)):
            for suffix in ("_bucket", "_count", "_sum"):
                table[canonical + suffix] = (Part(raw + suffix),)
        return table.get(series, ())

    # -- the canonical labels, from the raw ones ------------------------------------------------
    @classmethod
    def moved_onto(cls, data: dict[str, Any]) -> list[str]:
        """Every endpoint given models (metrics.model_endpoints: embedding models, those without an
        output price, on the first embeddings path, the others in turn on the other paths; an
        endpoint left without one is dropped), and the fallback chains that name no models dropped:
        LiteLLM counts fallbacks between model groups."""
        changes = []
        resilience = data.get("resilience") or {}
        chains = resilience.get("fallbacks") or []
        if any(not chain.get("models") for chain in chains):
            resilience["fallbacks"] = [chain for chain in chains if chain.get("models")] or None
            if resilience["fallbacks"] is None:
                del resilience["fallbacks"]
            changes.append("resilience.fallbacks: the chains naming no models dropped, litellm counts fallbacks "
                           "between model groups")
        paths = [e["path"] for e in data.get("endpoints") or []]
        metrics = data.setdefault("metrics", {})
        given = dict(metrics.get("model_endpoints") or {})
        if not paths or not set(paths[1:]) - set(given.values()):
            return changes
        embeddings = next((path for path in paths if "embedding" in path), None)
        others = [path for path in paths if path != embeddings] or paths
        turn = 0
        for model in data.get("models") or []:
            if model["name"] in given:
                continue
            if embeddings is not None and "output" not in (model.get("prices") or {}):
                given[model["name"]] = embeddings
            else:
                given[model["name"]] = others[turn % len(others)]
                turn += 1
        placed = {model: path for model, path in given.items() if path != paths[0]}
        metrics["model_endpoints"] = placed
        changes += [f"metrics.model_endpoints: {model} -> {path}" for model, path in placed.items()]
        empty = [path for path in paths[1:] if path not in placed.values()]
        data["endpoints"] = [e for e in data["endpoints"] if e["path"] not in empty]
        changes += [f"{path}: dropped, no model is left for it (litellm tells endpoints by model)" for path in empty]
        return changes

    def endpoint_of(self, stack: Stack, model: str) -> str:
        """The endpoint a model's deployment calls are on (they carry no route)."""
        return self.model_endpoints.get(model, stack.endpoints[0].path)

    def _models_on(self, stack: Stack, path: str) -> list[str]:
        return [m.name for m in stack.models if self.endpoint_of(stack, m.name) == path]

    def _provider(self, stack: Stack, vector: str, base: bool) -> str:
        v = _replace(vector, c.PROVIDER, c.OTHER, API_PROVIDER, ".*")
        for provider in stack.providers:
            v = _replace(v, c.PROVIDER, provider.name, API_PROVIDER, re.escape(provider.name))
        if not base:
            return v
        # base_url's host and port, then its path too: a later label_replace wins, so a provider whose
        # path matches beats one that only shares the host (the fake upstream serves them all on one).
        located = sorted(((where, p.name) for p in stack.providers if (where := _netloc_path(p.base_url))),
                         key=lambda item: (len(item[0][1]), item[1]))
        for (netloc, _), name in located:
            v = _replace(v, c.PROVIDER, name, API_BASE, f"https?://{re.escape(netloc)}(/.*)?")
        for (netloc, path), name in located:
            if path:
                v = _replace(v, c.PROVIDER, name, API_BASE, f"https?://{re.escape(netloc)}{re.escape(path)}(/.*)?")
        return v

    def _model(self, stack: Stack, vector: str, label: str) -> str:
        v = _replace(vector, c.MODEL, c.OTHER, label, ".*")
        return _replace(v, c.MODEL, "$1", label, "(" + alternation(m.name for m in stack.models) + ")")

    def _endpoint(self, stack: Stack, vector: str, part: Part) -> str:
        if part.route:
            v = vector
            for endpoint in stack.endpoints:
                v = _replace(v, c.ENDPOINT, endpoint.path, ROUTE, f"({re.escape(ROUTE_PREFIX)})?{re.escape(endpoint.path)}")
            return v
        v = _replace(vector, c.ENDPOINT, c.OTHER, part.model_label, ".*")  # a model outside the spec
        for path in sorted({self.endpoint_of(stack, m.name) for m in stack.models}):
            v = _replace(v, c.ENDPOINT, path, part.model_label, alternation(self._models_on(stack, path)))
        return v

    def _status(self, vector: str, label: str) -> str:
        v = _replace(vector, c.STATUS_CODE, "$1", label, "(.*)")
        v = _replace(v, c.STATUS_CODE, c.STATUS_TIMEOUT, label, TIMEOUT_STATUS)
        return _replace(v, c.STATUS_CODE, c.STATUS_ERROR, label, f"{UNSET}|")

    def _relabel(self, stack: Stack, part: Part, vector: str, labels: tuple[str, ...]) -> str:
        v = vector
        for label, value in part.constants:  # always: they keep the parts apart in the union
            v = _replace(v, label, value, "", "")
        if c.PROVIDER in labels:
            v = self._provider(stack, v, part.base)
        if c.ENDPOINT in labels:
            v = self._endpoint(stack, v, part)
        if c.MODEL in labels:
            v = self._model(stack, v, part.model_label)
        if c.STATUS_CODE in labels and part.status:
            v = self._status(v, part.status)
        return v

    def _selectors(self, stack: Stack, series: str, matches: tuple[Match, ...]) -> list[tuple[Part, str]] | None:
        """(part, its raw selector) for each part the matches leave; None: a series this source lacks."""
        parts = self._parts(series)
        if not parts:
            return None
        out = []
        for part in parts:
            raw: list[str] = []
            if part.route:  # only the spec's endpoints: the proxy counts its own /metrics/ route too
                raw.append(matcher(ROUTE, f"({re.escape(ROUTE_PREFIX)})?({alternation(e.path for e in stack.endpoints)})",
                                   "=~"))
            keep = True
            for label, value, op in matches:
                if label == c.STATUS_CODE:
                    constant = dict(part.constants).get(c.STATUS_CODE)
                    if constant is not None:
                        keep = keep and (re.fullmatch(value, constant) is not None) == (op in ("=", "=~"))
                    else:
                        raw.append(matcher(part.status or EXCEPTION_STATUS, _raw_status(value),
                                           op if op in ("=~", "!~") else op + "~"))
                elif label == c.ENDPOINT and op == "=":
                    if part.route:
                        raw[0] = matcher(ROUTE, f"({re.escape(ROUTE_PREFIX)})?{re.escape(value)}", "=~")
                    else:
                        raw.append(matcher(part.model_label, alternation(self._models_on(stack, value)), "=~"))
                elif label == c.TOKEN_TYPE and op == "=":
                    keep = keep and dict(part.constants).get(c.TOKEN_TYPE) == value
                elif label == c.LE:
                    raw.append(matcher(label, value, op))
                else:
                    raise ValueError(f"litellm cannot read {label}{op}{value!r}")
            if keep:
                out.append((part, selector(part.raw, *raw)))
        return out

    def endpoint_problem(self, stack: Stack, path: str) -> str | None:
        if path == stack.endpoints[0].path or self._models_on(stack, path):
            return None
        return (f"no model is on {path} (LiteLLM's deployment counters and latency carry no route: each model is "
                f"on the endpoint metrics.model_endpoints names, else on {stack.endpoints[0].path}); "
                f"name its models, e.g. metrics.model_endpoints: {{<model>: {path}}}")

    def problems(self, stack: Stack) -> Iterator[tuple[tuple[str | int, ...], str]]:
        models, paths = {m.name for m in stack.models}, [e.path for e in stack.endpoints]
        for model, path in self.model_endpoints.items():
            where = ("metrics", "model_endpoints", model)
            if model not in models:
                yield where, f"{model!r} is not a model of the spec; use one of {', '.join(sorted(models))}"
            elif path not in paths:
                yield where, f"{path!r} is not an endpoint of the spec; use one of {', '.join(paths)}"
        pairs: dict[tuple[str, str], int] = {}
        for index, edge in enumerate(stack.resilience.fallbacks):
            where = ("resilience", "fallbacks", index)
            if not edge.models:
                yield where, (
                    "metrics.source litellm counts fallbacks between model groups (requested_model -> "
                    "fallback_model), not providers: name this chain's models as LiteLLM's router fallbacks do, "
                    "e.g. models: {gpt-4.1: gpt-4.1-backup}")
            for model, target in edge.models:
                if (model, target) in pairs:
                    yield where + ("models", model), (f"{model} -> {target} is already fallbacks[{pairs[model, target]}]; "
                                                      "litellm cannot tell which chain a fallback took")
                pairs.setdefault((model, target), index)

    # -- reads ---------------------------------------------------------------------------------
    def _union(self, stack: Stack, reads: list[tuple[Part, str]], labels: tuple[str, ...]) -> str:
        return "\n  or\n  ".join(self._relabel(stack, part, text, labels) for part, text in reads) or "vector(0) < 0"

    def per_second(self, stack: Stack, series: str, window: str, *matches: Match) -> str:
        reads = self._selectors(stack, series, matches)
        if reads is None:
            return self._special_rate(stack, series, window) or f"rate({series}[{window}])"
        every = (c.PROVIDER, c.ENDPOINT, c.MODEL, c.STATUS_CODE, c.TOKEN_TYPE)
        return "(\n  " + self._union(stack, [(p, f"rate({s}[{window}])") for p, s in reads], every) + "\n)"

    def rate(self, stack: Stack, series: str, labels: tuple[str, ...], window: str, *matches: Match) -> str:
        reads = self._selectors(stack, series, matches)
        if reads is None:
            special = self._special_rate(stack, series, window)
            return f"sum {by(labels)} ({special})" if special else super().rate(stack, series, labels, window, *matches)
        return f"sum {by(labels)} (\n  " + self._union(stack, [(p, f"rate({s}[{window}])") for p, s in reads], labels) + "\n)"

    def step(self, stack: Stack, counter_step: StepFn, series: str, labels: tuple[str, ...], *matches: Match) -> str:
        reads = self._selectors(stack, series, matches)
        if reads is None:
            return counter_step(stack, series, labels)
        steps = [(p, counter_step(stack, s, STEP_LABELS)) for p, s in reads]
        return f"sum {by(labels)} (\n  " + self._union(stack, steps, labels) + "\n)"

    def _special_rate(self, stack: Stack, series: str, window: str) -> str | None:
        """Fallbacks: per (from_provider, to_provider) of the spec's chains, from the model groups."""
        if series != self.contract.fallbacks.name or not stack.resilience.fallbacks:
            return None
        pairs = [(edge, model, target) for edge in stack.resilience.fallbacks for model, target in edge.models]
        if not pairs:
            return None
        v = selector(SUCCESSFUL_FALLBACKS, matcher(REQUESTED_MODEL, alternation(sorted({m for _, m, _ in pairs})), "=~"))
        v = f'label_join(rate({v}[{window}]), {quote(FALLBACK_PAIR)}, {quote(PAIR_SEPARATOR)}, ' \
            f'{quote(REQUESTED_MODEL)}, {quote(FALLBACK_MODEL)})'
        for label in (c.FROM_PROVIDER, c.TO_PROVIDER):
            v = _replace(v, label, c.OTHER, FALLBACK_PAIR, ".*")
        for edge, model, target in pairs:
            pair = re.escape(f"{model}{PAIR_SEPARATOR}{target}")
            v = _replace(_replace(v, c.FROM_PROVIDER, edge.source, FALLBACK_PAIR, pair), c.TO_PROVIDER, edge.target,
                         FALLBACK_PAIR, pair)
        return v

    def gauge(self, stack: Stack, series: str) -> str:
        k = self.contract
        keep = by((c.PROVIDER, c.MODEL, c.RESOURCE, MODEL_ID))
        remaining = {resource: f"min {keep} (\n    {self._gauge_part(stack, raw, resource)}\n  )"
                     for resource, (raw, _) in RESOURCE_GAUGES.items()}
        if series == k.ratelimit_remaining.name:
            return "(\n  " + "\n  or\n  ".join(remaining.values()) + "\n)"
        if series == k.ratelimit_limit.name:
            limits = [f"{remaining[resource]} * 0 + {number(self.rate_limits[resource])}"
                      if resource in self.rate_limits else
                      f"max {keep} (\n    {self._gauge_part(stack, raw, resource)}\n  )"
                      for resource, (_, raw) in RESOURCE_GAUGES.items()]
            return "(\n  " + "\n  or\n  ".join(limits) + "\n)"
        if series == k.circuit_state.name:
            states = [self._provider(stack, _replace(f"{DEPLOYMENT_STATE} {op} bool {COOLED_DOWN}", c.STATE, state, "", ""),
                                     True) for state, op in ((c.CIRCUIT_OPEN, "=="), (c.CIRCUIT_CLOSED, "!="))]
            return "(\n  " + "\n  or\n  ".join(states) + "\n)"
        return series

    def _gauge_part(self, stack: Stack, raw: str, resource: str) -> str:
        v = _replace(raw, c.RESOURCE, resource, "", "")
        return self._model(stack, self._provider(stack, v, True), MODEL_GROUP)

    def presence(self) -> str:
        return ATTEMPTS_TOTAL

    def series_names(self) -> frozenset[str]:
        raw = {SUCCESS, FAILURE, ATTEMPTS_TOTAL, PROXY_CALLS, *TOKEN_METRICS.values(), REMAINING_REQUESTS,
               REMAINING_TOKENS, RPM_LIMIT, TPM_LIMIT, SUCCESSFUL_FALLBACKS, DEPLOYMENT_STATE, SPEND}
        raw |= {f"{h}_{s}" for h in (API_LATENCY, TOTAL_LATENCY, TTFT) for s in ("bucket", "count", "sum")}
        return frozenset(raw) | self.contract.series_names()

    def spend(self, stack: Stack, window: str) -> str:
        """LiteLLM's own spend (USD per second) by provider and model."""
        part = Part(SPEND)
        return f"sum {by((c.PROVIDER, c.MODEL))} (\n  {self._relabel(stack, part, f'rate({SPEND}[{window}])', (c.PROVIDER, c.MODEL))}\n)"

    def case_model(self, stack: Stack, path: str, model: str) -> str:
        if self.endpoint_of(stack, model) == path:
            return model
        return next(iter(self._models_on(stack, path)), UNLISTED_MODEL)

    # -- generated cases -----------------------------------------------------------------------
    def test_series(self, stack: Stack, series: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return raw_series(stack, self.contract, self.rate_limits, series)
