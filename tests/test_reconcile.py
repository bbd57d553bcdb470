"""Cost truth: a compressed month-like workload (two 'days' of rising and falling traffic over mixed
models with cache reads and Anthropic cache writes, 5-minute and 1-hour, a prompt price change between
them) goes through holystack.instrument into both the metrics and the PostgreSQL ledger. The
month-to-date cost that the real Prometheus computes from the recording rules, the ledger's sum, and
the exact sum of the calls agree within 0.5%; for the model priced from genai-prices, so does a
fourth column, genai-prices' own calc_price of the same calls. A second run goes through the
transport with retries and a fallback: each billed attempt is priced at the model its provider
served, and failed attempts cost nothing. The first run goes both ways: with the app running
before Prometheus starts, and with the app starting after it (its first calls come before its
first scrape, and count). A third, the restart experiment, stops Prometheus past its lookback."""
from __future__ import annotations

import collections
import http.server
import json
import math
import random
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Callable

import psycopg
import pytest
from prometheus_client import CollectorRegistry, ProcessCollector

from holystack import pricedata, render_to
from holystack.instrument import Instrument, http_client, serve
from holystack.instrument.ledger import Ledger
from holystack.live.playground import (ENGINES, FAST_SCRAPE, Ports, engine_spec, fast_spec, loopback_spec,
                                       restart_prometheus, start_engine, start_stack, write_spec)
from holystack.model import Duration
from holystack.pipeline import load_stack
from holystack.render.sql import SQL_FILE, render_sql
from holystack.spec import read_spec

from .helpers import prom_query, query_until, wait_until

SPEC = Path(__file__).parent / "e2e" / "spec.yaml"
# One compressed day: traffic rises from nothing to PEAK_RPS and falls back, about 610 calls
# (PEAK_RPS x DAY_SECONDS x 2/pi). A day is many 1s scrapes and evaluations: what the steps count
# depends on the scrapes, not on the day's length.
DAY_SECONDS = 8.0
PEAK_RPS = 120.0
BURST = 100
TOLERANCE = 0.005
# Seconds for what a server shows once the mechanism has run (scrapes, a reload, the steps' first
# evaluation): each wait ends as soon as it shows, so the bound costs only a failing run.
DEADLINE = 30.0
# The steps read the counters one scrape interval in the past (their lag); on vmalert each later link
# of the chain reads the one before one evaluation back (the total reads the steps by model, the
# month to date the total: rulers.read_previous_evaluation), so it holds a step CHAIN evaluations later.
SCRAPE_LAG = EVALUATION = Duration.parse(FAST_SCRAPE).seconds  # fast_spec: 1s scrapes and evaluations
CHAIN = 2 * EVALUATION
MONTH_TO_DATE, LAST_24H = "e2e_cost_usd:month_to_date", "e2e_cost_usd:increase24h"
MONTH_BY_MODEL = "provider_model:e2e_cost_usd:month_to_date"
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


def settle(prometheus: str, since: float, recordings: tuple[str, ...] = (MONTH_TO_DATE,), daily: bool = False) -> None:
    """Return once the recordings hold every call made before since (time.time()), as the mechanism orders
    it: a scrape of the app that succeeded after since holds those calls; a step evaluated SCRAPE_LAG
    after that scrape, and after it was there to read, counts them, and the recordings evaluated CHAIN
    after that step hold it (recordings: every series the test reads); with daily, the trailing 24 h
    evaluated an evaluation after the month to date, and after that was written, sums them too. Each
    wait ends as soon as it holds: a loaded machine's late scrape or evaluation makes it wait longer,
    never read early."""
    app = 'up{job="e2e-app"}'
    scraped = float(query_until(prometheus, DEADLINE, f"timestamp({app}) > {since:.3f} and {app} == 1")[0]["value"][1])
    stepped_after = max(scraped + SCRAPE_LAG, time.time()) + CHAIN
    for series in recordings:
        query_until(prometheus, DEADLINE, f"min(timestamp({series})) >= {stepped_after:.3f}")
    if daily:
        step = float(query_until(prometheus, DEADLINE, f"timestamp({MONTH_TO_DATE})")[0]["value"][1])
        summed_after = max(step + EVALUATION, time.time())
        query_until(prometheus, DEADLINE, f"timestamp({LAST_24H}) >= {summed_after:.3f}")


