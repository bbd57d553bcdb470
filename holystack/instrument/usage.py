"""Token usage and rate-limit figures read from an LLM API response.

Usage shapes understood (OpenAI semantics: prompt tokens include the cached ones):
- Chat Completions and Embeddings: ``usage.prompt_tokens``, ``usage.completion_tokens``,
  ``usage.prompt_tokens_details.cached_tokens``;
- Responses API: ``usage.input_tokens``, ``usage.output_tokens``, ``usage.input_tokens_details.cached_tokens``;
- streams: the final chunk that carries ``usage`` (pass that chunk, or the list of chunks);
- Anthropic Messages: ``usage.input_tokens`` (uncached only), ``cache_read_input_tokens``,
  ``cache_creation_input_tokens``, ``output_tokens``: prompt = all three inputs, cached_prompt = the
  cache reads, cache_write = the cache writes, of which cache_write_1h =
  ``cache_creation.ephemeral_1h_input_tokens`` (written for one hour, billed at a higher price),
  completion = output (a stream's message_start and message_delta events, in a list);
- Gemini: ``usageMetadata.promptTokenCount`` (cached included), ``cachedContentTokenCount``,
  ``candidatesTokenCount`` + ``thoughtsTokenCount`` (snake_case from the Python SDK's model_dump too).
SDK objects (anything with ``model_dump()``, such as openai's ChatCompletion) are read through it.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from .. import contract as c


class Usage(NamedTuple):
    """Tokens of one call. ``prompt`` includes ``cached_prompt`` (cache reads) and ``cache_write``
    (cache writes), which includes ``cache_write_1h`` (the writes kept for one hour)."""

    prompt: int = 0
    completion: int = 0
    cached_prompt: int = 0
    cache_write: int = 0
    cache_write_1h: int = 0


NO_USAGE = Usage()

# (prompt, completion, cached details object) keys of each API shape.
_SHAPES = (("prompt_tokens", "completion_tokens", "prompt_tokens_details"),
           ("input_tokens", "output_tokens", "input_tokens_details"))
_CHAT_PROMPT, _CHAT_COMPLETION, _CHAT_DETAILS = _SHAPES[0]
_CACHED = "cached_tokens"


# A token count at or above this is garbage (a float counter loses whole tokens past 2**53).
MAX_TOKENS = 2 ** 53


def _count(value: Any) -> int:
    """A token count as a non-negative int; anything else (None, garbage, 1e400, NaN) counts as 0."""
    if type(value) is int:  # the common case, kept fast
        return value if 0 < value < MAX_TOKENS else 0
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return 0
    return number if 0 < number < MAX_TOKENS else 0


def _mapping(value: Any) -> Any:
    """value when it is a mapping, else an empty dict: upstream JSON may put anything anywhere."""
    return value if isinstance(value, Mapping) else {}


log = logging.getLogger("holystack.instrument")
_warned: set[str] = set()

# Anthropic Messages usage keys; their presence tells Anthropic's shape from the Responses API's.
_ANTHROPIC_CACHE_READ = "cache_read_input_tokens"
_ANTHROPIC_CACHE_WRITE = "cache_creation_input_tokens"
# The split of the cache writes by lifetime: {"ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens"}.
_ANTHROPIC_CACHE_CREATION = "cache_creation"
_ANTHROPIC_CACHE_WRITE_1H = "ephemeral_1h_input_tokens"
# Gemini usageMetadata: (camelCase of the REST API, snake_case of the Python SDK's model_dump).
_GEMINI = ({"meta": "usageMetadata", "prompt": "promptTokenCount", "cached": "cachedContentTokenCount",
            "candidates": "candidatesTokenCount", "thoughts": "thoughtsTokenCount"},
           {"meta": "usage_metadata", "prompt": "prompt_token_count", "cached": "cached_content_token_count",
            "candidates": "candidates_token_count", "thoughts": "thoughts_token_count"})


def warn_once(key: str, message: str, *args: Any) -> None:
    """Log a warning the first time key is seen in this process."""
    if key not in _warned:
        _warned.add(key)
        log.warning(message, *args)


def _plain(body: Any) -> Any:
    """SDK objects (pydantic models: openai, anthropic, google-genai) as plain dicts."""
    dump = getattr(body, "model_dump", None)
    if dump is not None and callable(dump):
        try:
            return dump()
        except Exception:  # a model that cannot dump itself counts as unreadable
            return None
    return body


def usage_from_body(body: Any) -> Usage:
    """The usage in a parsed response body, a final stream chunk, or a list of stream chunks
    (dicts or SDK objects); NO_USAGE when there is none."""
    found = read_usage(body)
    return NO_USAGE if found is None else found


def read_usage(body: Any) -> Usage | None:
    """Like usage_from_body, but None when the body carries no usage at all (so callers can warn)."""
    if type(body) is not dict:  # dict is the common case; the checks below cost more
        body = _plain(body)
        if isinstance(body, Sequence) and not isinstance(body, (str, bytes)):
            return _stream_usage(body)
        if not isinstance(body, Mapping):
            return None
    usage = body.get("usage")
    if type(usage) is dict:  # fast path: Chat Completions with int counts, as every call has
        prompt = usage.get(_CHAT_PROMPT)
        completion = usage.get(_CHAT_COMPLETION, 0)
        details = usage.get(_CHAT_DETAILS)
        cached = details.get(_CACHED, 0) if type(details) is dict else 0
        if type(prompt) is int and type(completion) is int and type(cached) is int \
                and MAX_TOKENS > prompt >= cached >= 0 and MAX_TOKENS > completion >= 0:
            return Usage(prompt, completion, cached)
    elif usage is None:
        kind = body.get("type")
        if kind == "response.completed":  # Responses API stream event
            usage = _mapping(body.get("response")).get("usage")
        elif kind == "message_start":  # Anthropic stream: the input side and the first output token
            usage = _mapping(body.get("message")).get("usage")
        else:
            return _gemini_usage(body)
    if type(usage) is not dict and not isinstance(usage, Mapping):
        return None
    if _ANTHROPIC_CACHE_READ in usage or _ANTHROPIC_CACHE_WRITE in usage:
        read, written = _count(usage.get(_ANTHROPIC_CACHE_READ)), _count(usage.get(_ANTHROPIC_CACHE_WRITE))
        creation = usage.get(_ANTHROPIC_CACHE_CREATION)
        hour = min(_count(creation.get(_ANTHROPIC_CACHE_WRITE_1H)), written) if isinstance(creation, Mapping) else 0
        return Usage(_count(usage.get("input_tokens")) + read + written, _count(usage.get("output_tokens")), read,
                     written, hour)
    for prompt_key, completion_key, details_key in _SHAPES:
        if prompt_key in usage:
            details = usage.get(details_key)
            cached = _count(details.get(_CACHED)) if isinstance(details, Mapping) else 0
            prompt = _count(usage[prompt_key])
            return Usage(prompt, _count(usage.get(completion_key)), min(cached, prompt))
    if "output_tokens" in usage:  # Anthropic's message_delta: the output count so far
        return Usage(0, _count(usage["output_tokens"]), 0)
    return None


def _gemini_usage(body: Mapping[str, Any]) -> Usage | None:
    for keys in _GEMINI:
        meta = body.get(keys["meta"])
        if isinstance(meta, Mapping):
            prompt = _count(meta.get(keys["prompt"]))
            completion = _count(meta.get(keys["candidates"])) + _count(meta.get(keys["thoughts"]))
            return Usage(prompt, completion, min(_count(meta.get(keys["cached"])), prompt))
    return None


def _stream_usage(chunks: Sequence[Any]) -> Usage | None:
    """A stream's usage: the last chunk that has one (OpenAI, Responses, Gemini: cumulative), or
    Anthropic's message_start (input side) merged with its last message_delta (output count)."""
    found: Usage | None = None
    start: Usage | None = None
    for chunk in chunks:
        chunk = _plain(chunk)
        usage = read_usage(chunk) if isinstance(chunk, Mapping) else None
        if usage is None:
            continue
        if isinstance(chunk, Mapping) and chunk.get("type") == "message_start":
            start = usage
        elif start is not None and isinstance(chunk, Mapping) and chunk.get("type") == "message_delta":
            usage = start._replace(completion=usage.completion)
        found = usage
    return found


