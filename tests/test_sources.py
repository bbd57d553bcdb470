"""Metric sources: the registry, capabilities, and alerts left out where the source cannot feed them.

A test-only source (the holystack reads, fewer capabilities) shows the seam: registered in the
registry alone, it renders, validates --strict with real promtool, and names each alert it lacks."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from holystack import load_stack
from holystack.render.alerts import alert_rules, families, unavailable_alerts
from holystack.sources import SOURCES, source_names
from holystack.sources.base import BREAKER_STATE, CAPABILITIES, CACHED_TOKENS, FALLBACKS, RATE_LIMIT_GAUGES, RETRIES
from holystack.sources.native import Holystack
from holystack.validate import validate
from holystack.pipeline import render_to

from .conftest import EXAMPLE

LACKS = frozenset({RATE_LIMIT_GAUGES, RETRIES, FALLBACKS, BREAKER_STATE, CACHED_TOKENS})


class Partial(Holystack):
    """Reads like holystack, but tells only attempts, logical calls and time to first token."""

    name = "partial"
    capabilities = frozenset(CAPABILITIES) - LACKS
    lacking = {FALLBACKS: "partial has no fallback counter"}


@pytest.fixture
def partial() -> Iterator[None]:
    SOURCES[Partial.name] = Partial
    yield
    del SOURCES[Partial.name]


def _spec(tmp_path: Path, source: str) -> Path:
    data = yaml.safe_load(EXAMPLE.read_text("utf-8"))
    data["metrics"]["source"] = source
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")
    return path


def test_default_source_is_holystack_with_every_capability() -> None:
    stack = load_stack(EXAMPLE)
    assert stack.source.name == "holystack" and stack.source.capabilities == frozenset(CAPABILITIES)
    assert unavailable_alerts(stack) == ()


def test_writing_the_default_source_renders_the_same_rules(tmp_path: Path) -> None:
    assert alert_rules(load_stack(_spec(tmp_path, "holystack"))) == alert_rules(load_stack(EXAMPLE))


def test_families_require_only_known_capabilities() -> None:
    for family in families():
        assert set(family.requires) <= set(family.kinds), family.name
        for needs in family.requires.values():
            assert needs <= set(CAPABILITIES), family.name


def test_a_registered_source_is_a_known_name(partial: None) -> None:
    assert "partial" in source_names()


def test_alerts_the_source_cannot_feed_are_left_out_and_named(partial: None, tmp_path: Path) -> None:
    stack = load_stack(_spec(tmp_path, "partial"))
    missing = dict(unavailable_alerts(stack))
    assert missing == {
        "HolySheepFallbackActive": "partial has no fallback counter",
        "HolySheepCircuitBreakerOpen": "partial reports no breaker state",
        "HolySheepRateLimitHeadroomLow": "partial reports no rate-limit gauges",
        "HolySheepRetryRatioHigh": "partial reports no retries",
    }
    rendered = {stack.alert_name(rule.kind) for rule in alert_rules(stack)}
    assert not rendered & set(missing)
    assert "HolySheepRateLimitRatioHigh" in rendered and "HolySheepErrorBudgetBurn" in rendered


def test_partial_source_validates_strict_and_lists_unavailable_alerts(partial: None, tmp_path: Path) -> None:
    spec, out = _spec(tmp_path, "partial"), tmp_path / "out"
    render_to(spec, out)
    readme = (out / "README.md").read_text("utf-8")
    assert "Not rendered, because metrics.source `partial` cannot feed them:" in readme
    assert "- HolySheepFallbackActive: partial has no fallback counter" in readme
    report = validate(spec, out, strict=True)
    assert not report.failed, report.table()
    row, = (r for r in report.results if r.name == "alerts metrics.source partial can feed")
    assert "HolySheepRetryRatioHigh: partial reports no retries" in row.findings
    for rule_file in (out / "prometheus" / "rules").glob("*.yml"):
        assert "FallbackActive" not in rule_file.read_text("utf-8")
