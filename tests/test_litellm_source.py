"""metrics.source litellm: the names and buckets are LiteLLM's own (read from the installed
litellm[proxy] 1.106.12), and the rendered rules read hand-written LiteLLM series as the README says,
proven with promtool: the status classes (408 is a timeout, "None" an error), the route filter (the
proxy's own /metrics/ scrapes, /v1 and not), provider matching, tokens by type, headroom, the breaker,
fallbacks and LiteLLM's spend beside holystack's cost. Its generated cases pass validate --strict."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from holystack import load_stack
from holystack.pipeline import render_to
from holystack.render.alerts import unavailable_alerts
from holystack.series import Series
from holystack.sources import litellm as L
from holystack.sources.litellm_cases import encode, expand

from .conftest import CASES, ROOT, Cases

CASE = CASES / "litellm" / "spec.yaml"
TARGET = 'job="holysheep-app",instance="litellm-proxy:4000"'


# What the installed LiteLLM defines, printed by a Python that has it: litellm needs openai<3, so it may
# live in a venv of its own (scripts/setup's .venv-litellm, or $HOLYSTACK_LITELLM's).
DEFINITIONS = """
import json, os
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network fetch of the price map at import
from litellm.types.integrations.prometheus import LATENCY_BUCKETS, PrometheusMetricLabels
names = json.loads(os.environ["NAMES"])
print(json.dumps({"buckets": [b for b in LATENCY_BUCKETS if b != float("inf")],
                  "labels": {n: PrometheusMetricLabels.get_labels(n) for n in names}}))
