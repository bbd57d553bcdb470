"""holystack.instrument emits exactly the contract; one test per defect of the seed's exporter (1-7)."""
from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from holystack import load_stack
from holystack.contract import PROCESS_START
from holystack.defaults import DEFAULT_METRICS_PORT
from holystack.instrument import Instrument, usage_from_body
from holystack.instrument.usage import Usage
from holystack.live.scenarios import SCENARIOS
from holystack.live.upstream import FakeUpstreamServer, Upstream, served_model

from .conftest import EXAMPLE

CHAT = "/chat/completions"
CACHED_BODY = {"model": "deepseek-v3.2-2025-09-29", "usage": {
    "prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500,
    "prompt_tokens_details": {"cached_tokens": 800}}}
HEADERS = {"X-RateLimit-Limit-Requests": "500", "x-ratelimit-remaining-requests": "499",
           "x-ratelimit-limit-tokens": "200000", "x-ratelimit-remaining-tokens": "198500", "retry-after": "1"}


def samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every exposed sample: (name, sorted labels) -> value, read back from the text exposition."""
    text = generate_latest(registry).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def labels(**values: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(values.items()))


@pytest.fixture
def instrument() -> Instrument:
    return Instrument.from_spec(EXAMPLE, registry=CollectorRegistry(), initialize=False)


def test_a_new_user_gets_exactly_the_contract(instrument: Instrument) -> None:
    instrument.record_call(provider="holysheep", endpoint=CHAT, model="deepseek-v3.2", status=200, seconds=0.42,
                           body=CACHED_BODY, headers=HEADERS)
    instrument.record_call(provider="holysheep", endpoint=CHAT, model="gpt-4.1", status="timeout", seconds=30.2)
    instrument.record_call(provider="backup", endpoint=CHAT, model="llama-9-experimental", status=200,
                           seconds=0.1, body={"usage": {"prompt_tokens": 10, "completion_tokens": 5}})
    got = samples(instrument.registry)
    p = "holysheep"
    calls = {k: v for k, v in got.items() if k[0] == f"{p}_requests_total"}
    assert calls == {
        (f"{p}_requests_total", labels(provider="holysheep", endpoint=CHAT, model="deepseek-v3.2", status_code="200")): 1,
        (f"{p}_requests_total", labels(provider="holysheep", endpoint=CHAT, model="gpt-4.1", status_code="timeout")): 1,
        (f"{p}_requests_total", labels(provider="backup", endpoint=CHAT, model="other", status_code="200")): 1,
    }
    tokens = {k[1]: v for k, v in got.items() if k[0] == f"{p}_tokens_total"}
    assert tokens == {
        labels(provider="holysheep", model="deepseek-v3.2", token_type="prompt"): 1200,
        labels(provider="holysheep", model="deepseek-v3.2", token_type="completion"): 300,
        labels(provider="holysheep", model="deepseek-v3.2", token_type="cached_prompt"): 800,
        labels(provider="backup", model="other", token_type="prompt"): 10,
        labels(provider="backup", model="other", token_type="completion"): 5,
    }
    gauges = {(k[0], k[1]): v for k, v in got.items() if "ratelimit" in k[0]}
    where = dict(provider="holysheep", model="deepseek-v3.2")
    assert gauges == {
        (f"{p}_ratelimit_limit", labels(**where, resource="requests")): 500,
        (f"{p}_ratelimit_remaining", labels(**where, resource="requests")): 499,
        (f"{p}_ratelimit_limit", labels(**where, resource="tokens")): 200000,
        (f"{p}_ratelimit_remaining", labels(**where, resource="tokens")): 198500,
    }
    timeout_sum = got[(f"{p}_request_duration_seconds_sum", labels(provider="holysheep", endpoint=CHAT, model="gpt-4.1"))]
    assert timeout_sum == pytest.approx(30.2)
    # Nothing beyond the contract and the process collector (its start time is what the counter steps
    # read): no *_created series, no cost metric.
    contract = load_stack(EXAMPLE).contract
    names = {name for name, _ in got}
    assert PROCESS_START in names
    assert {name for name in names if not name.startswith("process_")} <= contract.series_names()


@pytest.mark.parametrize("body, expected", [
    ({"usage": {"prompt_tokens": 50, "total_tokens": 50}}, (50, 0, 0)),  # embeddings
    ({"usage": {"input_tokens": 900, "output_tokens": 120, "input_tokens_details": {"cached_tokens": 512},
                "output_tokens_details": {"reasoning_tokens": 64}}}, (900, 120, 512)),  # Responses API
    ([{"choices": [{"delta": {"content": "po"}}]},
      {"choices": [], "usage": {"prompt_tokens": 70, "completion_tokens": 9,
                                "prompt_tokens_details": {"cached_tokens": 64}}}], (70, 9, 64)),  # stream chunks
    ({"choices": [], "usage": {"prompt_tokens": 70, "completion_tokens": 9}}, (70, 9, 0)),  # final chunk alone
    ({"type": "response.completed", "response": {"usage": {"input_tokens": 5, "output_tokens": 6}}}, (5, 6, 0)),
    ({"usage": {"prompt_tokens": 10, "prompt_tokens_details": {"cached_tokens": 99}}}, (10, 0, 10)),  # clamped
    ({"error": {"message": "Rate limit reached"}}, (0, 0, 0)),
    ({"usage": {"prompt_tokens": None, "completion_tokens": "7"}}, (0, 7, 0)),
    ("not json", (0, 0, 0)),
])
def test_usage_shapes(body, expected) -> None:
    assert usage_from_body(body) == Usage(*expected)


def test_status_must_be_http_timeout_or_error(instrument: Instrument) -> None:
    for bad in (42, "TIMEOUT", "5xx", None, 700):
        with pytest.raises(ValueError, match="status must be"):
            instrument.record_call(provider="holysheep", endpoint=CHAT, model="gpt-4.1", status=bad, seconds=1)


def test_initialized_series_keep_an_idle_app_visible() -> None:
    registry = CollectorRegistry()
    stack = load_stack(EXAMPLE)
    Instrument.from_spec(stack, registry=registry)
    got = samples(registry)
    idle_calls = [k for k in got if k[0] == "holysheep_requests_total"]
    assert len(idle_calls) == len(stack.providers) * len(stack.endpoints) * len(stack.models)
    assert all(got[k] == 0 for k in idle_calls)


# --- The seed's exporter defects, each caught here ------------------------------------------

def test_defect_1_every_spec_model_is_priced_by_the_rules(tmp_path: Path, promtool: str) -> None:
    """The seed's price lookup never matched a hyphenated model name. Feed what the Instrument emits
    for every spec model into the rendered recording rules and check the cost promtool computes."""
    from holystack import render_to

    render_to(EXAMPLE, tmp_path)
    stack = load_stack(EXAMPLE)
    registry = CollectorRegistry()
    instrument = Instrument.from_spec(stack, registry=registry, initialize=False)
    for model in stack.models:
        instrument.record_call(provider="holysheep", endpoint=CHAT, model=model.name, status=200, seconds=0.1,
                               body={"usage": {"prompt_tokens": 1_000_000, "completion_tokens": 1_000_000}})
    series = [{"series": "{" + ", ".join([f'__name__="{name}"', 'job="holysheep-app"', 'instance="app:9464"',
                                         *(f'{k}="{v}"' for k, v in lbls)]) + "}",
               "values": f"0+{value:g}x20"}  # what the Instrument counted, again every minute
              for (name, lbls), value in samples(registry).items() if name == "holysheep_tokens_total"]
    cost = "provider_model:holysheep_cost_usd:rate5m"
    checks = [{"expr": f'abs({cost}{{model="{m.name}"}} - {(m.prices.input + m.prices.output) / 60!r}) < bool 1e-12',
               "eval_time": "15m",  # USD per 1M tokens x 1M tokens a minute, per second
               "exp_samples": [{"labels": f'{{model="{m.name}", provider="holysheep"}}', "value": 1}]}
              for m in stack.models]
    rules = sorted(str(p.relative_to(tmp_path / "prometheus")) for p in (tmp_path / "prometheus" / "rules").glob("*.yml"))
    test = {"rule_files": rules, "evaluation_interval": "15s",
            "tests": [{"interval": "1m", "input_series": series, "promql_expr_test": checks}]}
    (tmp_path / "prometheus" / "defect1.test.yml").write_text(json.dumps(test))
    done = subprocess.run([promtool, "test", "rules", "defect1.test.yml"], cwd=tmp_path / "prometheus",
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_defect_2_cost_comes_from_counters_not_a_gauge(instrument: Instrument) -> None:
    for _ in range(3):
        instrument.record_call(provider="holysheep", endpoint=CHAT, model="gpt-4.1", status=200, seconds=0.2,
                               body={"usage": {"prompt_tokens": 100, "completion_tokens": 10}})
    got = samples(instrument.registry)
    assert not [name for name, _ in got if "cost" in name]
    assert got[("holysheep_tokens_total", labels(provider="holysheep", model="gpt-4.1", token_type="prompt"))] == 300
    types = {f.name: f.type for f in text_string_to_metric_families(generate_latest(instrument.registry).decode())}
    assert types["holysheep_tokens"] == "counter"


def test_defect_3_timeouts_are_in_the_request_count(instrument: Instrument) -> None:
    instrument.record_call(provider="holysheep", endpoint=CHAT, model="gpt-4.1", status=200, seconds=0.2)
    instrument.record_call(provider="holysheep", endpoint=CHAT, model="gpt-4.1", status="timeout", seconds=30)
    got = samples(instrument.registry)
    total = sum(v for (name, _), v in got.items() if name == "holysheep_requests_total")
    assert total == 2


@pytest.fixture
def upstream(request: pytest.FixtureRequest):
    scenario = SCENARIOS[request.param]
    server = FakeUpstreamServer(Upstream(scenario, {CHAT: 0.2}, client_timeout=0.3, seed=3)).start()
    yield server
    server.stop()


@pytest.mark.parametrize("upstream", ["timeouts"], indirect=True)
def test_defect_4_a_timeout_observes_the_real_elapsed_time(instrument: Instrument, upstream) -> None:
    host, port = upstream.server_address[:2]
    timeouts = 0
    for _ in range(40):  # a fifth of the calls hang past the 0.3 s client timeout
        try:
            with instrument.track(provider="holysheep", endpoint=CHAT, model="gpt-4.1") as call:
                connection = http.client.HTTPConnection(host, port, timeout=0.3)
                connection.request("POST", "/v1/chat/completions", json.dumps({"model": "gpt-4.1"}))
                response = connection.getresponse()
                call.response(response.status, json.loads(response.read()), dict(response.getheaders()))
        except TimeoutError:
            timeouts += 1
        if timeouts == 2:
            break
    assert timeouts == 2
    got = samples(instrument.registry)
    where = labels(provider="holysheep", endpoint=CHAT, model="gpt-4.1")
    assert got[("holysheep_requests_total", labels(provider="holysheep", endpoint=CHAT, model="gpt-4.1",
                                                   status_code="timeout"))] == 2
    timeouts_le_1s = got[("holysheep_request_duration_seconds_bucket", labels(
        provider="holysheep", endpoint=CHAT, model="gpt-4.1", le="1.0"))]
    assert timeouts_le_1s == got[("holysheep_request_duration_seconds_count", where)]  # none recorded as 60 s
    # The two timeouts took about 0.3 s each (the seed recorded 60 s whatever happened).
    assert got[("holysheep_request_duration_seconds_bucket", labels(
        provider="holysheep", endpoint=CHAT, model="gpt-4.1", le="0.25"))] <= got[
        ("holysheep_request_duration_seconds_count", where)] - 2


@pytest.mark.parametrize("upstream", ["server-errors"], indirect=True)
def test_defect_5_an_http_error_is_observed_once(instrument: Instrument, upstream) -> None:
    seen = 0
    for _ in range(60):
        request = urllib.request.Request(f"{upstream.url}/v1/chat/completions", method="POST",
                                         data=json.dumps({"model": "gpt-4.1"}).encode())
        try:
            with instrument.track(provider="holysheep", endpoint=CHAT, model="gpt-4.1") as call:
                with urllib.request.urlopen(request, timeout=5) as response:  # raises on 4xx and 5xx
                    call.response(response.status, json.load(response), response.headers)
        except urllib.error.HTTPError:
            seen += 1
        if seen == 3:
            break
    got = samples(instrument.registry)
    where = labels(provider="holysheep", endpoint=CHAT, model="gpt-4.1")
    calls = sum(v for (name, lbls), v in got.items() if name == "holysheep_requests_total")
    failed = sum(v for (name, lbls), v in got.items()
                 if name == "holysheep_requests_total" and dict(lbls)["status_code"].startswith("5"))
    assert failed == 3
    assert got[("holysheep_request_duration_seconds_count", where)] == calls  # one observation per call
    # The error's headers still feed the rate-limit gauges.
    assert ("holysheep_ratelimit_limit", labels(provider="holysheep", model="gpt-4.1", resource="requests")) in got


def test_defect_6_metrics_port_is_not_prometheus_or_alertmanager() -> None:
    assert DEFAULT_METRICS_PORT not in (9090, 9093, 9094)
    from holystack.cli import simulate

    import inspect
    assert str(DEFAULT_METRICS_PORT) in str(inspect.signature(simulate).parameters["metrics_port"].default)


def test_defect_7_model_label_is_the_requested_model_folded(instrument: Instrument) -> None:
    body = {"model": served_model("gpt-4.1"), "usage": {"prompt_tokens": 1, "completion_tokens": 1}}
    instrument.record_call(provider="holysheep", endpoint=CHAT, model="gpt-4.1", status=200, seconds=0.1, body=body)
    for name in (f"finetune-{i}" for i in range(50)):
        instrument.record_call(provider="holysheep", endpoint=CHAT, model=name, status=200, seconds=0.1, body=body)
    instrument.record_call(provider="mystery", endpoint="/v1/files/abc123", model="gpt-4.1", status=200, seconds=0.1)
    models = {dict(lbls)["model"] for name, lbls in samples(instrument.registry) if name == "holysheep_requests_total"}
    assert models == {"gpt-4.1", "other"}
    where = {(dict(lbls)["provider"], dict(lbls)["endpoint"])
             for name, lbls in samples(instrument.registry) if name == "holysheep_requests_total"}
    assert ("other", "other") in where


def test_multiprocess_workers_add_up(tmp_path: Path) -> None:
    """Two worker processes record into PROMETHEUS_MULTIPROC_DIR; serve()'s registry sums them."""
    worker = textwrap.dedent(f"""
        from prometheus_client import CollectorRegistry
        from holystack.instrument import Instrument
        instrument = Instrument.from_spec({str(EXAMPLE)!r}, registry=CollectorRegistry(), initialize=False)
        for _ in range(5):
            instrument.record_call(provider="holysheep", endpoint="{CHAT}", model="gpt-4.1", status=200,
                                   seconds=0.5, body={{"usage": {{"prompt_tokens": 10, "completion_tokens": 2}}}},
                                   headers={{"x-ratelimit-remaining-requests": "7"}})
    """)
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for _ in range(2):
        subprocess.run([sys.executable, "-c", worker], env=env, check=True, timeout=60)
    reader = textwrap.dedent("""
        from prometheus_client import generate_latest
        from holystack.instrument.serve import collecting_registry
        print(generate_latest(collecting_registry()).decode())
    """)
    text = subprocess.run([sys.executable, "-c", reader], env=env, check=True, capture_output=True, text=True,
                          timeout=60).stdout
    got = {(s.name, tuple(sorted(s.labels.items()))): s.value
           for f in text_string_to_metric_families(text) for s in f.samples}
    assert got[("holysheep_requests_total", labels(provider="holysheep", endpoint=CHAT, model="gpt-4.1",
                                                   status_code="200"))] == 10
    assert got[("holysheep_tokens_total", labels(provider="holysheep", model="gpt-4.1", token_type="prompt"))] == 100
    assert got[("holysheep_ratelimit_remaining", labels(provider="holysheep", model="gpt-4.1",
                                                        resource="requests"))] == 7
