"""Metric sources: the registry, capabilities, and alerts left out where the source cannot feed them.

A test-only source (the holystack reads, fewer capabilities) shows the seam: registered in the
registry alone, it renders, validates --strict with real promtool, and names each alert it lacks."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from typer.testing import CliRunner

from holystack import SpecError, load_stack
from holystack import contract as c
from holystack.cli import app
from holystack.render.alerts import alert_rules, families, unavailable_alerts
from holystack.sources import DEFAULT_SOURCE, SOURCE_MODULES, SOURCES, all_sources, source_names
from holystack.sources.base import BREAKER_STATE, CAPABILITIES, CACHED_TOKENS, FALLBACKS, RATE_LIMIT_GAUGES, RETRIES
from holystack.sources.native import Holystack
from holystack.sources.otel_genai import BUCKETS as OTEL_BUCKETS
from holystack.validate import validate
from holystack.pipeline import render_to

from .conftest import CASES, EXAMPLE, Cases

LACKS = frozenset({RATE_LIMIT_GAUGES, RETRIES, FALLBACKS, BREAKER_STATE, CACHED_TOKENS})


class Partial(Holystack):
    """Reads like holystack, but tells only attempts, logical calls and time to first token."""

    name = "partial"
    capabilities = frozenset(CAPABILITIES) - LACKS
    lacking = {FALLBACKS: "partial has no fallback counter"}


class Fixed(Partial):
    """A source whose histograms have fixed buckets, and that reads no metrics option."""

    name = "fixed"
    options = frozenset()
    fixed_buckets = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@pytest.fixture
def partial() -> Iterator[None]:
    SOURCES[Partial.name], SOURCES[Fixed.name] = Partial, Fixed
    yield
    del SOURCES[Partial.name], SOURCES[Fixed.name]


def _spec(tmp_path: Path, source: str, edit: Callable[[dict[str, Any]], None] = lambda data: None) -> Path:
    data = yaml.safe_load(EXAMPLE.read_text("utf-8"))
    data["metrics"]["source"] = source
    if source != "holystack":  # the test sources cannot observe the example's fallback chain
        del data["resilience"]["fallbacks"]
    edit(data)
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


def test_each_source_module_defines_the_source_of_its_name() -> None:
    """The registry names each source's module (imported only when a spec names the source): the
    class it names there answers to that name."""
    loaded = all_sources()
    assert set(SOURCE_MODULES) <= set(loaded) and DEFAULT_SOURCE in loaded
    assert {name: cls.name for name, cls in loaded.items()} == {name: name for name in loaded}


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


def _no_buckets(data: dict[str, Any]) -> None:
    del data["metrics"]["latency_buckets"]


def test_fixed_buckets_are_the_sources(partial: None, tmp_path: Path) -> None:
    assert load_stack(_spec(tmp_path, "fixed", _no_buckets)).latency_buckets == Fixed.fixed_buckets


def test_an_option_of_another_source_is_refused_in_one_line(partial: None, tmp_path: Path) -> None:
    spec, out = _spec(tmp_path, "fixed"), tmp_path / "out"
    result = CliRunner().invoke(app, ["render", str(spec), "-o", str(out)])
    assert result.exit_code == 2 and not out.exists() and "Traceback" not in result.output
    assert ("metrics.latency_buckets: metrics.source fixed does not read latency_buckets: its latency buckets are "
            "fixed (0.1, 0.5, 1, 2.5, 5, 10, 30, 60 seconds); remove it (holystack, partial read it)") in result.output


def test_a_latency_threshold_off_the_sources_buckets_names_them(partial: None, tmp_path: Path) -> None:
    def edit(data: dict[str, Any]) -> None:
        _no_buckets(data)
        data["endpoints"][0]["latency_slo"]["threshold"] = "7s"

    with pytest.raises(SpecError) as caught:
        load_stack(_spec(tmp_path, "fixed", edit))
    assert ("endpoints[0].latency_slo.threshold: 7s is not a bucket of metrics.source fixed, whose latency buckets "
            "are fixed (0.1, 0.5, 1, 2.5, 5, 10, 30, 60 seconds); a latency SLO counts the calls of one bucket. "
            "Use 5s or 10s") in str(caught.value)


OTEL_CASE = CASES / "otel-genai" / "spec.yaml"
OTEL_RAW = ("gen_ai_client_operation_duration_seconds_", "gen_ai_client_token_usage_sum")


def test_otel_genai_lacks_what_its_metrics_cannot_tell() -> None:
    stack = load_stack(OTEL_CASE)
    assert [name for name, _ in unavailable_alerts(stack)] == [
        "HolySheepFallbackActive", "HolySheepCircuitBreakerOpen", "HolySheepRateLimitHeadroomLow",
        "HolySheepRetryRatioHigh"]
    assert stack.latency_buckets == OTEL_BUCKETS


def test_otel_genai_cases_are_written_in_its_own_shape_and_pass_promtool(cases: Cases) -> None:
    """The same scenarios, with OTel's series as input: the rules read them through the source's
    relabeling (error_type -> status classes, operation -> endpoint, server_address -> provider)."""
    out = cases.rendered(OTEL_CASE.parent.name)
    inputs = [series["series"] for path in sorted((out / "prometheus" / "tests").glob("*.yml"))
              for test in yaml.safe_load(path.read_text("utf-8"))["tests"] for series in test["input_series"]]
    assert inputs and all(s.startswith(OTEL_RAW) or s.startswith(("up{", c.PROCESS_START + "{")) or s.startswith("ALERTS") for s in inputs), \
        sorted({s.split("{")[0] for s in inputs})
    assert any('error_type="RateLimitError"' in s for s in inputs)
    assert any('gen_ai_token_type="input"' in s for s in inputs)
    report = cases.validated(OTEL_CASE.parent.name)  # validate --strict, once per session
    assert not report.failed, report.table()
