"""Cost truth: a compressed month-like workload (two 'days' of rising and falling traffic over mixed
models with cached prompts, a prompt price change between them) goes through holystack.instrument
into both the metrics and the PostgreSQL ledger. The month-to-date cost that the real Prometheus
computes from the recording rules, the ledger's sum, and the exact sum of the calls agree within 0.5%:
with the app running before Prometheus starts, and with the app starting after it (its first calls
come before its first scrape, and count)."""
from __future__ import annotations

import math
import random
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from prometheus_client import CollectorRegistry, ProcessCollector

from holystack import render_to
from holystack.instrument import Instrument, serve
from holystack.instrument.ledger import Ledger
from holystack.live.playground import (ENGINES, FAST_RATE_WINDOW, Ports, fast_spec, loopback_spec, restart_prometheus,
                                       start_engine, start_stack, vm_spec, write_spec)
from holystack.model import Duration
from holystack.pipeline import render_files
from holystack.render.sql import SQL_FILE
from holystack.spec import read_spec

from .helpers import prom_query, wait_until

SPEC = Path(__file__).parent / "e2e" / "spec.yaml"
DAY_SECONDS = 12.0   # one compressed day: traffic rises from nothing to PEAK_RPS and falls back
PEAK_RPS = 80.0
BURST = 100
TOLERANCE = 0.005
SETTLE = Duration.parse(FAST_RATE_WINDOW).seconds + 3  # every rate window past the last call, and then some
CHANGED_MODEL, NEW_INPUT = "gpt-4.1-mini", 0.80       # its prompt price doubles between the days

pytestmark = pytest.mark.usefixtures("servers")


def reconcile_spec(ports: Ports) -> dict:
    spec = fast_spec(loopback_spec(read_spec(SPEC), ports))
    spec["models"].append({"name": "claude-haiku-4.5", "prices": {"input": 1.0, "output": 5.0, "cached_input": 0.1}})
    spec["models"].append({"name": "deepseek-v3.2", "prices": {"input": 0.28, "output": 0.42, "cached_input": 0.028}})
    return spec


