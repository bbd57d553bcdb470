"""What a metric source is: the raw series a team already emits, read as holystack's canonical ones.

A source turns its raw series into the contract's metrics (holystack.contract) in holystack's own
labels and values: provider, endpoint and model, the status classes, the token types and the latency
buckets. Every rule that reads raw series reads them through the stack's source (rate, step, gauge),
so that everything downstream of the base recordings (alerts, SLO windows, cost, dashboards, texts,
routes) stays the same whatever the source. A source declares what its series can tell
(capabilities); an alert kind that needs what the source lacks is not rendered, and validate and
OUT/README.md name it with the reason."""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, ClassVar, Protocol

from ..contract import PROCESS_START, PROMETHEUS_SERIES, Contract
from ..promql import by


class Stack(Protocol):
    """What a source reads of the model's Stack (holystack.model, which builds the source: the
    sources import nothing of it)."""

    providers: tuple[Any, ...]
    endpoints: tuple[Any, ...]
    models: tuple[Any, ...]
    operations: tuple[tuple[str, str], ...]
    resilience: Any


# recording.counter_step, handed in by its caller (the one step expression).
StepFn = Callable[[Any, str, tuple[str, ...]], str]

# What a source's series can tell.
ATTEMPTS = "attempts"                    # every attempt (each retry) with its status
LOGICAL_CALLS = "logical calls"          # one per call the user made, whatever its retries
CACHED_TOKENS = "cached tokens"          # prompt tokens read from a cache
RATE_LIMIT_GAUGES = "rate-limit gauges"  # remaining and limit of requests and tokens
RETRIES = "retries"
FALLBACKS = "fallbacks"
BREAKER_STATE = "breaker state"
TIME_TO_FIRST_TOKEN = "time to first token"
CAPABILITIES = (ATTEMPTS, LOGICAL_CALLS, CACHED_TOKENS, RATE_LIMIT_GAUGES, RETRIES, FALLBACKS, BREAKER_STATE,
                TIME_TO_FIRST_TOKEN)

# Fields of the spec's metrics section that mean the same whatever the source.
GENERAL_OPTIONS = frozenset({"prefix", "source", "rate_window"})

# One matcher on a canonical label: (label, value, op), op one of =, !=, =~, !~.
Match = tuple[str, str, str]
# A problem of the spec: (the field's path, the message naming the fix).
Finding = tuple[tuple[str | int, ...], str]


class Source(ABC):
    """One metric source. Subclasses set name, capabilities and lacking (capability -> why the
    source cannot tell it), and read each canonical metric from their raw series."""

    name: ClassVar[str]
    capabilities: ClassVar[frozenset[str]]
    lacking: ClassVar[Mapping[str, str]] = {}
    # Fields of metrics besides those of every source (GENERAL_OPTIONS) that this source reads; the
    # spec may set no other.
    options: ClassVar[frozenset[str]] = frozenset()
    # The bounds of the source's latency histograms when the source fixes them, else None (they are
    # the spec's metrics.latency_buckets).
    fixed_buckets: ClassVar[tuple[float, ...] | None] = None
    # The endpoint label of calls to a path outside the spec, as a generated case writes it.
    unlisted_endpoint: ClassVar[str] = "/holystack-unlisted"

    def __init__(self, contract: Contract, settings: Mapping[str, Any] | None = None) -> None:
        """settings: the spec's metrics fields of this source's options."""
        self.contract = contract
        self._settings = repr(sorted((settings or {}).items()))

    def __eq__(self, other: object) -> bool:
        return (type(other) is type(self) and other.contract == self.contract  # type: ignore[attr-defined]
                and other._settings == self._settings)  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((self.name, self.contract, self._settings))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.contract.prefix!r})"

    def missing(self, needs: frozenset[str]) -> tuple[str, ...]:
        """The capabilities of needs this source lacks, in CAPABILITIES order."""
        return tuple(cap for cap in CAPABILITIES if cap in needs and cap not in self.capabilities)

    def reason(self, capability: str) -> str:
        """Why this source cannot feed what needs capability."""
        return self.lacking.get(capability, f"{self.name} reports no {capability}")

    def endpoint_problem(self, stack: Stack, path: str) -> str | None:
        """Why this source cannot tell the calls of the spec endpoint path apart, or None."""
        return None

    def problems(self, stack: Stack) -> Iterator[Finding]:
        """What else of the spec this source cannot read (its own options, say)."""
        return iter(())

    def case_model(self, stack: Stack, path: str, model: str) -> str:
        """The model a generated case of endpoint path calls, given the one it would: a source that
        tells endpoints apart by model only (litellm) picks one of path's models."""
        return model

    def spend(self, stack: Stack, window: str) -> str | None:
        """The source's own spend in USD per second by provider and model, when it reports one; holystack
        records it beside its own cost (tokens x the spec's prices)."""
        return None

    @abstractmethod
    def per_second(self, stack: Stack, series: str, window: str, *matches: Match) -> str:
        """The per-second rate over window of a canonical counter series (a contract counter's
        name, or a histogram's name + _bucket/_count/_sum), series by series in canonical labels
        (raw labels besides them may stay)."""

    def rate(self, stack: Stack, series: str, labels: tuple[str, ...], window: str, *matches: Match) -> str:
        """per_second summed by labels."""
        return f"sum {by(labels)} ({self.per_second(stack, series, window, *matches)})"

    @abstractmethod
    def step(self, stack: Stack, counter_step: StepFn, series: str, labels: tuple[str, ...], *matches: Match) -> str:
        """The increase of a canonical counter series since the previous evaluation, summed by
        labels: counter_step over the raw series."""

    @abstractmethod
    def gauge(self, stack: Stack, series: str) -> str:
        """A canonical gauge as an instant vector in canonical labels."""

    @abstractmethod
    def test_series(self, stack: Stack, series: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """A generated promtool case's input series, written in the contract's shape ((series in
        promtool notation, values)), as this source's raw series would show the same traffic."""

    def emitted(self, stack: Stack, series: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """The raw series this source's application emits for the same traffic as series (the
        contract's, in promtool notation, with their values): test_series, less any contract series
        the source does not emit. The scale benchmark backfills and serves these."""
        return self.test_series(stack, series)

    @classmethod
    def moved_onto(cls, data: dict[str, Any]) -> list[str]:
        """Edit the spec data, moved onto this source (holystack.live.onto, after the general
        changes), so that this source can read it: what tells its endpoints apart, say. One line per
        change; none by default."""
        return []

    @abstractmethod
    def presence(self) -> str:
        """The raw series whose absence means the application emits nothing (MetricsAbsent)."""

    @abstractmethod
    def series_names(self) -> frozenset[str]:
        """Every raw series name the rules read from this source."""

    def readable_series(self, recorded: Iterable[str]) -> frozenset[str]:
        """What a rule or panel may read: this source's raw series, the stack's recordings,
        Prometheus' own series and the targets' process start time (the counter steps)."""
        return self.series_names() | frozenset(recorded) | frozenset(PROMETHEUS_SERIES) | {PROCESS_START}
