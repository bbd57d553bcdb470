"""The metric contract: what the application emits and every rule, panel and doc reads.

Defined once here. Names take the spec's ``metrics.prefix`` (P): P_requests_total and so on.
"""
from __future__ import annotations

from typing import overload

from .frozen import frozen

# Labels of the contract.
PROVIDER = "provider"
ENDPOINT = "endpoint"
MODEL = "model"
STATUS_CODE = "status_code"
TOKEN_TYPE = "token_type"
RESOURCE = "resource"
LE = "le"
REASON = "reason"
FROM_PROVIDER = "from_provider"
TO_PROVIDER = "to_provider"
STATE = "state"

# Values of status_code besides the HTTP status as a string.
STATUS_TIMEOUT = "timeout"
STATUS_ERROR = "error"
# Status classes as PromQL regexes on status_code.
RATE_LIMITED = "429"
SERVER_ERROR = "5.."
SUCCESS = "2.."
# Calls that count against availability: 5xx, timeouts and other transport failures.
FAILED = f"{SERVER_ERROR}|{STATUS_TIMEOUT}|{STATUS_ERROR}"

# Values of token_type. prompt counts all prompt tokens, cached reads and cache writes included;
# cached_prompt is the subset read from the cache (OpenAI usage semantics), cache_write the subset
# written to it (Anthropic's cache_creation_input_tokens), cache_write_1h the part of cache_write
# written for one hour (Anthropic's cache_creation.ephemeral_1h_input_tokens), billed above the
# 5-minute write price.
TOKEN_PROMPT = "prompt"
TOKEN_COMPLETION = "completion"
TOKEN_CACHED_PROMPT = "cached_prompt"
TOKEN_CACHE_WRITE = "cache_write"
TOKEN_CACHE_WRITE_1H = "cache_write_1h"
TOKEN_TYPES = (TOKEN_PROMPT, TOKEN_COMPLETION, TOKEN_CACHED_PROMPT, TOKEN_CACHE_WRITE, TOKEN_CACHE_WRITE_1H)
# Token types that together count every token once (the cache types are inside prompt).
BILLABLE_TOKEN_TYPES = (TOKEN_PROMPT, TOKEN_COMPLETION)

# Values of resource on the rate-limit gauges: OpenAI's x-ratelimit-{limit,remaining}-{requests,tokens}
# report the first two, Anthropic's anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-*
# all four (tokens: the most restrictive of its token limits).
RESOURCE_REQUESTS = "requests"
RESOURCE_TOKENS = "tokens"
RESOURCE_INPUT_TOKENS = "input_tokens"
RESOURCE_OUTPUT_TOKENS = "output_tokens"
OPENAI_RESOURCES = (RESOURCE_REQUESTS, RESOURCE_TOKENS)
RESOURCES = (*OPENAI_RESOURCES, RESOURCE_INPUT_TOKENS, RESOURCE_OUTPUT_TOKENS)

# Values of state on P_circuit_state: the breaker of a provider is in exactly one of them (value 1).
CIRCUIT_CLOSED = "closed"
CIRCUIT_OPEN = "open"
CIRCUIT_HALF_OPEN = "half_open"
CIRCUIT_STATES = (CIRCUIT_CLOSED, CIRCUIT_OPEN, CIRCUIT_HALF_OPEN)

# Values of reason on P_retries_total and P_fallbacks_total: why an attempt was retried, or why a call
# moved to the next provider (the status class of the failed attempt, or the open breaker).
REASON_RATE_LIMITED = "rate_limited"
REASON_SERVER_ERROR = "server_error"
REASON_TIMEOUT = STATUS_TIMEOUT
REASON_ERROR = STATUS_ERROR
REASON_CIRCUIT_OPEN = "circuit_open"
RETRY_REASONS = (REASON_RATE_LIMITED, REASON_SERVER_ERROR, REASON_TIMEOUT, REASON_ERROR)
FALLBACK_REASONS = (*RETRY_REASONS, REASON_CIRCUIT_OPEN)

# Gemini names the model in the URL: .../models/<model>:<method>. An endpoint written
# <prefix>/models:<method> stands for every model (the model label is read from the URL).
GEMINI_METHODS = ("generateContent", "streamGenerateContent", "embedContent")
GEMINI_ALL_MODELS = "/models:"

# Label value for calls to models (and providers, endpoints) outside the spec, so cardinality stays bounded.
OTHER = "other"

# Series Prometheus itself writes, which rules may read besides the contract.
PROMETHEUS_SERIES = ("up", "ALERTS", "ALERTS_FOR_STATE")
# The target's own process start time (Unix seconds), which prometheus_client's process collector emits
# (holystack.instrument registers it): the counter steps read it to tell a process Prometheus never saw
# from a counter it merely saw late.
PROCESS_START = "process_start_time_seconds"
# Labels Prometheus gives every series of a target.
TARGET_LABELS = ("job", "instance")
# Name suffixes of counter series (a histogram's _bucket, _count and _sum are counters too):
# rate() reads only these, and a metrics prefix may not end with one.
COUNTER_SUFFIXES = ("_total", "_bucket", "_count", "_sum")


