"""Token usage and rate-limit figures read from an LLM API response.

Usage shapes understood (OpenAI semantics: prompt tokens include the cached ones):
- Chat Completions and Embeddings: ``usage.prompt_tokens``, ``usage.completion_tokens``,
  ``usage.prompt_tokens_details.cached_tokens``;
- Responses API: ``usage.input_tokens``, ``usage.output_tokens``, ``usage.input_tokens_details.cached_tokens``;
- streams: the final chunk that carries ``usage`` (pass that chunk, or the list of chunks).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from .. import contract as c


class Usage(NamedTuple):
    """Tokens of one call. ``prompt`` includes ``cached_prompt``."""

    prompt: int = 0
    completion: int = 0
    cached_prompt: int = 0


NO_USAGE = Usage()

# (prompt, completion, cached details object) keys of each API shape.
_SHAPES = (("prompt_tokens", "completion_tokens", "prompt_tokens_details"),
           ("input_tokens", "output_tokens", "input_tokens_details"))
_CHAT_PROMPT, _CHAT_COMPLETION, _CHAT_DETAILS = _SHAPES[0]
_CACHED = "cached_tokens"


def _count(value: Any) -> int:
    """A token count as a non-negative int; anything else (None, garbage) counts as 0."""
    if type(value) is int:  # the common case, kept fast
        return value if value > 0 else 0
    try:
        number = int(value)
    except (TypeError, ValueError):
        return 0
    return number if number > 0 else 0


def usage_from_body(body: Any) -> Usage:
    """The usage in a parsed response body, a final stream chunk, or a list of stream chunks."""
    if type(body) is not dict:  # dict is the common case; the ABC checks below cost more
        if isinstance(body, Sequence) and not isinstance(body, (str, bytes)):
            for chunk in reversed(body):  # the usage chunk is the last one that has usage
                usage = usage_from_body(chunk)
                if usage != NO_USAGE:
                    return usage
            return NO_USAGE
        if not isinstance(body, Mapping):
            return NO_USAGE
    usage = body.get("usage")
    if type(usage) is dict:  # fast path: Chat Completions with int counts, as every call has
        prompt = usage.get(_CHAT_PROMPT)
        completion = usage.get(_CHAT_COMPLETION, 0)
        details = usage.get(_CHAT_DETAILS)
        cached = details.get(_CACHED, 0) if type(details) is dict else 0
        if type(prompt) is int and type(completion) is int and type(cached) is int and prompt >= cached >= 0 \
                and completion >= 0:
            return Usage(prompt, completion, cached)
    elif usage is None and body.get("type") == "response.completed":  # Responses API stream event
        usage = (body.get("response") or {}).get("usage")
    if type(usage) is not dict and not isinstance(usage, Mapping):
        return NO_USAGE
    for prompt_key, completion_key, details_key in _SHAPES:
        if prompt_key in usage:
            details = usage.get(details_key)
            cached = _count(details.get(_CACHED)) if isinstance(details, Mapping) else 0
            prompt = _count(usage[prompt_key])
            return Usage(prompt, _count(usage.get(completion_key)), min(cached, prompt))
    return NO_USAGE


# The x-ratelimit-* headers, in the order ratelimit_values returns them: (kind, resource, header).
RATELIMIT_HEADERS = tuple((kind, resource, f"x-ratelimit-{kind}-{resource}")
                          for kind in ("remaining", "limit") for resource in c.RESOURCES)
_HEADER_NAMES = tuple(name for _, _, name in RATELIMIT_HEADERS)


def ratelimit_values(headers: Mapping[str, str]) -> list[float | None]:
    """The value of each of RATELIMIT_HEADERS, None where absent or not a number.

    Works with case-insensitive header objects (httpx, requests) and with plain dicts in any case."""
    get = headers.get
    raw = [get(name) for name in _HEADER_NAMES]
    if None in raw:  # maybe a plain dict with other capitals
        lowered = {str(k).lower(): v for k, v in headers.items()}
        raw = [lowered.get(name) for name in _HEADER_NAMES]
    try:
        return [float(value) for value in raw]  # the common case: all four present, all numbers
    except (TypeError, ValueError):
        pass
    values: list[float | None] = []
    for value in raw:
        if value is not None:
            try:
                value = float(value)
            except (TypeError, ValueError):
                value = None
        values.append(value)
    return values
