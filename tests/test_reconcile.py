"""Cost truth: a compressed month-like workload (two 'days' of rising and falling traffic over mixed
models with cache reads and Anthropic cache writes, 5-minute and 1-hour, a prompt price change between
them) goes through holystack.instrument into both the metrics and the PostgreSQL ledger. The
month-to-date cost that the real Prometheus computes from the recording rules, the ledger's sum, and
the exact sum of the calls agree within 0.5%; for the model priced from genai-prices, so does a
fourth column, genai-prices' own calc_price of the same calls. A second run goes through the
transport with retries and a fallback: each billed attempt is priced at the model its provider
served, and failed attempts cost nothing."""
from __future__ import annotations

import math
import random
import signal
import time
from pathlib import Path

import psycopg
import pytest
from prometheus_client import CollectorRegistry

from holystack import pricedata, render_to
from holystack.instrument import Instrument, serve
from holystack.instrument.ledger import Ledger
from holystack.live.playground import FAST_RATE_WINDOW, Ports, fast_spec, loopback_spec, start_stack, write_spec
from holystack.model import Duration
from holystack.pipeline import load_stack, render_files
from holystack.render.sql import SQL_FILE
from holystack.spec import read_spec

from .helpers import prom_query, wait_until

SPEC = Path(__file__).parent / "e2e" / "spec.yaml"
DAY_SECONDS = 12.0   # one compressed day: traffic rises from nothing to PEAK_RPS and falls back
PEAK_RPS = 80.0
TOLERANCE = 0.005
SETTLE = Duration.parse(FAST_RATE_WINDOW).seconds + 3  # every rate window past the last call, and then some
CHANGED_MODEL, NEW_INPUT = "gpt-4.1-mini", 0.80       # its prompt price doubles between the days
# Anthropic's model, priced from genai-prices: its calls carry cache reads and writes (some for 1 hour).
ANTHROPIC, ANTHROPIC_REF = "claude-haiku-4.5", "claude-haiku-4-5"

pytestmark = pytest.mark.usefixtures("servers")


def reconcile_spec(ports: Ports) -> dict:
    spec = fast_spec(loopback_spec(read_spec(SPEC), ports))
    spec["models"].append({"name": ANTHROPIC,
                           "prices": {"from": "genai-prices", "provider": "anthropic", "model": ANTHROPIC_REF}})
    spec["models"].append({"name": "deepseek-v3.2", "prices": {"input": 0.28, "output": 0.42, "cached_input": 0.028}})
    return spec


def anthropic_body(prompt: int, cached: int, written: int, hour: int, completion: int) -> dict:
    """An Anthropic Messages usage: input_tokens excludes the cache reads and writes."""
    return {"type": "message", "usage": {
        "input_tokens": prompt - cached - written, "cache_read_input_tokens": cached,
        "cache_creation_input_tokens": written,
        "cache_creation": {"ephemeral_5m_input_tokens": written - hour, "ephemeral_1h_input_tokens": hour},
        "output_tokens": completion}}


def call_cost(p: dict, prompt: int, cached: int, written: int, hour: int, completion: int) -> float:
    """The README's formula: (prompt - cached - written) x input + cached x cached_input
    + 5-minute writes x cache_write + 1-hour writes x cache_write_1h + completion x output."""
    return ((prompt - cached - written) * p["input"] + cached * p["cached_input"]
            + (written - hour) * p["cache_write"] + hour * p["cache_write_1h"] + completion * p["output"]) / 1e6


class Totals:
    """The exact cost of the calls at the spec's prices, and genai-prices' calc_price of the
    Anthropic model's calls beside the exact cost of the same calls."""

    def __init__(self) -> None:
        self.exact = self.anthropic = self.genai_prices = 0.0
        self.tokens = {"cached_prompt": 0, "cache_write": 0, "cache_write_1h": 0}