def one_day(instrument: Instrument, prices: dict, rng: random.Random, models: list[str], burst: int = 0) -> float:
    """Traffic over one compressed day, after burst calls at once; returns the exact cost of its calls
    at the given prices."""
    exact = 0.0
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
            status = 429 if rng.random() < 0.03 else 200
            body = {"usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                              "prompt_tokens_details": {"cached_tokens": cached}}} if status == 200 else None
            instrument.record_call(provider="upstream", endpoint="/embeddings" if embedding else "/chat/completions",
                                   model=model, status=status, seconds=0.2, body=body)
            if status == 200:
                p = prices[model]
                exact += ((prompt - cached) * p["input"] + cached * p["cached_input"] + completion * p["output"]) / 1e6
        time.sleep(0.02)
    return exact


def price_table(spec: dict) -> dict:
    return {m["name"]: {"input": m["prices"]["input"], "output": m["prices"].get("output", 0.0),
                        "cached_input": m["prices"].get("cached_input", m["prices"]["input"])}
            for m in spec["models"]}


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
    with psycopg.connect(database, autocommit=True) as connection:
        connection.execute(render_files(spec_path)[SQL_FILE])
    app = start_app(spec_path, ports) if app_first else None
    ledger = None
    stack = start_stack(spec_path, ports, tmp_path / "work")
    try:
        prometheus = stack.prometheus.url
        # Prometheus has scraped the target a few times: the app up, or not yet there (up 0).
        scraped = 'count(count_over_time(up{job="e2e-app"}[1m]) >= 3)'
        assert wait_until(lambda: prom_query(prometheus, scraped), 30), "timed out"
        if app is None:  # the app starts now, and its first calls come before its first scrape
            app = start_app(spec_path, ports)
        instrument = app[0]
        ledger = Ledger(database, instrument, flush_seconds=0.2)
        rng = random.Random(2026)
        models = [m["name"] for m in spec["models"]]
        # Started after Prometheus, the app serves a burst before its first scrape: a sixth of the
        # day's calls, which the month to date must count.
        exact = one_day(instrument, price_table(spec), rng, models, burst=0 if app_first else BURST)
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

        exact += one_day(instrument, price_table(spec), rng, models)
        time.sleep(SETTLE)
        ledger.close()
        month_to_date = prom_query(prometheus, "e2e_cost_usd:month_to_date")
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
        history = connection.execute("SELECT count(*) FROM e2e.prices WHERE valid_to IS NOT NULL").fetchone()[0]
    prometheus_total = float(month_to_date[0]["value"][1])
    prometheus_by_model = float(by_model[0]["value"][1])
    prometheus_24h = float(last_24h[0]["value"][1])
    print(f"exact ${exact:.6f}  ledger ${float(ledger_total):.6f}  prometheus ${prometheus_total:.6f}"
          f"  by model ${prometheus_by_model:.6f}  24h ${prometheus_24h:.6f}")
    assert history == 1  # the old prompt price of the changed model, closed
    assert priced_rows > 1000
    assert abs(float(ledger_total) - exact) / exact < TOLERANCE
    assert abs(prometheus_total - exact) / exact < TOLERANCE
    # The dashboards' month by model and the trailing 24 h (both days fall in it) add the same steps.
    assert abs(prometheus_by_model - prometheus_total) < 1e-9
    assert abs(prometheus_24h - exact) / exact < TOLERANCE


# The restart experiment on a scaled clock: Prometheus' lookback is 15s instead of 5m, so a stop of 20s
# is past it, as 6 minutes are past 5m (what the steps do depends only on the gap against the lookback).
LOOKBACK = "15s"
DOWN_SECONDS = 20.0
QUIET = 4.0  # seconds without calls around each scrape that decides a phase (1s scrapes)


def stop_and_start(engine: str, stack: Any, spec_path: Path, ports: Ports, workdir: Path) -> None:
    """Prometheus (or vmagent and vmalert) stopped for DOWN_SECONDS, then started on the same data."""
    if engine == "victoriametrics":
        stack.restart_scraping(DOWN_SECONDS)
    else:
        restart_prometheus(stack, spec_path, ports, workdir, DOWN_SECONDS)


def quiet_phase(instrument: Instrument, spec: dict, rng: random.Random, models: list[str]) -> float:
    """One compressed day of traffic, then QUIET seconds without calls; its exact cost."""
    cost = one_day(instrument, price_table(spec), rng, models)
    time.sleep(QUIET)
    return cost


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
    spec = vm_spec(spec) if engine == "victoriametrics" else spec
    spec_path = write_spec(spec, tmp_path / "e2e.yaml")
    with psycopg.connect(database, autocommit=True) as connection:
        connection.execute(render_files(spec_path)[SQL_FILE])
    app = start_app(spec_path, ports)
    instrument, metrics, child = app
    ledger = Ledger(database, instrument, flush_seconds=0.2)
    rng = random.Random(22)
    models = [m["name"] for m in spec["models"]]
    stack = None
    try:
        unseen = quiet_phase(instrument, spec, rng, models)  # before Prometheus
        stack = start_engine(engine, spec_path, ports, tmp_path / "work", fast=True)
        prometheus = stack.prometheus.url
        assert wait_until(lambda: prom_query(prometheus, 'count_over_time(up{job="e2e-app"}[1m]) >= 3'), 30)
        seen = quiet_phase(instrument, spec, rng, models)
        time.sleep(SETTLE)
        before_stop = float(prom_query(prometheus, "e2e_cost_usd:month_to_date")[0]["value"][1])
        # Down for DOWN_SECONDS, with a day of traffic meanwhile.
        down = threading.Thread(target=stop_and_start, args=(engine, stack, spec_path, ports, tmp_path / "work"))
        down.start()
        time.sleep(1)
        unseen += quiet_phase(instrument, spec, rng, models)
        down.join()
        prometheus = stack.prometheus.url
        assert wait_until(lambda: prom_query(prometheus, 'count_over_time(up{job="e2e-app"}[5s]) >= 3'), 30)
        seen += quiet_phase(instrument, spec, rng, models)
        time.sleep(SETTLE)
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
    print(f"ledger ${ledger_total:.6f} (seen ${seen:.6f}, unseen ${unseen:.6f})  month to date ${month_to_date:.6f}"
          f" (${before_stop:.6f} before the stop)  24h ${last_24h:.6f}  largest cost step ${max_cost_step:.6f}"
          f"  largest calls step {max_calls_step[0]['value'][1]} of {calls[0]['value'][1]}")
    assert abs(ledger_total - (seen + unseen)) / ledger_total < TOLERANCE
    assert abs(month_to_date - seen) / seen < TOLERANCE
    assert abs(last_24h - seen) / seen < TOLERANCE
    # No step holds a counter's past (at least a whole day): the largest is one second at the peak, about
    # an eighth of a day (the two days seen are about $1.9 and 1,200 calls).
    assert max_cost_step < seen / 4
    assert float(max_calls_step[0]["value"][1]) < float(calls[0]["value"][1]) / 8
    assert budget_alerts == []
