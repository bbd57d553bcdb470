"""The rules for windows longer than the base rate window (long SLO windows, the error budget, the
24 h budget, the forecast, month to date) read as many samples for a spec with 2 models as for one
with 40: they read recorded per-endpoint or total steps, never the raw series.

Two specs that differ only in their models get two hours of raw history, backfilled with
`promtool tsdb create-blocks-from openmetrics`; the recordings the long windows read are backfilled
with `promtool tsdb create-blocks-from rules`; a real Prometheus on each evaluates every long-window
rule and alert with stats=all, and totalQueryableSamples must be equal."""
from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from holystack import render_to
from holystack.checks import promql_ast as ast
from holystack.live.backfill import Backfilled, Traffic, backfill_openmetrics, contract_lines, recording_levels, \
    rule_groups, write_lines
from holystack.live.playground import write_spec
from holystack.pipeline import load_stack
from holystack.render.recording import dashboard_only_records
from holystack.spec import read_spec

from .conftest import EXAMPLE

MODELS = (2, 40)
HISTORY_SECONDS = 2 * 3600  # the failure episode (the second hour) and 480 evaluations of the steps
RESOLUTION_SECONDS = 30
EVALUATION_SECONDS = 15  # the example's evaluation_interval
TARGET = {"job": "holysheep-app", "instance": "a:9464"}

pytestmark = pytest.mark.usefixtures("servers", "promtool")


def longest_range_ms(expr: str) -> int:
    tree = ast.parse(expr)
    return max((int(n.range.total_seconds() * 1000) for n in ast.walk(tree) if ast.kind(n) == "MatrixSelector"),
               default=0)


def long_window_rules(groups: list[dict[str, Any]], base_ms: int, dashboards_only: set[str]) -> dict[str, str]:
    """name -> expression of every rule (recording or alert) over a window longer than base_ms, or
    reading a recorded series that is; without the recordings only dashboards read."""
    rules = [r for g in groups for r in g["rules"]]
    long_records: set[str] = set()
    while True:
        found = {r["record"] for r in rules if "record" in r and r["record"] not in dashboards_only
                 and (longest_range_ms(r["expr"]) > base_ms or ast.selector_names(ast.parse(r["expr"])) & long_records)}
        if found <= long_records:
            break
        long_records |= found
    out: dict[str, str] = {}
    for rule in rules:
        reads = ast.selector_names(ast.parse(rule["expr"]))
        if rule.get("record") in long_records or ("alert" in rule and reads & long_records):
            name = rule.get("record") or rule["alert"]
            out[f"{name} #{sum(key.startswith(name + ' #') for key in out) + 1}"] = rule["expr"]
    return out


def needed_by(groups: list[dict[str, Any]], exprs: list[str]) -> set[str]:
    """The recorded series the expressions read, directly or through other recordings."""
    by_name: dict[str, list[str]] = {}
    for group in groups:
        for rule in group["rules"]:
            if "record" in rule:
                by_name.setdefault(rule["record"], []).append(rule["expr"])
    needed: set[str] = set()
    todo = [name for expr in exprs for name in ast.selector_names(ast.parse(expr))]
    while todo:
        name = todo.pop()
        if name in by_name and name not in needed:
            needed.add(name)
            todo += [n for expr in by_name[name] for n in ast.selector_names(ast.parse(expr))]
    return needed


def samples_read(url: str, expr: str, at: int) -> int:
    query = urllib.parse.urlencode({"query": expr, "time": at, "stats": "all"})
    with urllib.request.urlopen(f"{url}/api/v1/query?{query}", timeout=60) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    return int(body["data"]["stats"]["samples"]["totalQueryableSamples"])


def measure(tmp: Path, models: int, start: int) -> tuple[dict[str, int], int]:
    data = read_spec(EXAMPLE)
    data["scrape"]["jobs"][0]["interval"] = f"{RESOLUTION_SECONDS}s"  # the history is what this scrape saw
    data["models"] = [{"name": f"model-{i:02d}", "prices": {"input": 1.0 + i, "output": 2.0, "cached_input": 0.5}}
                      for i in range(models)]
    spec = write_spec(data, tmp / "spec.yaml")
    render_to(spec, tmp / "out")
    stack = load_stack(spec)
    groups = rule_groups(tmp / "out" / "prometheus" / "rules")
    dashboards_only = dashboard_only_records(stack)
    # Left out of the comparison, so no alert may read them, not even through another recording.
    alerts = [r["expr"] for g in groups for r in g["rules"] if "alert" in r]
    assert not needed_by(groups, alerts) & dashboards_only
    long_rules = long_window_rules(groups, stack.rate_window.ms, dashboards_only)
    samples = HISTORY_SECONDS // RESOLUTION_SECONDS + 1
    end = start + HISTORY_SECONDS
    traffic = Traffic(failed_share=lambda t: 0.2 if 3600 <= t < 4200 else 0.01, latency_buckets=False)
    backfill_openmetrics(write_lines(contract_lines(stack, start, samples, RESOLUTION_SECONDS, traffic, TARGET),
                                     tmp / "history.om"), tmp / "prometheus-data")
    prometheus = Backfilled(tmp)
    try:
        prometheus.start()
        needed = needed_by(groups, list(long_rules.values()))
        # The recordings the long windows read: the steps (and the prices the cost steps need).
        prometheus.backfill_levels(recording_levels(groups, lambda r: r["record"] in needed
                                                    and longest_range_ms(r["expr"]) <= stack.rate_window.ms),
                                   start, end)
        return {name: samples_read(prometheus.url, expr, end) for name, expr in long_rules.items()}, len(long_rules)
    finally:
        prometheus.stop()


def test_long_window_rules_read_the_same_samples_for_2_and_40_models(tmp_path: Path) -> None:
    start = (int(time.time()) // 3600 - 6) * 3600
    few, count = measure(tmp_path / "few", MODELS[0], start)
    many, _ = measure(tmp_path / "many", MODELS[1], start)
    width = max(len(name) for name in few)
    for name in few:
        print(f"{name.ljust(width)}  {few[name]:>9}  {many.get(name, -1):>9}")
    assert count >= 10  # SLO windows of a day and more, budget left, 24 h, month to date, forecast, burn alerts
    # The windows read real recorded history: 30 days of steps hold the whole backfilled span, but
    # for the first steps of each endpoint: until the steps' earlier sample (a scrape and an
    # evaluation back) is in the history, and the first of those (a counter first seen counts
    # nothing: the history has no up series before its first sample).
    slo_30d = next(v for k, v in few.items() if k.startswith("endpoint:holysheep_calls:rate30d"))
    unseen = (RESOLUTION_SECONDS + EVALUATION_SECONDS) // EVALUATION_SECONDS + 1
    assert slo_30d >= 2 * (HISTORY_SECONDS // EVALUATION_SECONDS - unseen), few
    assert few == many
