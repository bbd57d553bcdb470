"""A spec moved onto another metric source (holystack.live.onto), and the raw series a source emits
for the contract's traffic (Source.emitted), which `up --source` and bench/scale.py run on."""
from __future__ import annotations

from pathlib import Path

import pytest

from holystack import load_stack
from holystack.errors import UsageError
from holystack.live.backfill import Traffic, contract_lines
from holystack.live.onto import spec_on_source
from holystack.live.playground import write_spec
from holystack.sources import source_names
from holystack.sources.otel_genai import OtelGenai
from holystack.spec import read_spec

from .conftest import E2E_SPEC, EXAMPLE

TARGET = {"job": "app", "instance": "a:9464"}


@pytest.mark.parametrize("source", source_names())
def test_every_spec_moves_onto_every_source_and_loads(tmp_path: Path, source: str) -> None:
    for spec in (EXAMPLE, E2E_SPEC):
        data, changes = spec_on_source(read_spec(spec), source)
        stack = load_stack(write_spec(data, tmp_path / f"{source}-{spec.name}"))
        assert stack.source.name == source
        dropped = {line.split(":")[0] for line in changes if line.endswith("(litellm tells endpoints by model)")}
        assert [e.path for e in stack.endpoints] == [e["path"] for e in read_spec(spec)["endpoints"]
                                                     if e["path"] not in dropped]
        assert all(line.count("\n") == 0 for line in changes)


def test_onto_otel_genai_says_each_change() -> None:
    data, changes = spec_on_source(read_spec(E2E_SPEC), "otel-genai")
    assert changes == ["metrics.latency_buckets: dropped, otel-genai does not read it",
                       "/chat/completions: latency_slo.threshold 320ms, the nearest otel-genai bucket",
                       "metrics.operations: responses -> /responses"]
    assert data["metrics"]["source"] == "otel-genai" and data["endpoints"][0]["latency_slo"]["threshold"] == "320ms"
    assert spec_on_source(data, "otel-genai") == (data, [])  # already there: nothing changes


def test_onto_an_unknown_source_is_one_line() -> None:
    with pytest.raises(UsageError, match=r"^--source: 'nope' is not a metric source; pick one of holystack, "):
        spec_on_source(read_spec(EXAMPLE), "nope")


def names(lines: list[str]) -> set[str]:
    return {line.split("{", 1)[0] for line in lines if line != "# EOF"}


def test_the_backfill_writes_what_each_source_emits(tmp_path: Path) -> None:
    native = load_stack(EXAMPLE)
    otel = load_stack(write_spec(spec_on_source(read_spec(EXAMPLE), "otel-genai")[0], tmp_path / "otel.yaml"))
    lines = {stack.source.name: list(contract_lines(stack, 0, 3, 15, Traffic(), TARGET)) for stack in (native, otel)}
    assert names(lines["holystack"]) == {"holysheep_requests_total", "holysheep_calls_total",
                                         "holysheep_request_duration_seconds_bucket", "holysheep_tokens_total"}
    # One observation per call is both attempt and logical call; no cached tokens; nothing of the contract.
    assert names(lines["otel-genai"]) == {"gen_ai_client_operation_duration_seconds_count",
                                          "gen_ai_client_operation_duration_seconds_bucket",
                                          "gen_ai_client_token_usage_sum"}
    assert all(line.endswith((" 0", " 15", " 30")) and 'job="app"' in line for line in lines["otel-genai"][:-1])
    assert lines["otel-genai"][-1] == "# EOF"


def test_emitted_leaves_out_the_contract_series_a_source_lacks() -> None:
    stack = load_stack(EXAMPLE)
    name = stack.contract.ratelimit_remaining.name
    gauge = [(f'{name}{{provider="holysheep",model="gpt-4.1",resource="requests"}}', "5")]
    source = OtelGenai(stack.contract)
    assert source.test_series(stack, gauge) == gauge  # a case may hold any series
    assert source.emitted(stack, gauge) == []  # the application never writes it