@frozen
class Metric:
    """One metric of the contract."""

    name: str
    type: str
    labels: tuple[str, ...]
    help: str

    def series_names(self) -> tuple[str, ...]:
        """The series names Prometheus stores for this metric."""
        if self.type == "histogram":
            return (f"{self.name}_bucket", f"{self.name}_sum", f"{self.name}_count")
        return (self.name,)


class _Named:
    """A metric of the contract, defined once with its name after the prefix: Contract(prefix).<attribute>
    is its Metric. The order of definition is the order of Contract.metrics."""

    def __init__(self, suffix: str, type: str, labels: tuple[str, ...], help: str):
        self.suffix, self.type, self.labels, self.help = suffix, type, labels, help

    @overload
    def __get__(self, contract: None, owner: type | None = None) -> "_Named": ...
    @overload
    def __get__(self, contract: "Contract", owner: type | None = None) -> Metric: ...

    def __get__(self, contract: "Contract | None", owner: type | None = None) -> "Metric | _Named":
        if contract is None:
            return self
        return Metric(contract.prefix + self.suffix, self.type, self.labels, self.help)


@frozen
class Contract:
    """The contract for one metric prefix."""

    prefix: str

    requests = _Named("_requests_total", "counter", (PROVIDER, ENDPOINT, MODEL, STATUS_CODE),
                      'One per finished attempt (each retry counts). status_code is the HTTP status ("200", '
                      '"429"), "timeout" or "error"; timeouts and errors are counted here too.')

    duration = _Named("_request_duration_seconds", "histogram", (PROVIDER, ENDPOINT, MODEL),
                      "Elapsed time of every call, failures included; a timeout observes the real elapsed time.")

    tokens = _Named("_tokens_total", "counter", (PROVIDER, MODEL, TOKEN_TYPE),
                    "Tokens by type: prompt (all prompt tokens, cache reads and writes included), completion, "
                    "cached_prompt (the subset of prompt read from the cache), cache_write (the subset written to "
                    "it), cache_write_1h (the part of cache_write written for one hour).")

    ratelimit_remaining = _Named("_ratelimit_remaining", "gauge", (PROVIDER, MODEL, RESOURCE),
                                 "From x-ratelimit-remaining-{requests,tokens} (OpenAI) or "
                                 "anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-remaining; "
                                 "resource is requests, tokens, input_tokens or output_tokens.")

    ratelimit_limit = _Named("_ratelimit_limit", "gauge", (PROVIDER, MODEL, RESOURCE),
                             "From x-ratelimit-limit-{requests,tokens} (OpenAI) or "
                             "anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-limit.")

    time_to_first_token = _Named("_time_to_first_token_seconds", "histogram", (PROVIDER, ENDPOINT, MODEL),
                                 "Streams only: seconds from the start of the logical call (its retries, waits and "
                                 "fallbacks included) to the first content event (a chat chunk with content, a "
                                 "Responses output_text delta, an Anthropic content_block_delta, a Gemini "
                                 "candidate); provider is the one that answered.")

    calls = _Named("_calls_total", "counter", (ENDPOINT, MODEL, STATUS_CODE),
                   "One per logical call, whatever its retries and fallbacks: status_code is that of its last "
                   "attempt, in the vocabulary of requests_total. What the user experienced.")

    call_duration = _Named("_call_duration_seconds", "histogram", (ENDPOINT, MODEL),
                           "One observation per logical call: seconds from its start to its final answer, retries, "
                           "retry-after waits and fallbacks included; for a stream, until the stream ends. What "
                           "the user waited; the latency SLOs read it.")

    retries = _Named("_retries_total", "counter", (PROVIDER, ENDPOINT, MODEL, REASON),
                     "Attempts retried on the same provider, by the reason of the failed attempt (rate_limited, "
                     "server_error, timeout, error).")

    fallbacks = _Named("_fallbacks_total", "counter", (FROM_PROVIDER, TO_PROVIDER, REASON),
                       "Calls moved to the next provider of a fallback chain: the reason of the last failed "
                       "attempt on from_provider, or circuit_open.")

    circuit_state = _Named("_circuit_state", "gauge", (PROVIDER, STATE),
                           "1 for the current state of the provider's circuit breaker (closed, open, half_open), 0 "
                           "for the others.")

    @property
    def metrics(self) -> tuple[Metric, ...]:
        return tuple(getattr(self, name) for name, value in vars(Contract).items() if isinstance(value, _Named))

    def series_names(self) -> frozenset[str]:
        """Every series name the application exposes under this contract."""
        return frozenset(name for metric in self.metrics for name in metric.series_names())