"""


def _litellm_definitions(names: list[str]) -> dict[str, Any]:
    command = os.environ.get("HOLYSTACK_LITELLM")
    candidates = [sys.executable, *([str(Path(command).parent / "python")] if command else []),
                  str(ROOT / ".venv-litellm" / "bin" / "python")]
    for python in candidates:
        if not Path(python).is_file():
            continue
        done = subprocess.run([python, "-c", DEFINITIONS], capture_output=True, text=True, timeout=300,
                              env={**os.environ, "NAMES": json.dumps(names)})
        if done.returncode == 0:
            return json.loads(done.stdout.strip().splitlines()[-1])
    pytest.fail("litellm[proxy]==1.106.12 is not installed beside this Python nor in .venv-litellm "
                "(scripts/setup makes it); its own names, labels and buckets are what this test reads")


# Each raw series the source reads (without prometheus_client's _total) -> the labels it reads of it.
READS = {
    "litellm_deployment_success_responses": {L.MODEL_GROUP, L.REQUESTED_MODEL, L.API_BASE, L.API_PROVIDER},
    "litellm_deployment_failure_responses": {L.REQUESTED_MODEL, L.API_BASE, L.API_PROVIDER, L.EXCEPTION_STATUS},
    "litellm_deployment_total_requests": {L.REQUESTED_MODEL, L.API_BASE, L.API_PROVIDER},
    "litellm_proxy_total_requests_metric": {L.REQUESTED_MODEL, L.STATUS, L.ROUTE},
    "litellm_input_tokens_metric": {L.REQUESTED_MODEL, L.API_PROVIDER},
    "litellm_output_tokens_metric": {L.REQUESTED_MODEL, L.API_PROVIDER},
    "litellm_input_cached_tokens_metric": {L.REQUESTED_MODEL, L.API_PROVIDER},
    "litellm_input_cache_creation_tokens_metric": {L.REQUESTED_MODEL, L.API_PROVIDER},
    L.API_LATENCY: {L.REQUESTED_MODEL, L.API_PROVIDER},
    L.TOTAL_LATENCY: {L.REQUESTED_MODEL, L.API_PROVIDER},
    L.TTFT: {L.REQUESTED_MODEL, L.API_PROVIDER},
    L.REMAINING_REQUESTS: {L.MODEL_GROUP, L.API_BASE, L.API_PROVIDER, L.MODEL_ID},
    L.REMAINING_TOKENS: {L.MODEL_GROUP, L.API_BASE, L.API_PROVIDER, L.MODEL_ID},
    L.RPM_LIMIT: {L.MODEL_GROUP, L.API_BASE, L.API_PROVIDER, L.MODEL_ID},
    L.TPM_LIMIT: {L.MODEL_GROUP, L.API_BASE, L.API_PROVIDER, L.MODEL_ID},
    "litellm_deployment_successful_fallbacks": {L.REQUESTED_MODEL, L.FALLBACK_MODEL},
    L.DEPLOYMENT_STATE: {L.API_BASE, L.API_PROVIDER},
    "litellm_spend_metric": {L.REQUESTED_MODEL, L.API_PROVIDER},
}


def test_names_labels_and_buckets_are_litellms_own() -> None:
    raw = {name.removesuffix("_total") for name in L.Litellm(load_stack(CASE).contract).series_names()
           if name.startswith("litellm_")}
    raw = {name.removesuffix("_bucket").removesuffix("_count").removesuffix("_sum") for name in raw}
    assert raw == set(READS)
    litellm = _litellm_definitions(sorted(READS))
    for name, labels in READS.items():
        assert labels <= set(litellm["labels"][name]), name
    assert L.BUCKETS == tuple(litellm["buckets"])


def test_promtool_notation_round_trips() -> None:
    assert expand("0+15x3 _x2 stale 7") == [0.0, 15.0, 30.0, 45.0, None, None, "stale", 7.0]
    assert expand("1x2 5-1x2") == [1.0, 1.0, 1.0, 5.0, 4.0, 3.0]
    assert encode(expand("0+1.5x2 _")) == "0 1.5 3 _"


def test_litellm_lacks_only_retries() -> None:
    stack = load_stack(CASE)
    assert [name for name, _ in unavailable_alerts(stack)] == ["HolySheepRetryRatioHigh"]
    assert stack.latency_buckets == L.BUCKETS


@pytest.fixture
def rendered(cases: Cases) -> Path:
    """The litellm case rendered once per session (read-only)."""
    return cases.rendered(CASE.parent.name)


def _series(name: str, labels: str, values: str) -> dict[str, str]:
    return {"series": f"{name}{{{labels},{TARGET}}}", "values": values}


def _check(promtool: str, out: Path, tmp_path: Path, series: list[dict[str, str]],
           checks: list[tuple[str, list[tuple[str, float]]]]) -> None:
    """promtool evaluates every rendered rule file over series at 10m and compares each expr's samples."""
    rules = sorted(str(p) for p in (out / "prometheus" / "rules").glob("*.yml"))
    test = {"rule_files": rules, "evaluation_interval": "15s", "tests": [{
        "interval": "15s", "input_series": series,
        "promql_expr_test": [{"expr": expr, "eval_time": "10m",
                              "exp_samples": [{"labels": _named(expr, labels), "value": value} for labels, value in samples]}
                             for expr, samples in checks]}]}
    path = tmp_path / "litellm.test.yml"
    path.write_text(yaml.safe_dump(test), "utf-8")
    done = subprocess.run([promtool, "test", "rules", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def _named(expr: str, labels: str) -> str:
    """The labels promtool shows for expr's samples: a bare series keeps its __name__."""
    name = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?", expr)
    return labels.replace("{", f'{{__name__="{name[1]}",', 1) if name else labels


ONE_PER_SECOND = "0+15x60"  # a counter at 15s samples: rate 1


def test_status_classes_route_filter_and_providers(rendered: Path, tmp_path: Path, promtool: str) -> None:
    s = Series(load_stack(CASE))
    base = 'model_group="gpt-4.1",requested_model="gpt-4.1",litellm_model_name="openai/gpt-4.1"'
    holysheep = f'{base},api_base="https://api.holysheep.ai/v1",api_provider="openai"'
    backup_by_name = f'{base},api_base="http://10.0.0.9:4000",api_provider="backup"'
    nowhere = f'{base},api_base="None",api_provider="openai"'
    series = [
        _series(L.SUCCESS, holysheep, ONE_PER_SECOND),
        _series(L.FAILURE, f'{holysheep},exception_status="429",exception_class="Openai.RateLimitError"', ONE_PER_SECOND),
        _series(L.FAILURE, f'{holysheep},exception_status="408",exception_class="Openai.Timeout"', ONE_PER_SECOND),
        _series(L.FAILURE, f'{holysheep},exception_status="None",exception_class="Openai.APIConnectionError"',
                ONE_PER_SECOND),
        _series(L.SUCCESS, backup_by_name, ONE_PER_SECOND),
        _series(L.SUCCESS, nowhere, ONE_PER_SECOND),
        # The proxy's calls: /v1 and not map to the same endpoint; its own /metrics/ scrapes are not read.
        _series(L.PROXY_CALLS, 'requested_model="gpt-4.1",route="/v1/chat/completions",status_code="200"', ONE_PER_SECOND),
        _series(L.PROXY_CALLS, 'requested_model="gpt-4.1",route="/chat/completions",status_code="408"', ONE_PER_SECOND),
        _series(L.PROXY_CALLS, 'requested_model="None",route="/metrics/",status_code="200"', ONE_PER_SECOND),
        _series(L.PROXY_CALLS, 'requested_model="gpt-4.1",route="/v1/models",status_code="200"', ONE_PER_SECOND),
    ]
    statuses = [('provider="holysheep",endpoint="/chat/completions",status_code="200"', 1),
                ('provider="holysheep",endpoint="/chat/completions",status_code="429"', 1),
                ('provider="holysheep",endpoint="/chat/completions",status_code="timeout"', 1),
                ('provider="holysheep",endpoint="/chat/completions",status_code="error"', 1),
                ('provider="backup",endpoint="/chat/completions",status_code="200"', 1),
                ('provider="other",endpoint="/chat/completions",status_code="200"', 1)]
    _check(promtool, rendered, tmp_path, series, [
        (s.requests_by_status, [(f"{{{labels}}}", v) for labels, v in statuses]),
        (s.ratio("timeout") + '{provider="holysheep"}',
         [('{provider="holysheep",endpoint="/chat/completions",model="gpt-4.1"}', 0.25)]),
        (s.calls_by_endpoint_model, [('{endpoint="/chat/completions",model="gpt-4.1"}', 2)]),
        (s.call_ratio("success"), [('{endpoint="/chat/completions",model="gpt-4.1"}', 0.5)]),
    ])


def test_tokens_headroom_breaker_fallbacks_and_spend(rendered: Path, tmp_path: Path, promtool: str) -> None:
    s = Series(load_stack(CASE))
    by_name = 'requested_model="gpt-4.1",model="openai/gpt-4.1",api_provider="holysheep"'
    deployment = 'model_group="gpt-4.1",api_base="https://api.holysheep.ai/v1",api_provider="openai",model_id="d1"'
    series = [
        _series(L.INPUT_TOKENS, by_name, "0+150x60"),        # 10 prompt tokens per second
        _series(L.CACHED_INPUT_TOKENS, by_name, "0+60x60"),  # 4 of them read from the cache
        _series(L.OUTPUT_TOKENS, by_name, "0+75x60"),        # 5 completion tokens per second
        _series(L.SPEND, by_name, "0+0.0015x60"),            # LiteLLM's own: 0.0001 USD per second
        _series(L.REMAINING_REQUESTS, deployment, "250x60"),
        _series(L.RPM_LIMIT, deployment, "1000x60"),
        _series(L.DEPLOYMENT_STATE, 'api_base="https://llm-backup.example.com/v1",api_provider="openai"', "2x60"),
        _series(L.DEPLOYMENT_STATE, 'api_base="https://api.holysheep.ai/v1",api_provider="openai"', "0x60"),
        _series(L.SUCCESSFUL_FALLBACKS, 'requested_model="gpt-4.1",fallback_model="gpt-4.1-backup",'
                                        'exception_status="429"', "0+1.5x60"),
        _series(L.PROXY_CALLS, 'requested_model="gpt-4.1",route="/v1/chat/completions",status_code="200"', "0+15x60"),
    ]
    # gpt-4.1: input 8, output 8, cached_input 2 USD per 1M: (10 - 4) * 8 + 4 * 2 + 5 * 8 = 96 per 1M per second.
    _check(promtool, rendered, tmp_path, series, [
        (s.tokens, [('{model="gpt-4.1",token_type="prompt"}', 10), ('{model="gpt-4.1",token_type="cached_prompt"}', 4),
                    ('{model="gpt-4.1",token_type="completion"}', 5)]),
        (f"round({s.cost_rate} * 1e9)", [('{provider="holysheep",model="gpt-4.1"}', 96_000)]),
        (f"round({s.source_spend_rate} * 1e9)", [('{provider="holysheep",model="gpt-4.1"}', 100_000)]),
        (s.ratelimit_headroom, [('{provider="holysheep",model="gpt-4.1",resource="requests"}', 0.25)]),
        (s.circuit_state, [('{provider="backup",state="open"}', 1), ('{provider="backup",state="closed"}', 0),
                           ('{provider="holysheep",state="open"}', 0), ('{provider="holysheep",state="closed"}', 1)]),
        (s.fallback_share, [('{from_provider="holysheep",to_provider="backup"}', 0.1)]),
    ])


def test_generated_cases_are_litellms_shape_and_validate_strict(rendered: Path, cases: Cases) -> None:
    inputs = [series["series"] for path in sorted((rendered / "prometheus" / "tests").glob("*.yml"))
              for test in yaml.safe_load(path.read_text("utf-8"))["tests"] for series in test["input_series"]]
    names = {text.split("{")[0] for text in inputs}
    assert names <= L.Litellm(load_stack(CASE).contract).series_names() - load_stack(CASE).contract.series_names() \
        | {"up", "process_start_time_seconds", "ALERTS", "ALERTS_FOR_STATE"}, sorted(names)
    assert any('exception_status="408"' in text for text in inputs)
    assert any('route="/v1/chat/completions"' in text for text in inputs)
    assert {L.DEPLOYMENT_STATE, L.SUCCESSFUL_FALLBACKS, L.REMAINING_REQUESTS, L.CACHED_INPUT_TOKENS, L.ATTEMPTS_TOTAL} <= names
    report = cases.validated(CASE.parent.name)  # validate --strict, once per session
    assert not report.failed, report.table()


def test_spec_rate_limits_replace_the_limit_gauges(tmp_path: Path, promtool: str) -> None:
    """metrics.rate_limits: the headroom is read against the spec's limit, not litellm_deployment_rpm_limit;
    the generated headroom cases still fire and stay silent with it (their remaining scaled to it)."""
    data = yaml.safe_load(CASE.read_text("utf-8"))
    data["metrics"]["rate_limits"] = {"requests": 500}
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")
    out = tmp_path / "out"
    render_to(spec, out)
    s = Series(load_stack(spec))
    deployment = 'model_group="gpt-4.1",api_base="https://api.holysheep.ai/v1",api_provider="openai",model_id="d1"'
    _check(promtool, out, tmp_path, [_series(L.REMAINING_REQUESTS, deployment, "250x60"),
                                     _series(L.RPM_LIMIT, deployment, "1000x60")],
           [(s.ratelimit_headroom, [('{provider="holysheep",model="gpt-4.1",resource="requests"}', 0.5)])])
    cases = out / "prometheus" / "tests" / "holysheep-resilience.test.yml"
    assert L.RPM_LIMIT not in cases.read_text("utf-8")
    done = subprocess.run([promtool, "test", "rules", cases.name], cwd=cases.parent, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_providers_on_one_host_are_told_apart_by_path(tmp_path: Path, promtool: str) -> None:
    """holystack's fake upstream serves every provider on one host and port, under /<provider>/v1."""
    data = yaml.safe_load(CASE.read_text("utf-8"))
    for provider in data["providers"]:
        provider["base_url"] = f"http://127.0.0.1:8080/{provider['name']}/v1"
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")
    out = tmp_path / "out"
    render_to(spec, out)
    base = 'model_group="gpt-4.1",requested_model="gpt-4.1",api_provider="openai"'
    series = [_series(L.SUCCESS, f'{base},api_base="http://127.0.0.1:8080/{name}/v1"', ONE_PER_SECOND)
              for name in ("holysheep", "backup")]
    series.append(_series(L.SUCCESS, f'{base},api_base="http://127.0.0.1:8080/v1"', ONE_PER_SECOND))
    expected = [(f'{{provider="{name}",endpoint="/chat/completions",status_code="200"}}', 1)
                for name in ("holysheep", "backup")]
    # An api_base that shares only the host reads as the provider with the longest base_url path
    # (/holysheep/v1 here; names break ties): deterministic, never two providers.
    _check(promtool, out, tmp_path, series,
           [(Series(load_stack(spec)).requests_by_status + '{provider!="other"}',
             [(expected[0][0], 2), expected[1]])])
