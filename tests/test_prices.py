"""Prices from genai-prices: the month to date that the generated rules compute (in promtool) equals
genai-prices' own calc_price for the same calls, Anthropic's cache writes included; `holystack
prices` names the typed prices that differ; validate warns and never fails on them."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml
from typer.testing import CliRunner

from holystack import pricedata, render_to
from holystack.checks.prices import CHECK_NAME
from holystack.checks.result import WARN
from holystack.cli import app
from holystack.instrument import Instrument
from holystack.pipeline import load_stack
from holystack.layout import PROMETHEUS_DIR, TESTS_DIR
from holystack.series import Series

from .conftest import Cases

ROOT = Path(__file__).parent.parent
PRICED = ROOT / "examples" / "genai-prices.yaml"
REFERENCE = ROOT / "examples" / "holysheep.yaml"
CALLS = 40  # one call per 15s sample, then the counters stay flat
# Per call: (spec model, genai-prices provider and ref, tokens: prompt, completion, cached_prompt,
# cache_write, cache_write_1h). prompt includes the cache reads and writes, as the instrument counts.
CALLS_BY_MODEL = (
    ("claude-haiku-4-5", "anthropic", "claude-haiku-4-5", (12_000, 700, 6_000, 4_000, 1_000)),
    ("sonnet", "anthropic", "claude-sonnet-4-5", (30_000, 1_500, 20_000, 5_000, 2_500)),
    ("gpt-4.1", "openai", "gpt-4.1", (8_000, 900, 4_096, 0, 0)),
)
TOKEN_TYPES = ("prompt", "completion", "cached_prompt", "cache_write", "cache_write_1h")


def _month_to_date_case(out: Path, promtool: str) -> tuple[float, subprocess.CompletedProcess]:
    """A promtool case in the rendered out: CALLS calls of each model, and the month to date expected
    at genai-prices' calc_price of each call (a tier applies per call, as billed)."""
    stack = load_stack(PRICED)
    expected = sum(CALLS * pricedata.calc_price_usd(ref, provider, **dict(zip(TOKEN_TYPES, tokens)))
                   for _, provider, ref, tokens in CALLS_BY_MODEL)
    series = []
    for model, provider, _, tokens in CALLS_BY_MODEL:
        for token_type, per_call in zip(TOKEN_TYPES, tokens):
            if per_call:
                labels = f'provider="{provider}",model="{model}",token_type="{token_type}",job="direct-app"'
                series.append({"series": f"{stack.contract.tokens.name}{{{labels}}}",
                               "values": f"0+{per_call}x{CALLS} {per_call * CALLS}x80"})
    tests = out / PROMETHEUS_DIR / TESTS_DIR
    generated = yaml.safe_load(next(tests.glob("*.test.yml")).read_text("utf-8"))
    month_to_date = Series(stack).cost_month_to_date
    case = {"rule_files": generated["rule_files"], "evaluation_interval": generated["evaluation_interval"],
            "tests": [{"interval": "15s", "input_series": series, "promql_expr_test": [
                # Equal up to float rounding: genai-prices sums Decimals, Prometheus float64s.
                {"expr": f"abs({month_to_date} - {expected!r}) / {expected!r} < bool 1e-12", "eval_time": "30m",
                 "exp_samples": [{"labels": "{}", "value": 1}]}]}]}
    test_file = tests / "genai-prices.test.yml"
    test_file.write_text(yaml.safe_dump(case), "utf-8")
    done = subprocess.run([promtool, "test", "rules", f"{TESTS_DIR}/{test_file.name}"], cwd=out / PROMETHEUS_DIR,
                          capture_output=True, text=True, timeout=120)
    return expected, done


def test_month_to_date_equals_genai_prices_calc_price(tmp_path: Path, promtool: str) -> None:
    render_to(PRICED, tmp_path / "out")
    expected, done = _month_to_date_case(tmp_path / "out", promtool)
    assert done.returncode == 0, done.stdout + done.stderr
    print(f"month to date ${expected:.6f} = genai-prices calc_price of {CALLS} calls per model")