def one_day(instrument: Instrument, prices: dict, rng: random.Random, models: list[str], totals: Totals) -> None:
    """Traffic over one compressed day, added to totals at the given prices."""
    started = time.monotonic()
    sent = 0.0
    while (elapsed := time.monotonic() - started) < DAY_SECONDS:
        # calls due so far: the integral of PEAK_RPS * sin(pi t / T)
        due = PEAK_RPS * DAY_SECONDS / math.pi * (1 - math.cos(math.pi * elapsed / DAY_SECONDS))
        while sent < due:
            sent += 1
            model = rng.choice(models)
            embedding = prices[model]["output"] == 0
            prompt = rng.randint(200, 4000)
            cached = 0 if embedding else int(prompt * rng.choice((0, 0, 0.5, 0.9)))
            completion = 0 if embedding else rng.randint(50, 800)
            written = hour = 0
            status = 429 if rng.random() < 0.03 else 200
            if model == ANTHROPIC:
                written = int((prompt - cached) * rng.choice((0, 0.5, 0.8)))
                hour = written * rng.choice((0, 0, 1)) // 2
                body = anthropic_body(prompt, cached, written, hour, completion)
            else:
                body = {"usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                                  "prompt_tokens_details": {"cached_tokens": cached}}}
            instrument.record_call(provider="upstream", endpoint="/embeddings" if embedding else "/chat/completions",
                                   model=model, status=status, seconds=0.2, body=body if status == 200 else None)
            if status == 200:
                cost = call_cost(prices[model], prompt, cached, written, hour, completion)
                totals.exact += cost
                for token_type, count in zip(totals.tokens, (cached, written, hour)):
                    totals.tokens[token_type] += count
                if model == ANTHROPIC:
                    totals.anthropic += cost
                    totals.genai_prices += pricedata.calc_price_usd(
                        ANTHROPIC_REF, "anthropic", prompt=prompt, completion=completion, cached_prompt=cached,
                        cache_write=written, cache_write_1h=hour)
        time.sleep(0.02)


def price_table(spec_path: Path) -> dict:
    """Each model's prices as the spec renders them (genai-prices' resolved), by field."""
    return {m.name: {"input": m.prices.input, "output": m.prices.output,
                     "cached_input": m.prices.effective_cached_input, "cache_write": m.prices.effective_cache_write,
                     "cache_write_1h": m.prices.effective_cache_write_1h}
            for m in load_stack(spec_path).models}


def test_prometheus_ledger_and_exact_sum_agree(tmp_path: Path, database: str) -> None:
    ports = Ports.free()
    spec = reconcile_spec(ports)
    spec_path = write_spec(spec, tmp_path / "e2e.yaml")
    registry = CollectorRegistry()
    instrument = Instrument.from_spec(spec_path, registry=registry)
    metrics, _ = serve(ports.metrics, registry=registry)
    with psycopg.connect(database, autocommit=True) as connection:
        connection.execute(render_files(spec_path)[SQL_FILE])
    ledger = Ledger(database, instrument, flush_seconds=0.2)
    stack = start_stack(spec_path, ports, tmp_path / "work")
    try:
        prometheus = stack.prometheus.url
        scraped = 'count(count_over_time(up{job="e2e-app"}[1m]) >= 3)'
        assert wait_until(lambda: prom_query(prometheus, scraped), 30), "timed out"
        rng = random.Random(2026)
        models = [m["name"] for m in spec["models"]]
        totals = Totals()
        one_day(instrument, price_table(spec_path), rng, models, totals)
        time.sleep(SETTLE)  # day one wholly integrated at the old prices

        # The price change, as a team would ship it: edit the spec, render, reload Prometheus, apply the SQL.
        for model in spec["models"]:
            if model["name"] == CHANGED_MODEL:
                model["prices"]["input"] = NEW_INPUT
        write_spec(spec, spec_path)
        render_to(spec_path, stack.out)
        stack.prometheus.process.send_signal(signal.SIGHUP)
        with psycopg.connect(database, autocommit=True) as connection:
            connection.execute(render_files(spec_path)[SQL_FILE])
        price = (f'model_token_type:e2e_token_price_usd:spec{{model="{CHANGED_MODEL}",token_type="prompt"}}')
        assert wait_until(lambda: any(abs(float(r["value"][1]) - NEW_INPUT / 1e6) < 1e-12
                                      for r in prom_query(prometheus, price)), 30), "timed out"

        one_day(instrument, price_table(spec_path), rng, models, totals)
        time.sleep(SETTLE)
        ledger.close()
        month_to_date = prom_query(prometheus, "e2e_cost_usd:month_to_date")
        anthropic_mtd = prom_query(prometheus, f'sum(provider_model:e2e_cost_usd:month_to_date{{model="{ANTHROPIC}"}})')
        by_model = prom_query(prometheus, "sum(provider_model:e2e_cost_usd:month_to_date)")
        last_24h = prom_query(prometheus, "e2e_cost_usd:increase24h")
    finally:
        stack.stop()
        metrics.shutdown()
        ledger.close()
    with psycopg.connect(database) as connection:
        ledger_total, priced_rows = connection.execute(
            "SELECT sum(cost_usd), count(cost_usd) FROM e2e.calls").fetchone()
        ledger_anthropic, ledger_written, ledger_hour = connection.execute(
            "SELECT sum(cost_usd), sum(cache_write_tokens), sum(cache_write_1h_tokens) FROM e2e.calls WHERE model = %s",
            (ANTHROPIC,)).fetchone()
        monthly = connection.execute("SELECT sum(cost_usd), sum(cache_write_tokens) FROM e2e.monthly_cost").fetchone()
        history = connection.execute("SELECT count(*) FROM e2e.prices WHERE valid_to IS NOT NULL").fetchone()[0]
    exact = totals.exact
    prometheus_total = float(month_to_date[0]["value"][1])
    prometheus_by_model = float(by_model[0]["value"][1])
    prometheus_24h = float(last_24h[0]["value"][1])
    prometheus_anthropic = float(anthropic_mtd[0]["value"][1])
    print(f"all models: exact ${exact:.6f}  ledger ${float(ledger_total):.6f}  prometheus ${prometheus_total:.6f}"
          f"  by model ${prometheus_by_model:.6f}  24h ${prometheus_24h:.6f}")
    print(f"{ANTHROPIC} (genai-prices): exact ${totals.anthropic:.6f}  ledger ${float(ledger_anthropic):.6f}"
          f"  prometheus ${prometheus_anthropic:.6f}  genai-prices calc_price ${totals.genai_prices:.6f}"
          f"  cache tokens of all calls {totals.tokens}")
    # The old prompt price of the changed model, closed, with its cache-write prices (they follow input).
    assert history == 3
    assert priced_rows > 1000
    assert totals.tokens["cache_write"] > 0 and totals.tokens["cache_write_1h"] > 0
    assert (ledger_written, ledger_hour) == (totals.tokens["cache_write"], totals.tokens["cache_write_1h"])
    assert abs(float(monthly[0]) - float(ledger_total)) < 1e-9 and monthly[1] == ledger_written  # the views
    assert abs(float(ledger_total) - exact) / exact < TOLERANCE
    assert abs(prometheus_total - exact) / exact < TOLERANCE
    # The dashboards' month by model and the trailing 24 h (both days fall in it) add the same steps.
    assert abs(prometheus_by_model - prometheus_total) < 1e-9
    assert abs(prometheus_24h - exact) / exact < TOLERANCE
    # The fourth column: genai-prices prices the same calls as the formula, to the rounding of Decimals.
    assert abs(totals.genai_prices - totals.anthropic) < 1e-9
    assert abs(float(ledger_anthropic) - totals.anthropic) / totals.anthropic < TOLERANCE
    assert abs(prometheus_anthropic - totals.genai_prices) / totals.genai_prices < TOLERANCE