def ledger_sql(spec_path: Path) -> str:
    """The ledger's schema and price table as render writes them (OUT/sql/billing.sql), rendered alone."""
    return render_sql(load_stack(spec_path))[SQL_FILE]


def apply_sql(database: str, sql: str) -> None:
    with psycopg.connect(database, autocommit=True) as connection:
        connection.execute(sql)


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


def one_day(instrument: Instrument, prices: dict, rng: random.Random, models: list[str], totals: Totals,
            burst: int = 0) -> None:
    """Traffic over one compressed day, after burst calls at once, added to totals at the given prices."""
    started = time.monotonic()
    sent = -float(burst)
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


def start_app(spec_path: Path, ports: Ports) -> tuple[Instrument, Any, subprocess.Popen]:
    """The app: its registry, metrics server and Instrument. The app runs in this process, which
    started long before; a child process started now stands for its process start time
    (process_start_time_seconds), which the counter steps read to count an app Prometheus never saw."""
    registry = CollectorRegistry()
    child = subprocess.Popen(["sleep", "3600"])
    ProcessCollector(pid=lambda: child.pid, registry=registry)
    instrument = Instrument.from_spec(spec_path, registry=registry)
    metrics, _ = serve(ports.metrics, registry=registry)
    return instrument, metrics, child


@pytest.mark.parametrize("app_first", [True, False], ids=["app-before-prometheus", "app-after-prometheus"])
def test_prometheus_ledger_and_exact_sum_agree(tmp_path: Path, database: str, app_first: bool) -> None:
    ports = Ports.free()
    spec = reconcile_spec(ports)
    spec_path = write_spec(spec, tmp_path / "e2e.yaml")
    apply_sql(database, ledger_sql(spec_path))
    app = start_app(spec_path, ports) if app_first else None
    ledger = None
    stack = start_stack(spec_path, ports, tmp_path / "work")
    try:
        prometheus = stack.prometheus.url
        # Prometheus has scraped the target a few times: the app up, or not yet there (up 0).
        scraped = 'count(count_over_time(up{job="e2e-app"}[1m]) >= 3)'
        assert wait_until(lambda: prom_query(prometheus, scraped), DEADLINE), "timed out"
        if app is None:  # the app starts now, and its first calls come before its first scrape
            app = start_app(spec_path, ports)
        instrument = app[0]
        ledger = Ledger(database, instrument, flush_seconds=0.2)
        rng = random.Random(2026)
        models = [m["name"] for m in spec["models"]]
        totals = Totals()
        # Started after Prometheus, the app serves a burst before its first scrape: a sixth of the
        # day's calls, which the month to date must count.
        one_day(instrument, price_table(spec_path), rng, models, totals, burst=0 if app_first else BURST)
        settle(prometheus, time.time(), (MONTH_TO_DATE, MONTH_BY_MODEL))  # day one wholly counted at the old prices

        # The price change, as a team would ship it: edit the spec, render, reload Prometheus, apply the SQL.
        for model in spec["models"]:
            if model["name"] == CHANGED_MODEL:
                model["prices"]["input"] = NEW_INPUT
        write_spec(spec, spec_path)
        render_to(spec_path, stack.out)
        stack.prometheus.process.send_signal(signal.SIGHUP)
        apply_sql(database, (stack.out / SQL_FILE).read_text("utf-8"))  # as rendered
        price = (f'model_token_type:e2e_token_price_usd:spec{{model="{CHANGED_MODEL}",token_type="prompt"}}')
        assert wait_until(lambda: any(abs(float(r["value"][1]) - NEW_INPUT / 1e6) < 1e-12
                                      for r in prom_query(prometheus, price)), DEADLINE), "timed out"

        one_day(instrument, price_table(spec_path), rng, models, totals)
        settle(prometheus, time.time(), (MONTH_TO_DATE, MONTH_BY_MODEL), daily=True)
        ledger.close()
        month_to_date = prom_query(prometheus, "e2e_cost_usd:month_to_date")
        anthropic_mtd = prom_query(prometheus, f'sum(provider_model:e2e_cost_usd:month_to_date{{model="{ANTHROPIC}"}})')
        by_model = prom_query(prometheus, "sum(provider_model:e2e_cost_usd:month_to_date)")
        last_24h = prom_query(prometheus, "e2e_cost_usd:increase24h")
    finally:
        stack.stop()
        if app is not None:
            _, metrics, child = app
            metrics.shutdown()
            child.kill()
            child.wait()
        if ledger is not None:
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