def test_the_case_fails_when_cache_writes_are_priced_at_input(tmp_path: Path, promtool: str) -> None:
    """The comparison can fail: rules that price cache writes at input miss the surcharge."""
    out = tmp_path / "out"
    render_to(PRICED, out)
    for rules in (out / PROMETHEUS_DIR / "rules").glob("*-cost.yml"):
        text = rules.read_text("utf-8")
        assert "token_type: cache_write\n" in text
        rules.write_text(text.replace("token_type: cache_write\n", "token_type: unpriced\n")
                         .replace("token_type: cache_write_1h\n", "token_type: unpriced_1h\n"), "utf-8")
    _, done = _month_to_date_case(out, promtool)
    assert done.returncode != 0 and "got: {} 0" in done.stdout + done.stderr, done.stdout + done.stderr


def test_prices_names_the_reference_spec_typed_prices_that_differ() -> None:
    result = CliRunner().invoke(app, ["prices", str(REFERENCE)])
    assert result.exit_code == 1, result.output
    assert "gpt-4.1: input is 8 in the spec, 2 in genai-prices 0.2.3 (openai/gpt-4.1)" in result.output
    assert "text-embedding-3-small" in result.output and "unknown to genai-prices" in result.output


def test_prices_json_and_a_spec_priced_from_the_data_exit_0() -> None:
    result = CliRunner().invoke(app, ["prices", str(PRICED), "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    by_name = {m["name"]: m for m in report["models"]}
    assert report["genai_prices"] == "0.2.3" and not report["differs"]
    assert by_name["sonnet"]["tiered"] and by_name["sonnet"]["spec"]["cache_write_1h"] == 6.0
    assert by_name["in-house-reranker"]["status"] == "unknown to genai-prices"
    reference = json.loads(CliRunner().invoke(app, ["prices", str(REFERENCE), "--format", "json"]).output)
    gpt = next(m for m in reference["models"] if m["name"] == "gpt-4.1")
    assert {"price": "input", "spec": 8.0, "genai_prices": 2.0} in gpt["differences"]


def test_prices_of_a_bad_spec_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(PRICED.read_text("utf-8").replace("model: claude-sonnet-4-5", "model: nope-1"), "utf-8")
    result = CliRunner().invoke(app, ["prices", str(bad)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "models[1].prices.model" in result.output


def test_validate_warns_on_differing_prices_and_strict_passes(cases: Cases) -> None:
    report = cases.validated("holysheep")  # validate --strict on the reference spec, once per session
    check, = (c for c in report.results if c.name == CHECK_NAME)
    assert check.status == WARN
    assert any("gpt-4.1: input is 8 in the spec, 2 in genai-prices" in f for f in check.findings)
    assert not report.failed, report.table()


def test_instrument_counts_anthropic_cache_writes(tmp_path: Path) -> None:
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry()
    instrument = Instrument.from_spec(PRICED, registry=registry)
    body = {"type": "message", "usage": {"input_tokens": 100, "cache_read_input_tokens": 2_000,
                                         "cache_creation_input_tokens": 3_000,
                                         "cache_creation": {"ephemeral_5m_input_tokens": 1_000,
                                                            "ephemeral_1h_input_tokens": 2_000},
                                         "output_tokens": 50}}
    instrument.record_call(provider="anthropic", endpoint="/messages", model="sonnet", status=200, seconds=0.3,
                           body=body)

    def tokens(token_type: str) -> float | None:
        return registry.get_sample_value("direct_tokens_total", {"provider": "anthropic", "model": "sonnet",
                                                                 "token_type": token_type})

    assert [tokens(t) for t in TOKEN_TYPES] == [5_100, 50, 2_000, 3_000, 2_000]


def test_a_genai_price_outside_holystacks_bounds_is_refused() -> None:
    """genai-prices 0.2.3 has no price between 0 and 0.001 per 1M tokens; a later snapshot might."""
    import dataclasses

    from holystack.model import PriceSource, Prices
    from holystack.semantics import semantic_problems

    stack = load_stack(PRICED)
    tiny = Prices(0.0005, 1.0, None, source=PriceSource(pricedata.SOURCE, "acme", "tiny-1"))
    stack = dataclasses.replace(stack, models=(dataclasses.replace(stack.models[0], prices=tiny), *stack.models[1:]))
    assert semantic_problems(stack) == [(("models", 0, "prices", "from"),
                                         "genai-prices prices input of acme/tiny-1 at 0.0005 USD per 1M tokens, "
                                         "outside 0 or 0.001 to 100000; type the prices by hand")]


def test_the_price_bound_is_the_schemas() -> None:
    from holystack.hygiene import MAX_PRICE
    from holystack.spec import load_schema

    assert MAX_PRICE == load_schema()["$defs"]["usd_per_million"]["maximum"]
