"""The otel-genai source: OpenTelemetry's GenAI client metrics (opentelemetry-instrumentation-openai-v2
and alike) as the Python Prometheus exporter (and the Collector's UnderscoreEscapingWithSuffixes)
writes them.

gen_ai_client_operation_duration_seconds counts one observation per SDK call, with error_type (an
exception class) instead of an HTTP status; the SDK's own retries happen inside it, so its calls
are both the attempts and the logical calls holystack reads. gen_ai_client_token_usage holds only
input and output tokens. There are no rate-limit gauges, retries, fallbacks, breaker state, cached
tokens or time to first token: what reads them is not rendered (see base), and the recordings of
those metrics read the contract's own names, which nothing emits here, so they stay empty."""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from .. import contract as c
from ..promql import by, matcher, quote, selector
from .base import (ATTEMPTS, BREAKER_STATE, CACHED_TOKENS, FALLBACKS, LOGICAL_CALLS, RATE_LIMIT_GAUGES, RETRIES,
                   TIME_TO_FIRST_TOKEN, Match, Source, Stack, StepFn)

DURATION = "gen_ai_client_operation_duration_seconds"
TOKENS = "gen_ai_client_token_usage_sum"
OPERATION = "gen_ai_operation_name"
SYSTEM = "gen_ai_system"
# The provider's name under OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental, and in
# opentelemetry-util-genai's handler (which openai-v2 2.4b0 records through), instead of gen_ai_system.
PROVIDER_NAME = "gen_ai_provider_name"
SERVER = "server_address"
REQUEST_MODEL = "gen_ai_request_model"
ERROR_TYPE = "error_type"
TOKEN_KIND = "gen_ai_token_type"
# The semantic conventions' bucket advice for gen_ai.client.operation.duration, which the
# instrumentations set (opentelemetry-util-genai).
BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
# gen_ai_operation_name -> endpoint path; metrics.operations adds to and overrides it.
DEFAULT_OPERATIONS = {"chat": "/chat/completions", "embeddings": "/embeddings", "text_completion": "/completions"}
# error_type -> status_code: no error_type is a success; other classes are errors. The openai SDK
# raises InternalServerError for every 5xx; APIStatusError is then another, unexpected status.
ERROR_STATUS = {"": "200", "RateLimitError": "429", "InternalServerError": "500", "APITimeoutError": c.STATUS_TIMEOUT}


def error_class(name: str) -> str:
    """A regex for error_type naming the exception class name: the bare name (the semantic
    conventions), or the class's repr with its module (<class 'openai.RateLimitError'>, as
    opentelemetry-util-genai 1.1b0 writes it, seen live)."""
    return f"(<class '([A-Za-z0-9_]+\\.)*)?{re.escape(name)}('>)?" if name else ""


# The status-class regexes the rules use, as error_type matchers.
STATUS_MATCHERS = {
    c.SUCCESS: (ERROR_TYPE, "", "="),
    c.RATE_LIMITED: (ERROR_TYPE, error_class("RateLimitError"), "=~"),
    c.SERVER_ERROR: (ERROR_TYPE, error_class("InternalServerError"), "=~"),
    c.STATUS_TIMEOUT: (ERROR_TYPE, error_class("APITimeoutError"), "=~"),
    c.FAILED: (ERROR_TYPE, f"|{error_class('RateLimitError')}", "!~"),
}
# Exception classes a generated case writes for a status.
CASE_ERRORS = {"429": "RateLimitError", "5": "InternalServerError", c.STATUS_TIMEOUT: "APITimeoutError",
               c.STATUS_ERROR: "APIConnectionError", "4": "BadRequestError"}
TOKEN_KINDS = {c.TOKEN_PROMPT: "input", c.TOKEN_COMPLETION: "output"}
CANONICAL = (c.PROVIDER, c.ENDPOINT, c.MODEL, c.STATUS_CODE, c.TOKEN_TYPE)
# The raw labels each canonical label is read from (_relabel); any other label is kept as it is.
READS = {c.PROVIDER: (SYSTEM, PROVIDER_NAME, SERVER), c.ENDPOINT: (OPERATION,), c.MODEL: (REQUEST_MODEL,),
         c.STATUS_CODE: (ERROR_TYPE,), c.TOKEN_TYPE: (TOKEN_KIND,)}


def raw_labels(labels: tuple[str, ...]) -> tuple[str, ...]:
    """The raw labels that decide the canonical labels of labels: summed by them first, the relabelling
    runs over a few series per target instead of every raw series, with the same sums."""
    return tuple(dict.fromkeys(raw for label in labels for raw in READS.get(label, (label,))))
SERIES_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\}$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def _replace(vector: str, target: str, value: str, source: str, regex: str) -> str:
    return f"label_replace({vector}, {quote(target)}, {quote(value)}, {quote(source)}, {quote(regex)})"


def host(url: str | None) -> str | None:
    return urlsplit(url).hostname if url else None