# --- through the transport: retries and a fallback -------------------------------------------------
PRIMARY, BACKUP, MESSAGES = "primary", "backup", "/messages"
SONNET, SONNET_REF = "claude-sonnet-4.5", "claude-sonnet-4-5"  # falls back to ANTHROPIC at the backup
TRANSPORT_CALLS = 600
# What the primary answers to the attempts of one call, drawn per call; the backup answers 200.
PLANS = ((200,), (429, 200), (500, 200), (429, 429, 200), (500, 500, 500))
PLAN_WEIGHTS = (70, 12, 6, 4, 8)


class Billed:
    """What the fake Anthropic API served and billed: one entry per 200, (provider, model, usage)."""

    def __init__(self, seed: int) -> None:
        self.rng, self.lock = random.Random(seed), threading.Lock()
        self.plans: dict[str, tuple[int, ...]] = {}
        self.seen: collections.Counter[tuple[str, str]] = collections.Counter()
        self.served: list[tuple[str, str, tuple[int, int, int, int, int]]] = []
        self.failed = 0

    def answer(self, provider: str, call: str, model: str) -> tuple[int, dict]:
        with self.lock:
            attempt = self.seen[(provider, call)]
            self.seen[(provider, call)] += 1
            plan = self.plans[call] if provider == PRIMARY else (200,)
            status = plan[min(attempt, len(plan) - 1)]
            if status != 200:
                self.failed += 1
                return status, {"type": "error", "error": {"type": "overloaded_error", "message": "try again"}}
            prompt = self.rng.randint(1000, 20_000)
            cached = int(prompt * self.rng.choice((0, 0.3, 0.7)))
            written = int((prompt - cached) * self.rng.choice((0, 0.4, 0.9)))
            hour = written * self.rng.choice((0, 1)) // 3
            completion = self.rng.randint(20, 900)
            self.served.append((provider, model, (prompt, cached, written, hour, completion)))
        body = anthropic_body(prompt, cached, written, hour, completion)
        return 200, {**body, "id": f"msg_{call}_{provider}_{attempt}", "model": model, "role": "assistant",
                     "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn"}


def fake_anthropic(billed: Billed) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            request = json.loads(self.rfile.read(int(self.headers["content-length"])))
            status, body = billed.answer(self.path.split("/")[1], self.headers["x-test-call"], request["model"])
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            if status == 429:
                self.send_header("retry-after-ms", "1")
            self.end_headers()
            self.wfile.write(payload)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def transport_spec(ports: Ports) -> dict:
    spec = fast_spec(loopback_spec(read_spec(SPEC), ports))
    spec["providers"] = [{"name": PRIMARY, "timeout": "2s"}, {"name": BACKUP, "timeout": "2s"}]
    spec["endpoints"] = [{"path": MESSAGES, "availability": 99.9}]
    spec["models"] = [
        {"name": SONNET, "prices": {"from": "genai-prices", "provider": "anthropic", "model": SONNET_REF}},
        {"name": ANTHROPIC, "prices": {"from": "genai-prices", "provider": "anthropic", "model": ANTHROPIC_REF}}]
    # A breaker that stays closed: every failing call retries, then moves along the fallback edge.
    spec["resilience"] = {"retry": {"max_attempts": 3, "backoff_base": "1ms", "backoff_cap": "5ms"},
                          "breaker": {"enabled": False},
                          "fallbacks": [{"from": PRIMARY, "to": BACKUP, "models": {SONNET: ANTHROPIC}}]}
    return spec