# The rate-limit headers, in the order ratelimit_values returns them: (kind, resource, header). OpenAI's
# x-ratelimit-* come first (record_call's fast path reads those four), then Anthropic's.
RATELIMIT_HEADERS = (tuple((kind, resource, f"x-ratelimit-{kind}-{resource}")
                           for kind in ("remaining", "limit") for resource in c.OPENAI_RESOURCES)
                     + tuple((kind, resource, f"anthropic-ratelimit-{resource.replace('_', '-')}-{kind}")
                             for kind in ("remaining", "limit") for resource in c.RESOURCES))
_HEADER_NAMES = tuple(name for _, _, name in RATELIMIT_HEADERS)


def ratelimit_values(headers: Mapping[str, str]) -> list[float | None]:
    """The value of each of RATELIMIT_HEADERS, None where absent or not a number.

    Works with case-insensitive header objects (httpx, requests) and with plain dicts in any case."""
    get = headers.get
    raw = [get(name) for name in _HEADER_NAMES]
    if None in raw and isinstance(headers, dict):  # a plain dict, maybe with other capitals
        lowered = {str(k).lower(): v for k, v in headers.items()}
        raw = [lowered.get(name) for name in _HEADER_NAMES]
    values: list[float | None] = []
    for value in raw:
        if value is not None:
            try:
                value = float(value)
            except (TypeError, ValueError):
                value = None
        values.append(value)
    return values