class OtelGenai(Source):
    name = "otel-genai"
    capabilities = frozenset({ATTEMPTS, LOGICAL_CALLS})
    options = frozenset({"operations"})
    fixed_buckets = BUCKETS
    unlisted_endpoint = c.OTHER  # an operation no endpoint maps
    lacking = {
        RATE_LIMIT_GAUGES: "OpenTelemetry's GenAI metrics carry no rate-limit headers",
        RETRIES: "the SDK's retries happen inside one gen_ai_client_operation_duration observation",
        FALLBACKS: "OpenTelemetry's GenAI metrics know no fallback chain",
        BREAKER_STATE: "OpenTelemetry's GenAI metrics know no circuit breaker",
        CACHED_TOKENS: "gen_ai_client_token_usage has only input and output (all input is priced at input)",
        TIME_TO_FIRST_TOKEN: "the client instrumentation records no time to first token",
    }

    # -- the canonical labels, from the raw ones ------------------------------------------------
    def _names(self) -> dict[str, str]:
        """Canonical series name -> the raw series it is read from: one observation per call is
        both the attempt and the logical call."""
        k = self.contract
        return {k.requests.name: f"{DURATION}_count", k.calls.name: f"{DURATION}_count",
                f"{k.duration.name}_bucket": f"{DURATION}_bucket", f"{k.duration.name}_count": f"{DURATION}_count",
                f"{k.call_duration.name}_bucket": f"{DURATION}_bucket",
                f"{k.call_duration.name}_count": f"{DURATION}_count", k.tokens.name: TOKENS}

    def _relabel(self, stack: Stack, vector: str, labels: tuple[str, ...] = CANONICAL) -> str:
        """The raw vector with the canonical labels of labels (provider, endpoint, model,
        status_code, token_type) added."""
        v = vector
        if c.PROVIDER in labels:
            v = self._provider(stack, v)
        if c.ENDPOINT in labels:
            v = _replace(v, c.ENDPOINT, c.OTHER, OPERATION, ".*")
            paths = {e.path for e in stack.endpoints}
            for operation, path in sorted(operations(stack).items()):
                if path in paths:
                    v = _replace(v, c.ENDPOINT, path, OPERATION, re.escape(operation))
        if c.MODEL in labels:
            v = _replace(v, c.MODEL, c.OTHER, REQUEST_MODEL, ".*")
            v = _replace(v, c.MODEL, "$1", REQUEST_MODEL, "(" + "|".join(re.escape(m.name) for m in stack.models) + ")")
        if c.STATUS_CODE in labels:
            v = _replace(v, c.STATUS_CODE, c.STATUS_ERROR, ERROR_TYPE, ".+")
            for error, status in ERROR_STATUS.items():
                v = _replace(v, c.STATUS_CODE, status, ERROR_TYPE, error_class(error))
        if c.TOKEN_TYPE in labels:
            for token_type, kind in TOKEN_KINDS.items():
                v = _replace(v, c.TOKEN_TYPE, token_type, TOKEN_KIND, kind)
        return v

    def _provider(self, stack: Stack, vector: str) -> str:
        """provider: server_address matched against the spec's base_url hosts, else gen_ai_system
        when it names a spec provider, else other."""
        v = _replace(vector, c.PROVIDER, c.OTHER, SYSTEM, ".*")
        for provider in stack.providers:
            for label in (SYSTEM, PROVIDER_NAME):
                v = _replace(v, c.PROVIDER, provider.name, label, re.escape(provider.name))
        for provider in stack.providers:  # server_address against the base_url hosts first
            if host(provider.base_url):
                v = _replace(v, c.PROVIDER, provider.name, SERVER, re.escape(host(provider.base_url) or ""))
        return v

    def _raw(self, stack: Stack, series: str, matches: tuple[Match, ...]) -> str | None:
        if series not in self._names():
            return None
        raw = self._names()[series]
        out = []
        for label, value, op in matches:
            if label == c.STATUS_CODE:
                out.append(matcher(*STATUS_MATCHERS[value][:2], STATUS_MATCHERS[value][2]))
            elif label == c.ENDPOINT and op == "=":
                ops = [o for o, path in operations(stack).items() if path == value]
                out.append(matcher(OPERATION, "|".join(re.escape(o) for o in ops), "=~"))
            elif label == c.LE:
                out.append(matcher(label, value, op))
            else:
                raise ValueError(f"otel-genai cannot read {label}{op}{value!r}")
        return selector(raw, *out)

    def endpoint_problem(self, stack: Stack, path: str) -> str | None:
        if path in operations(stack).values():
            return None
        return (f"no gen_ai_operation_name maps to {path} (chat -> /chat/completions, embeddings -> /embeddings, "
                f"text_completion -> /completions); name its operation in metrics.operations, e.g. {{chat: {path}}}")

    # -- reads ---------------------------------------------------------------------------------
    def per_second(self, stack: Stack, series: str, window: str, *matches: Match) -> str:
        raw = self._raw(stack, series, matches)
        if raw is None:  # a metric this source lacks: the contract's name, which nothing emits here
            return f"rate({series}[{window}])"
        return self._relabel(stack, f"rate({raw}[{window}])")

    def rate(self, stack: Stack, series: str, labels: tuple[str, ...], window: str, *matches: Match) -> str:
        raw = self._raw(stack, series, matches)
        if raw is None:
            return super().rate(stack, series, labels, window, *matches)
        summed = f"sum {by(raw_labels(labels))} (rate({raw}[{window}]))"
        return f"sum {by(labels)} ({self._relabel(stack, summed, labels)})"

    def step(self, stack: Stack, counter_step: StepFn, series: str, labels: tuple[str, ...], *matches: Match) -> str:
        raw = self._raw(stack, series, matches)
        if raw is None:
            return counter_step(stack, series, labels)
        step = counter_step(stack, raw, raw_labels(labels))
        return f"sum {by(labels)} (\n  {self._relabel(stack, step, labels)}\n)"

    def gauge(self, stack: Stack, series: str) -> str:
        return series

    def presence(self) -> str:
        return f"{DURATION}_count"

    def series_names(self) -> frozenset[str]:
        raw = {f"{DURATION}_{s}" for s in ("bucket", "count", "sum")} | {TOKENS}
        return frozenset(raw) | self.contract.series_names()

    # -- generated cases -----------------------------------------------------------------------
    def test_series(self, stack: Stack, series: list[tuple[str, str]]) -> list[tuple[str, str]]:
        names = self._names()
        k = self.contract
        attempts = {k.requests.name, f"{k.duration.name}_bucket"}
        has_attempts = any(SERIES_RE.match(text) and SERIES_RE.match(text).group(1) in attempts  # type: ignore[union-attr]
                           for text, _ in series)
        out: list[tuple[str, str]] = []
        seen: set[str] = set()
        for text, values in series:
            found = SERIES_RE.match(text)
            if found is None or found.group(1) not in names:
                out.append((text, values))
                continue
            name, labels = found.group(1), dict(LABEL_RE.findall(found.group(2)))
            if has_attempts and name in (k.calls.name, f"{k.call_duration.name}_bucket"):
                continue  # one observation is both the attempt and the call
            raw = self._case_labels(stack, labels)
            if raw is None:
                continue  # a token type this source does not have
            written = selector(names[name], *(matcher(key, value) for key, value in raw.items()))
            if written not in seen:
                seen.add(written)
                out.append((written, values))
        return out

    def emitted(self, stack: Stack, series: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """The application emits only its gen_ai_ series: none of the contract's names it lacks."""
        contract = self.contract.series_names()
        return [(text, values) for text, values in self.test_series(stack, series)
                if (found := SERIES_RE.match(text)) is None or found.group(1) not in contract]

    @classmethod
    def moved_onto(cls, data: dict[str, Any]) -> list[str]:
        """An operation named after each endpoint path no operation maps (/endpoint-3 -> endpoint_3)."""
        metrics = data.setdefault("metrics", {})
        given = dict(metrics.get("operations") or {})
        known = {**DEFAULT_OPERATIONS, **given}.values()
        missing = [e["path"] for e in data.get("endpoints") or [] if e["path"] not in known]
        if not missing:
            return []
        metrics["operations"] = {**given, **{operation_name(path): path for path in missing}}
        return [f"metrics.operations: {operation_name(path)} -> {path}" for path in missing]

    def _case_labels(self, stack: Stack, labels: dict[str, str]) -> dict[str, str] | None:
        raw: dict[str, str] = {}
        provider = next((p for p in stack.providers if p.name == labels.get(c.PROVIDER)), None)
        if provider is not None:
            raw[SYSTEM] = "openai"
            if host(provider.base_url):
                raw[SERVER] = host(provider.base_url) or ""
            else:
                raw[SYSTEM] = provider.name
        if c.ENDPOINT in labels:
            raw[OPERATION] = next((o for o, p in sorted(operations(stack).items()) if p == labels[c.ENDPOINT]), c.OTHER)
        if c.MODEL in labels:
            raw[REQUEST_MODEL] = labels[c.MODEL]
        status = labels.get(c.STATUS_CODE)
        if status is not None and not status.startswith("2"):
            raw[ERROR_TYPE] = CASE_ERRORS.get(status, CASE_ERRORS.get(status[:1], CASE_ERRORS[c.STATUS_ERROR]))
        if c.TOKEN_TYPE in labels:
            if labels[c.TOKEN_TYPE] not in TOKEN_KINDS:
                return None
            raw[TOKEN_KIND] = TOKEN_KINDS[labels[c.TOKEN_TYPE]]
        for key in (c.LE, "job", "instance"):
            if key in labels:
                raw[key] = labels[key]
        return raw


def operation_name(path: str) -> str:
    """A gen_ai_operation_name for an endpoint path, as metrics.operations allows one."""
    name = re.sub(r"[^a-z0-9_.]+", "_", path.strip("/").lower()) or "root"
    return name if re.match(r"[a-z_]", name) else f"_{name}"


def operations(stack: Stack) -> dict[str, str]:
    """gen_ai_operation_name -> endpoint path: the defaults, overridden by metrics.operations."""
    return {**DEFAULT_OPERATIONS, **dict(stack.operations)}