def test_through_the_transport_each_billed_attempt_is_priced_and_failed_ones_cost_nothing(
        tmp_path: Path, database: str) -> None:
    ports = Ports.free()
    spec_path = write_spec(transport_spec(ports), tmp_path / "e2e.yaml")
    registry = CollectorRegistry()
    instrument = Instrument.from_spec(spec_path, registry=registry)
    metrics, _ = serve(ports.metrics, registry=registry)
    apply_sql(database, ledger_sql(spec_path))
    ledger = Ledger(database, instrument, flush_seconds=0.2)
    billed = Billed(2027)
    upstream = fake_anthropic(billed)
    base = f"http://127.0.0.1:{upstream.server_address[1]}"
    urls = {PRIMARY: f"{base}/{PRIMARY}/v1", BACKUP: f"{base}/{BACKUP}/v1"}
    stack = start_stack(spec_path, ports, tmp_path / "work")
    try:
        prometheus = stack.prometheus.url
        scraped = 'count(count_over_time(up{job="e2e-app"}[1m]) >= 3)'
        assert wait_until(lambda: prom_query(prometheus, scraped), DEADLINE), "timed out"
        rng = random.Random(7)
        with http_client(instrument, provider=PRIMARY, base_urls=urls, sleep=lambda seconds: None,
                         library="httpx") as client:
            for index in range(TRANSPORT_CALLS):
                call = str(index)
                billed.plans[call] = rng.choices(PLANS, PLAN_WEIGHTS)[0]
                model = rng.choice((SONNET, ANTHROPIC))
                answer = client.post(urls[PRIMARY] + MESSAGES, headers={"x-test-call": call},
                                     json={"model": model, "max_tokens": 100, "messages": [{"role": "user",
                                                                                             "content": "hi"}]})
                assert answer.status_code == 200
        settle(prometheus, time.time(), (MONTH_TO_DATE, MONTH_BY_MODEL))
        ledger.close()
        month_to_date = prom_query(prometheus, "e2e_cost_usd:month_to_date")
        by_provider = {r["metric"]["provider"]: float(r["value"][1]) for r in prom_query(
            prometheus, "sum by (provider) (provider_model:e2e_cost_usd:month_to_date)")}
    finally:
        stack.stop()
        metrics.shutdown()
        ledger.close()
        upstream.shutdown()
    prices = price_table(spec_path)
    refs = {SONNET: SONNET_REF, ANTHROPIC: ANTHROPIC_REF}
    exact = genai = 0.0
    exact_by_provider: collections.Counter[str] = collections.Counter()
    for provider, model, (prompt, cached, written, hour, completion) in billed.served:
        cost = call_cost(prices[model], prompt, cached, written, hour, completion)
        exact += cost
        exact_by_provider[provider] += cost
        genai += pricedata.calc_price_usd(refs[model], "anthropic", prompt=prompt, completion=completion,
                                          cached_prompt=cached, cache_write=written, cache_write_1h=hour)
    with psycopg.connect(database) as connection:
        ledger_total, rows = connection.execute("SELECT sum(cost_usd), count(*) FROM e2e.calls").fetchone()
        failed_rows, failed_cost = connection.execute(
            "SELECT count(*), coalesce(sum(cost_usd), 0) FROM e2e.calls WHERE status <> '200'").fetchone()
    prometheus_total = float(month_to_date[0]["value"][1])
    fell_back = sum(1 for plan in billed.plans.values() if plan == PLANS[-1])
    print(f"transport: {TRANSPORT_CALLS} calls, {billed.failed} failed attempts, {fell_back} fallbacks, "
          f"{len(billed.served)} billed: exact ${exact:.6f}  ledger ${float(ledger_total):.6f}"
          f"  prometheus ${prometheus_total:.6f}  genai-prices calc_price ${genai:.6f}"
          f"  by provider {dict(exact_by_provider)} vs prometheus {by_provider}")
    assert len(billed.served) == TRANSPORT_CALLS and billed.failed > 100 and fell_back > 10
    assert rows == TRANSPORT_CALLS + billed.failed  # every attempt is a row
    assert failed_rows == billed.failed and failed_cost == 0  # a failed attempt costs nothing
    assert abs(genai - exact) < 1e-9
    assert abs(float(ledger_total) - exact) < 1e-9 * rows + 1e-12
    assert abs(prometheus_total - exact) / exact < TOLERANCE
    for provider in (PRIMARY, BACKUP):  # each billed attempt lands on the provider that billed it
        assert abs(by_provider[provider] - exact_by_provider[provider]) / exact_by_provider[provider] < TOLERANCE


# The restart experiment on a scaled clock: Prometheus' lookback is 10s instead of 5m, so a stop of 14s
# is past it, as 7 minutes are past 5m (what the steps do depends only on the gap against the lookback;
# a loaded machine only makes the gap longer).
LOOKBACK = "10s"
DOWN_SECONDS = 14.0


def stop_and_start(engine: str, stack: Any, spec_path: Path, ports: Ports, workdir: Path,
                   while_down: Callable[[], None]) -> None:
    """Prometheus (or vmagent and vmalert) stopped, while_down called, then started on the same data."""
    if engine == "victoriametrics":
        stack.restart_scraping(while_down)
    else:
        restart_prometheus(stack, spec_path, ports, workdir, while_down)


