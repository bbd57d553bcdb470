"""The holystack source: the contract exactly as holystack.instrument emits it. Every read is the
contract's own series, so a spec without metrics.source renders what it always rendered."""
from __future__ import annotations

from ..promql import matcher, selector
from .base import CAPABILITIES, Match, Source, Stack, StepFn


def _selector(name: str, matches: tuple[Match, ...]) -> str:
    return selector(name, *(matcher(label, value, op) for label, value, op in matches))


class Holystack(Source):
    name = "holystack"
    capabilities = frozenset(CAPABILITIES)
    options = frozenset({"latency_buckets"})

    def per_second(self, stack: Stack, series: str, window: str, *matches: Match) -> str:
        return f"rate({_selector(series, matches)}[{window}])"

    def step(self, stack: Stack, counter_step: StepFn, series: str, labels: tuple[str, ...], *matches: Match) -> str:
        return counter_step(stack, _selector(series, matches), labels)

    def gauge(self, stack: Stack, series: str) -> str:
        return series

    def test_series(self, stack: Stack, series: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return series

    def presence(self) -> str:
        return self.contract.requests.name

    def series_names(self) -> frozenset[str]:
        return self.contract.series_names()
