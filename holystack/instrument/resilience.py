"""Retry waits and the per-provider circuit breaker of holystack's transport.

Written here rather than taken from tenacity/stamina (retries) or pybreaker/purgatory (breakers):
the transport needs one breaker per provider shared by sync and async clients, each state change
exported as P_circuit_state, retry waits read from the answer's headers before any backoff, and an
injected clock and sleep so tests run without real sleeps. tenacity and stamina wrap a function and
decide from exceptions (an HTTP answer is not one here); pybreaker is sync-only and counts
consecutive failures; purgatory's async and sync breakers keep separate state. What is needed fits
in a page.
"""
from __future__ import annotations

import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from .. import contract as c

RETRY_AFTER_MS = "retry-after-ms"
RETRY_AFTER = "retry-after"


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """The wait a rate-limited (or unavailable) answer asks for: retry-after-ms first, then
    retry-after as seconds or as an HTTP date (against now, a Unix time); None when absent or unreadable."""
    value = headers.get(RETRY_AFTER_MS)
    if value is not None:
        try:
            seconds = float(value) / 1000
            if math.isfinite(seconds) and seconds >= 0:
                return seconds
        except ValueError:
            pass
    value = headers.get(RETRY_AFTER)
    if value is None:
        return None
    try:
        seconds = float(value)
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    except ValueError:
        pass
    import email.utils  # only for the rare HTTP-date form

    try:
        when = email.utils.parsedate_to_datetime(value)
        if when is None:
            return None
        wait = when.timestamp() - (time.time() if now is None else now)
    except (TypeError, ValueError, IndexError, OverflowError, OSError):  # whatever the upstream wrote
        return None
    return max(0.0, wait)


def backoff_seconds(retry: int, base: float, cap: float, rng: random.Random) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2**(retry-1))] for the retry-th retry (1, 2, ...)."""
    return rng.uniform(0.0, min(cap, base * 2 ** (retry - 1)))


def reason_of(status: int | str) -> str:
    """The reason label of a failed attempt: rate_limited, server_error, timeout or error."""
    if status == 429:
        return c.REASON_RATE_LIMITED
    if type(status) is int and status >= 500:
        return c.REASON_SERVER_ERROR
    if status == c.STATUS_TIMEOUT:
        return c.REASON_TIMEOUT
    return c.REASON_ERROR


def is_failure(status: int | str) -> bool:
    """What the breaker counts as the provider failing: 5xx, timeouts, transport errors (a 429 or
    another 4xx is an answer from a working provider)."""
    return not (type(status) is int and status < 500)


def policy_for(resilience: Any, provider: str) -> Any:
    """The provider's ProviderResilience (holystack.model); the defaults when the Instrument has none."""
    if resilience is None:
        from ..model import build_resilience  # only for an Instrument built without a model's resilience

        resilience = build_resilience({})
    return resilience.for_provider(provider)


class CircuitBreaker:
    """One provider's breaker: closed -> open on the failure threshold within the window; open ->
    half_open after open_for; half_open lets half_open_probes attempts through at a time: as many
    successes close it, one failure opens it again. One lock guards the state and no code holding
    it awaits, so it is safe from threads and from asyncio tasks alike."""

    def __init__(self, policy: Any, provider: str, on_change: Callable[[str, str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.policy, self.provider, self.clock = policy, provider, clock
        self._on_change = on_change
        self._lock = threading.Lock()
        self._outcomes: deque[tuple[float, bool]] = deque()  # (time, failed) within the window
        self._state = c.CIRCUIT_CLOSED
        self._opened_at = 0.0
        self._probes_in_flight = 0
        self._probe_successes = 0
        if on_change is not None:
            on_change(provider, self._state)

    @property
    def state(self) -> str:
        with self._lock:
            self._maybe_half_open()
            return self._state

    def _set(self, state: str) -> None:
        if state != self._state:
            self._state = state
            if self._on_change is not None:
                self._on_change(self.provider, state)

    def _maybe_half_open(self) -> None:
        if self._state == c.CIRCUIT_OPEN and self.clock() - self._opened_at >= self.policy.open_for.seconds:
            self._probes_in_flight = self._probe_successes = 0
            self._set(c.CIRCUIT_HALF_OPEN)

    def allow(self) -> bool:
        """May an attempt go to this provider now? In half_open this takes a probe slot: the
        attempt's outcome must be given to record()."""
        if not self.policy.enabled:
            return True
        with self._lock:
            self._maybe_half_open()
            if self._state == c.CIRCUIT_CLOSED:
                return True
            if self._state == c.CIRCUIT_HALF_OPEN and self._probes_in_flight < self.policy.half_open_probes:
                self._probes_in_flight += 1
                return True
            return False

    def release(self) -> None:
        """An attempt allow() let through ended without an outcome (cancelled): free its probe slot."""
        with self._lock:
            if self._state == c.CIRCUIT_HALF_OPEN:
                self._probes_in_flight = max(0, self._probes_in_flight - 1)

    def record(self, failed: bool) -> None:
        """The outcome of an attempt that allow() let through."""
        if not self.policy.enabled:
            return
        with self._lock:
            now = self.clock()
            if self._state == c.CIRCUIT_HALF_OPEN:
                self._probes_in_flight = max(0, self._probes_in_flight - 1)
                if failed:
                    self._open(now)
                else:
                    self._probe_successes += 1
                    if self._probe_successes >= self.policy.half_open_probes:
                        self._outcomes.clear()
                        self._set(c.CIRCUIT_CLOSED)
                return
            if self._state == c.CIRCUIT_OPEN:  # an attempt that started before the breaker opened
                return
            outcomes = self._outcomes
            outcomes.append((now, failed))
            horizon = now - self.policy.window.seconds
            while outcomes and outcomes[0][0] < horizon:
                outcomes.popleft()
            if failed and self._tripped():
                self._open(now)

    def _tripped(self) -> bool:
        failures = sum(1 for _, failed in self._outcomes if failed)
        policy = self.policy
        if policy.failure_count is not None and failures >= policy.failure_count:
            return True
        calls = len(self._outcomes)
        return (policy.failure_ratio is not None and calls >= policy.min_calls
                and failures / calls >= policy.failure_ratio)

    def _open(self, now: float) -> None:
        self._opened_at = now
        self._outcomes.clear()
        self._set(c.CIRCUIT_OPEN)