def day_phase(instrument: Instrument, spec_path: Path, rng: random.Random, models: list[str]) -> float:
    """One compressed day of traffic; its exact cost. Each phase is bounded by what decides it: the
    first scrapes of a (re)started Prometheus come after it, settle or the stop after its last call."""
    totals = Totals()
    one_day(instrument, price_table(spec_path), rng, models, totals)
    return totals.exact


@pytest.mark.parametrize("engine", ENGINES)
def test_late_start_and_restart_count_only_what_prometheus_saw(tmp_path: Path, database: str, engine: str) -> None:
    """The app serves a day before Prometheus starts; then a day Prometheus sees; then a day while
    Prometheus is stopped for longer than its lookback; then a day after it came back on the same data.
    The month to date holds exactly the two days Prometheus saw (the gap past the lookback counts
    nothing), no step holds a counter's past, and no budget alert fires: the daily budget sits
    between the seen days and all four. On VictoriaMetrics, vmagent and vmalert stop and start again
    (VictoriaMetrics keeps the data, as Prometheus' data directory does)."""
    ports = Ports.free()
    spec = reconcile_spec(ports)
    spec["scrape"]["lookback"] = LOOKBACK
    spec["thresholds"]["budget"] = {"daily_usd": 3.0}  # a day costs about $0.95
    spec = engine_spec(engine, spec)
    spec_path = write_spec(spec, tmp_path / "e2e.yaml")
    apply_sql(database, ledger_sql(spec_path))
    app = start_app(spec_path, ports)
    instrument, metrics, child = app
    ledger = Ledger(database, instrument, flush_seconds=0.2)
    rng = random.Random(22)
    models = [m["name"] for m in spec["models"]]
    stack = None
    unseen: list[float] = []

    def while_down() -> None:
        """A day of traffic while Prometheus is stopped, which stays stopped DOWN_SECONDS at least."""
        stopped = time.monotonic()
        unseen.append(day_phase(instrument, spec_path, rng, models))
        time.sleep(max(0.0, DOWN_SECONDS - (time.monotonic() - stopped)))

    try:
        # The day before Prometheus, while the stack renders and Alertmanager starts: nothing scrapes before it ends.
        stack = start_engine(engine, spec_path, ports, tmp_path / "work", True,
                             lambda: unseen.append(day_phase(instrument, spec_path, rng, models)))
        prometheus = stack.prometheus.url
        assert wait_until(lambda: prom_query(prometheus, 'count_over_time(up{job="e2e-app"}[1m]) >= 3'), DEADLINE)
        seen = day_phase(instrument, spec_path, rng, models)
        settle(prometheus, time.time())
        before_stop = float(prom_query(prometheus, "e2e_cost_usd:month_to_date")[0]["value"][1])
        stop_and_start(engine, stack, spec_path, ports, tmp_path / "work", while_down)
        prometheus = stack.prometheus.url
        assert wait_until(lambda: prom_query(prometheus, 'count_over_time(up{job="e2e-app"}[5s]) >= 3'), DEADLINE)
        seen += day_phase(instrument, spec_path, rng, models)
        settle(prometheus, time.time(), daily=True)
        ledger.close()
        month_to_date = float(prom_query(prometheus, "e2e_cost_usd:month_to_date")[0]["value"][1])
        last_24h = float(prom_query(prometheus, "e2e_cost_usd:increase24h")[0]["value"][1])
        window = "[5m]"
        max_cost_step = float(prom_query(prometheus, f"max_over_time(e2e_cost_usd:increase_step{window})")[0]["value"][1])
        calls = prom_query(prometheus, f"sum(sum_over_time(endpoint:e2e_calls:increase_step{window}))")
        max_calls_step = prom_query(prometheus, f"max(max_over_time(endpoint:e2e_calls:increase_step{window}))")
        budget_alerts = prom_query(prometheus, 'max_over_time(ALERTS{alertname=~"E2E.*Budget.*"}[5m])')
    finally:
        if stack is not None:
            stack.stop()
        metrics.shutdown()
        child.kill()
        child.wait()
        ledger.close()
    with psycopg.connect(database) as connection:
        ledger_total = float(connection.execute("SELECT sum(cost_usd) FROM e2e.calls").fetchone()[0])
    unseen_total = sum(unseen)
    print(f"ledger ${ledger_total:.6f} (seen ${seen:.6f}, unseen ${unseen_total:.6f})"
          f"  month to date ${month_to_date:.6f}"
          f" (${before_stop:.6f} before the stop)  24h ${last_24h:.6f}  largest cost step ${max_cost_step:.6f}"
          f"  largest calls step {max_calls_step[0]['value'][1]} of {calls[0]['value'][1]}")
    assert abs(ledger_total - (seen + unseen_total)) / ledger_total < TOLERANCE
    assert abs(month_to_date - seen) / seen < TOLERANCE
    assert abs(last_24h - seen) / seen < TOLERANCE
    # No step holds a counter's past (at least a whole day, half of the two days seen): the largest is
    # one second at the peak, about a tenth of the two days (about $1.9 and 1,200 calls), or a few
    # seconds' worth where a loaded machine delayed a scrape.
    assert max_cost_step < seen / 4
    assert float(max_calls_step[0]["value"][1]) < float(calls[0]["value"][1]) / 4
    assert budget_alerts == []


# Scrapes failing for less than the lookback (10s on the scaled clock): the metrics server down this long,
# from a quarter into the day to its end.
FAIL_SECONDS = 6.0


def fail_scrapes(app: list[Any], port: int, seconds: float) -> None:
    """Close the app's metrics server (every scrape fails: up 0, a staleness marker on every series),
    and serve the same registry on the same port again after seconds."""
    instrument, metrics = app[0], app[1]
    metrics.shutdown()
    metrics.server_close()
    time.sleep(seconds)
    app[1], _ = serve(port, registry=instrument.registry)


@pytest.mark.parametrize("engine", ENGINES)
def test_failed_scrapes_within_the_lookback_count_their_increase(tmp_path: Path, database: str, engine: str) -> None:
    """In the middle of a compressed day the app's metrics server stops answering for FAIL_SECONDS,
    less than the lookback: every scrape meanwhile fails, and Prometheus (vmagent) marks every series
    of the target stale. The increase across the failure counts once, at its true size: the month to
    date holds the whole day, as the ledger and the exact sum do."""
    ports = Ports.free()
    spec = reconcile_spec(ports)
    spec["scrape"]["lookback"] = LOOKBACK
    spec = engine_spec(engine, spec)
    spec_path = write_spec(spec, tmp_path / "e2e.yaml")
    apply_sql(database, ledger_sql(spec_path))
    app = list(start_app(spec_path, ports))
    instrument = app[0]
    ledger = Ledger(database, instrument, flush_seconds=0.2)
    stack = None
    try:
        stack = start_engine(engine, spec_path, ports, tmp_path / "work", fast=True)
        prometheus = stack.prometheus.url
        assert wait_until(lambda: prom_query(prometheus, 'count_over_time(up{job="e2e-app"}[1m]) >= 3'), DEADLINE)
        assert wait_until(lambda: prom_query(prometheus, "e2e_cost_usd:month_to_date"), DEADLINE)  # the steps run
        totals = Totals()
        failing = threading.Timer(DAY_SECONDS / 4, fail_scrapes, args=(app, ports.metrics, FAIL_SECONDS))
        failing.start()
        one_day(instrument, price_table(spec_path), random.Random(17), [m["name"] for m in spec["models"]], totals)
        failing.join()
        settle(prometheus, time.time())
        ledger.close()
        month_to_date = float(prom_query(prometheus, "e2e_cost_usd:month_to_date")[0]["value"][1])
        up = 'up{job="e2e-app"}[2m]'
        failed = prom_query(prometheus, f"count_over_time({up}) - sum_over_time({up})")  # the up samples at 0
    finally:
        if stack is not None:
            stack.stop()
        app[1].shutdown()
        app[2].kill()
        app[2].wait()
        ledger.close()
    with psycopg.connect(database) as connection:
        ledger_total = float(connection.execute("SELECT sum(cost_usd) FROM e2e.calls").fetchone()[0])
    failures = float(failed[0]["value"][1]) if failed else 0.0
    print(f"{engine}: {failures:g} failed scrapes; exact ${totals.exact:.6f}  ledger ${ledger_total:.6f}"
          f"  month to date ${month_to_date:.6f}")
    assert failures >= FAIL_SECONDS - 3  # the scrapes did fail, about one a second, for most of the gap
    assert abs(ledger_total - totals.exact) / totals.exact < TOLERANCE
    assert abs(month_to_date - totals.exact) / totals.exact < TOLERANCE
