"""Scale benchmark (issues 9 and 15): the rendered rules of a 5 providers x 8 endpoints x 60 models
spec (2,400 combinations) on a real Prometheus 2.42 with hours of backfilled history, once for each
registered metric source (holystack.sources.SOURCE_MODULES; --sources picks some): the spec is moved onto
the source (holystack.live.onto), and the raw series backfilled and served are the ones the source
emits for the same traffic (Source.emitted).

Set-up, in a temporary folder (removed at the end):
- raw history: request counters (200 and 503 per combination) and token counters, 6 hours at
  15-second resolution (the scrape interval: as dense as a live scrape), with three failure episodes, written as OpenMetrics and loaded with
  `promtool tsdb create-blocks-from openmetrics`. Latency histograms are served live only (the
  bucket rules read the last 5 minutes); a day of them at this scale would triple the backfill.
- recorded history: every recording rule promtool can backfill (not the two month-to-date rules,
  which read their own past, nor the per-call ratios, which only the ratio alerts read over the
  base window), level by level with `promtool tsdb create-blocks-from rules`
  at the groups' own intervals, against a Prometheus on the raw history;
- live: a synthetic exporter on loopback serves the whole contract (requests, histograms with
  _sum/_count, tokens, rate-limit gauges), and the real Prometheus, default --query.max-samples,
  scrapes it and evaluates the rendered rules for LIVE_SECONDS.

It prints evaluation failures and the median and last duration of each group (as a share of its
interval, with the load average: on a shared machine the durations follow the load),
head series with and without the rules' series, the samples one evaluation of each rule reads at two
history lengths, and for each dashboard the samples all its targets read over 1 hour and over the
whole history against hand-written raw equivalents of the same panels (on the holystack source,
whose contract they are written in). At the end, one line of goals per source. Run it under
`nice -n 10`:

    nice -n 10 .venv/bin/python bench/scale.py [--sources holystack,otel-genai]
"""
from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from holystack import contract as c
from holystack.live.backfill import (Backfilled, Traffic, backfill_openmetrics, contract_lines, emitted_series,
                                     recording_levels, rule_groups, write_lines)
from holystack.live.onto import source_class, spec_on_source
from holystack.live.playground import Ports, loopback_spec, write_spec
from holystack.pipeline import load_stack, render_to
from holystack.render.text import panel_text
from holystack.series import CALL_LABELS
from holystack.sources import DEFAULT_SOURCE, source_names
from holystack.spec import read_spec

ROOT = Path(__file__).resolve().parent.parent
PROVIDERS, ENDPOINTS, MODELS = 5, 8, 60
HISTORY_SECONDS = 6 * 3600
RESOLUTION_SECONDS = 15  # the scrape interval: raw history as dense as a live scrape
LIVE_SECONDS = 150
POINTS = 120  # points of a time series panel: the step is the range / POINTS, at least 15s
VERBOSE = False  # --targets: the five targets of each dashboard that read the most
CALLS_PER_SECOND = 0.5  # per combination: 1,200 calls per second in all
HOUR = 3600


def failed_share(t: float) -> float:
    """Three failure episodes: 20% for 30 min, 50% for 10 min, 5% for an hour (within 6 hours)."""
    for start, end, share in ((1 * HOUR, 1.5 * HOUR, 0.2), (2.5 * HOUR, 2.5 * HOUR + 600, 0.5),
                              (4 * HOUR, 5 * HOUR, 0.05)):
        if start <= t < end:
            return share
    return 0.01


def scale_spec(ports: Ports) -> dict:
    data = read_spec(ROOT / "examples" / "holysheep.yaml")
    data["scrape"]["jobs"][0]["interval"] = "15s"
    data["providers"] = [{"name": f"provider-{i}", "base_url": f"https://p{i}.example.com/v1", "timeout": "30s"}
                         for i in range(PROVIDERS)]
    # Each provider falls back to the next: the fallback alert and panel are part of the load.
    data["resilience"] = {"fallbacks": [{"from": f"provider-{i}", "to": f"provider-{i + 1}"}
                                        for i in range(PROVIDERS - 1)]}
    data["endpoints"] = [{"path": f"/endpoint-{i}", "latency_p95": "5s", "availability": 99.5}
                         for i in range(ENDPOINTS)]
    data["models"] = [{"name": f"model-{i:02d}", "prices": {"input": 1.0 + i % 7, "output": 2.0, "cached_input": 0.5}}
                      for i in range(MODELS)]
    return loopback_spec(data, ports)


class Exporter:
    """The contract for every combination, as the stack's source emits it, with counters that go on
    from the backfilled history."""

    def __init__(self, stack, start: int, history_end: int, port: int):
        self.stack, self.start, self.history_end = stack, start, history_end
        self.failed_at_end = sum(CALLS_PER_SECOND * RESOLUTION_SECONDS * failed_share(i * RESOLUTION_SECONDS)
                                 for i in range(1, (history_end - start) // RESOLUTION_SECONDS + 1))
        self.series = emitted_series(stack, self.contract_series())
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())

    def contract_series(self) -> list[tuple[str, tuple[float, ...]]]:
        """Each series over the basis (successful attempts, failed attempts, live calls, 1) of one
        combination so far (holystack.live.backfill.Series)."""
        s, p = self.stack, self.stack.contract
        ok, failed, live, one = (1.0, 0, 0, 0), (0, 1.0, 0, 0), (0, 0, 1.0, 0), (0, 0, 0, 1.0)
        times = lambda basis, k: tuple(k * b for b in basis)  # noqa: E731
        out = []
        bounds = [repr(float(b)) for b in s.latency_buckets] + ["+Inf"]
        for pr in s.providers:
            for e in s.endpoints:
                for m in s.models:
                    base = f'provider="{pr.name}",endpoint="{e.path}",model="{m.name}"'
                    out.append((f'{p.requests.name}{{{base},status_code="200"}}', ok))
                    out.append((f'{p.requests.name}{{{base},status_code="503"}}', failed))
                    for index, bound in enumerate(bounds):
                        share = 0.0 if index < 3 else 0.5 if index < 5 else 1.0
                        out.append((f'{p.duration.name}_bucket{{{base},le="{bound}"}}', times(live, share)))
                    out.append((f"{p.duration.name}_sum{{{base}}}", times(live, 0.3)))
                    out.append((f"{p.duration.name}_count{{{base}}}", live))
        providers = len(s.providers)
        for e in s.endpoints:  # logical calls: each attempt is one here, summed over the providers
            for m in s.models:
                base = f'endpoint="{e.path}",model="{m.name}"'
                out.append((f'{p.calls.name}{{{base},status_code="200"}}', times(ok, providers)))
                out.append((f'{p.calls.name}{{{base},status_code="503"}}', times(failed, providers)))
        endpoints = len(s.endpoints)
        for pr in s.providers:
            for m in s.models:
                for token_type, per_call in zip(c.TOKEN_TYPES, Traffic().tokens_per_call):
                    out.append((f'{p.tokens.name}{{provider="{pr.name}",model="{m.name}",token_type="{token_type}"}}',
                                (endpoints * per_call, endpoints * per_call, 0, 0)))
                for resource in ("requests", "tokens"):
                    labels = f'provider="{pr.name}",model="{m.name}",resource="{resource}"'
                    out.append((f"{p.ratelimit_remaining.name}{{{labels}}}", times(one, 500)))
                    out.append((f"{p.ratelimit_limit.name}{{{labels}}}", times(one, 1000)))
        return out

    def body(self) -> bytes:
        now = time.time()
        failed = self.failed_at_end + 0.01 * CALLS_PER_SECOND * max(0.0, now - self.history_end)
        basis = (CALLS_PER_SECOND * (now - self.start) - failed, failed,
                 CALLS_PER_SECOND * max(0.0, now - self.history_end), 1.0)
        return "".join(f"{name} {sum(k * v for k, v in zip(coefficients, basis)):.6g}\n"
                       for name, coefficients in self.series).encode()

    def _handler(self):
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                body = exporter.body()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        return Handler

    def __enter__(self) -> "Exporter":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def get(url: str, path: str, **params) -> dict:
    with urllib.request.urlopen(f"{url}{path}?{urllib.parse.urlencode(params)}", timeout=300) as response:
        body = json.load(response)
    if body.get("status") != "success":
        raise RuntimeError(body)
    return body["data"]


def value(url: str, expr: str) -> list[tuple[dict, float]]:
    return [(r["metric"], float(r["value"][1])) for r in get(url, "/api/v1/query", query=expr)["result"]]


def samples(url: str, expr: str, at: float, range_seconds: int | None = None, step: int = 0) -> int:
    if range_seconds is None:
        data = get(url, "/api/v1/query", query=expr, time=at, stats="all")
    else:
        data = get(url, "/api/v1/query_range", query=expr, start=at - range_seconds, end=at, step=step, stats="all")
    return int(data["stats"]["samples"]["totalQueryableSamples"])


def grafana(expr: str, range_seconds: int, step: int, scrape: int, interval: str | None) -> str:
    """A query as Grafana sends it with All selected: its interval variables filled in."""
    rate_interval = max(step + scrape, 4 * scrape)
    expr = re.sub(r'=~"\$(provider|endpoint|model)"', '=~".*"', expr)
    return (expr.replace("$__rate_interval", f"{rate_interval}s").replace("$__interval", interval or f"{step}s")
            .replace("$__range", f"{range_seconds}s"))


def raw_equivalents(stack, month_seconds: int) -> dict[str, list[str]]:
    """Hand-written queries over the raw contract for every panel, by panel title (in target order).
    Prices are the one recorded input they keep: raw cost needs them and they are constants."""
    p, t = stack.contract.prefix, (lambda key, **kw: panel_text("en", key, **kw))
    req, tok, bucket = f"{p}_requests_total", f"{p}_tokens_total", f"{p}_request_duration_seconds_bucket"
    calls = f"{p}_calls_total"
    price = f"* on (model, token_type) group_left () model_token_type:{p}_token_price_usd:spec"
    ri = "$__rate_interval"
    rate = lambda sel, by="": f"sum{f' by ({by})' if by else ''} (rate({sel}[{ri}]))"  # noqa: E731
    ratio = lambda status, by: f"{rate(req + '{status_code=~' + json.dumps(status) + '}', by)} / {rate(req, by)}"  # noqa: E731
    cost = lambda window, by="": f"sum{f' by ({by})' if by else ''} (increase({tok}[{window}]) {price})"  # noqa: E731
    month = cost(f"{month_seconds}s")
    left = "(days_in_month() * 86400 - ((day_of_month() - 1) * 86400 + hour() * 3600 + minute() * 60 + time() % 60))"
    forecast = f"{month} + {cost('1d')} / 86400 * {left}"
    failed = '{status_code=~"5..|timeout|error"}'
    ok = '{status_code=~"2.."}'
    objective = f"on (endpoint) (1 - endpoint:{p}_slo_objective:ratio)"
    sli = lambda window: f"sum by (endpoint) (rate({calls}{failed}[{window}])) / sum by (endpoint) (rate({calls}[{window}]))"  # noqa: E731
    quantile_of = lambda name, q, by: f"histogram_quantile({q}, sum by (le{', ' + by if by else ''}) (rate({name}[{ri}])))"  # noqa: E731
    quantile = lambda q, by: quantile_of(bucket, q, by)  # noqa: E731
    budget = stack.thresholds.monthly_budget_usd or 1
    cached, prompt = '{token_type="cached_prompt"}', '{token_type="prompt"}'
    out = {
        t("stat_request_rate"): [rate(req)],
        t("stat_success_ratio"): [f"{rate(calls + ok)} / {rate(calls)}"],
        t("stat_p95"): [quantile("0.95", "")],
        t("stat_spend_24h"): [cost("1d")],
        t("request_rate_by_status"): [rate(req, "status_code")],
        t("error_ratio"): [f'{rate(calls + failed, "endpoint")} / {rate(calls, "endpoint")}'],
        t("rate_limit_ratio"): [ratio("429", "provider, model")],
        t("timeout_ratio"): [ratio("timeout", "provider, endpoint")],
        t("latency_quantiles"): [quantile(q, "endpoint") for q in ("0.5", "0.95", "0.99")],
        t("tokens_by_model"): [rate(tok, "model, token_type")],
        t("spend_rate"): [f"sum by (provider) (rate({tok}[{ri}]) {price}) * 3600"],
        t("cost_per_day"): [cost("$__interval", "model")],
        t("cost_by_model"): [cost("$__range", "model")],
        t("top_failing"): [f'topk(10, sum by (provider, endpoint, status_code) (increase({req}{{status_code!~"2.."}}[$__range])))'],
        t("ratelimit_headroom"): [f"{p}_ratelimit_remaining / {p}_ratelimit_limit"],
        t("fallback_share"): [f"sum by (from_provider, to_provider) (rate({p}_fallbacks_total[{ri}])) / on () group_left () {rate(calls)}"],
        t("retry_ratio"): [f"{rate(p + '_retries_total', 'provider')} / {rate(req, 'provider')}"],
        t("circuit_not_closed"): [f'max by (provider) ({p}_circuit_state{{state!="closed"}})'],
        t("ttft_p95"): [quantile_of(f"{p}_time_to_first_token_seconds_bucket", "0.95", "endpoint")],
        t("stat_month_to_date"): [month],
        t("stat_month_forecast"): [forecast],
        t("stat_budget_used"): [f"{month} / {budget:g}"],
        t("month_to_date_vs_budget"): [month, forecast],
        t("spend_per_day_by_model"): [cost("$__interval", "model")],
        t("spend_per_day_by_provider"): [cost("$__interval", "provider")],
        t("month_by_model"): [cost(f"{month_seconds}s", "model")],
        t("month_by_provider"): [cost(f"{month_seconds}s", "provider")],
        t("cost_per_1k_calls"): [f"sum by (provider, model) (rate({tok}[{ri}]) {price}) / {rate(req, 'provider, model')} * 1000"],
        t("cache_hit_ratio"): [f"{rate(tok + cached, 'model')} / {rate(tok + prompt, 'model')}"],
        t("cache_savings"): [f'-sum by (model) (rate({tok}{{token_type="cached_prompt"}}[{ri}]) {price}) * 3600'],
        t("sli_period", period="30d"): [f"1 - {sli('30d')}"],
        t("budget_remaining"): [f"1 - ({sli('30d')}) / {objective}"],
        t("sli_1h"): [f"1 - {sli('1h')}"],
    }
    for window in sorted({str(b.long_window) for b in stack.slo.burn_rates}):
        out[t("burn_rate_window", window=window, period="30d")] = [f"({sli(window)}) / {objective}"]
    return out


def dashboard_figures(url: str, out: Path, stack, at: float, ranges: list[int], scrape: int) -> list[tuple]:
    month_seconds = HISTORY_SECONDS + LIVE_SECONDS
    raw = raw_equivalents(stack, month_seconds)
    rows = []
    for path in sorted((out / "grafana" / "dashboards").glob("*.json")):
        dashboard = json.loads(path.read_text())
        for range_seconds in ranges:
            step = max(15, range_seconds // POINTS)
            recorded_total = raw_total = 0
            per_target = []
            for panel in dashboard["panels"]:
                targets = panel.get("targets") or []
                if not targets:
                    continue
                equivalents = raw[panel["title"]]
                assert len(equivalents) == len(targets), panel["title"]
                for target, raw_expr in zip(targets, equivalents):
                    for expr, is_raw in ((target["expr"], False), (raw_expr, True)):
                        query = grafana(expr, range_seconds, step, scrape, panel.get("interval"))
                        if target.get("instant"):
                            n = samples(url, query, at)
                        else:
                            interval = panel.get("interval")
                            n = samples(url, query, at, range_seconds, 86400 if interval == "1d" else step)
                        if is_raw:
                            raw_total += n
                            per_target[-1] = (*per_target[-1], n)
                        else:
                            recorded_total += n
                            per_target.append((panel["title"], n))
            rows.append((path.name, range_seconds, recorded_total, raw_total))
            if VERBOSE:
                for title, n, raw_n in sorted(per_target, key=lambda x: -x[1])[:5]:
                    print(f"    {path.name} {range_seconds}s  {title[:50]:50} recorded {n:>12,} raw {raw_n:>14,}")
    return rows


def rule_figures(url: str, groups: list[dict], at: float, earlier: float) -> list[tuple[str, str, int, int]]:
    """(group, rule name, samples at `earlier`, samples at `at`) per rule name (rules sharing a name,
    such as the prices, are summed)."""
    sums: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for group in groups:
        for rule in group["rules"]:
            key = (group["name"], rule.get("record") or rule["alert"])
            sums[key][0] += samples(url, rule["expr"], earlier)
            sums[key][1] += samples(url, rule["expr"], at)
    return [(g, name, a, b) for (g, name), (a, b) in sums.items()]


def main() -> int:
    global MODELS, HISTORY_SECONDS, LIVE_SECONDS, VERBOSE
    import argparse
    parser = argparse.ArgumentParser(description="holystack scale benchmark (issues 9 and 15)")
    parser.add_argument("--sources", default=",".join(source_names()),
                        help=f"metric sources, comma-separated (default all: {','.join(source_names())})")
    parser.add_argument("--models", type=int, default=MODELS, help=f"models (default {MODELS})")
    parser.add_argument("--hours", type=int, default=HISTORY_SECONDS // 3600, help="hours of history (default 6)")
    parser.add_argument("--live", type=int, default=LIVE_SECONDS, help=f"seconds of live evaluation (default {LIVE_SECONDS})")
    parser.add_argument("--targets", action="store_true", help="print the heaviest dashboard targets")
    args = parser.parse_args()
    MODELS, HISTORY_SECONDS, LIVE_SECONDS, VERBOSE = args.models, args.hours * 3600, args.live, args.targets
    names = [name.strip() for name in args.sources.split(",") if name.strip()]
    try:
        for name in names:
            source_class(name, "--sources")
    except Exception as exc:  # noqa: BLE001 - one line, exit 2
        print(exc, file=sys.stderr)
        return 2
    started = time.monotonic()
    goals = {}
    for name in names:
        work = Path(tempfile.mkdtemp(prefix="holystack-scale-"))
        try:
            goals[name] = run(work, name, started)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    summary(goals)
    return 0


def say(text: str, started: float) -> None:
    print(f"[{time.monotonic() - started:6.0f}s] {text}", flush=True)


def run(work: Path, source: str, started: float) -> dict:
    ports = Ports.free()
    data, changes = spec_on_source(scale_spec(ports), source)
    spec_path = write_spec(data, work / "scale.yaml")
    out = work / "out"
    render_to(spec_path, out)
    stack = load_stack(spec_path)
    target = {"job": stack.jobs[0].name, "instance": stack.jobs[0].targets[0]}
    now = int(time.time())
    start = (now - HISTORY_SECONDS) // RESOLUTION_SECONDS * RESOLUTION_SECONDS
    history_end = start + HISTORY_SECONDS
    samples_per_series = HISTORY_SECONDS // RESOLUTION_SECONDS + 1
    print(f"\n=== metrics.source {source}", flush=True)
    for change in changes:
        print(f"  spec moved onto {source}: {change[:150]}")
    say(f"spec: {PROVIDERS} providers x {ENDPOINTS} endpoints x {MODELS} models = "
        f"{PROVIDERS * ENDPOINTS * MODELS} combinations; history {HISTORY_SECONDS // 3600} h at "
        f"{RESOLUTION_SECONDS} s", started)
    history = write_lines(contract_lines(stack, start, samples_per_series, RESOLUTION_SECONDS,
                                         Traffic(CALLS_PER_SECOND, failed_share, latency_buckets=False), target),
                          work / "history.om")
    say(f"wrote {history.stat().st_size / 1e9:.2f} GB of OpenMetrics", started)
    backfill_openmetrics(history, work / "prometheus-data")
    history.unlink()
    say("raw history backfilled", started)

    groups = rule_groups(out / "prometheus" / "rules")
    prometheus = Backfilled(work)
    try:
        prometheus.start()
        # The per-call ratios are read only by the ratio alerts, over the base window: their history
        # serves nothing measured here, and backfilling them (four range queries over every raw
        # request counter) would take most of the run.
        levels = recording_levels(groups, lambda rule: not (rule["record"].startswith(f"{'_'.join(CALL_LABELS)}:")
                                                            and ":ratio_" in rule["record"]))
        prometheus.backfill_levels(levels, start, history_end)
        prometheus.stop()
        say(f"recordings backfilled: {sum(len(level) for level in levels)} rules in {len(levels)} levels", started)
        prometheus.config = out / "prometheus" / "prometheus.yml"
        with Exporter(stack, start, history_end, ports.metrics):
            prometheus.start(ports.prometheus)  # where its own scrape job reads it
            url = prometheus.url
            say(f"live: Prometheus {url} scraping the exporter and evaluating the rules for {LIVE_SECONDS}s", started)
            time.sleep(LIVE_SECONDS)
            goals = report(url, out, stack, groups, time.time(), started)
    finally:
        prometheus.stop()
    say(f"{source} done", started)
    return goals


def report(url: str, out: Path, stack, groups: list[dict], at: float, started: float) -> dict:
    intervals = {g["name"]: float(m["value"][1]) for g in groups
                 for m in get(url, "/api/v1/query", query=f'prometheus_rule_group_interval_seconds{{rule_group=~".*;{g["name"]}"}}')["result"]}
    load = os.getloadavg()[0]
    print(f"\nrule groups: evaluation failures, missed iterations, the median and the last duration over the "
          f"{LIVE_SECONDS}s of live evaluation as a share of the interval (load average {load:.1f} on "
          f"{os.cpu_count()} cores)")
    failures_total = 0
    worst = 0.0
    for group in groups:
        name = group["name"]
        match = f'{{rule_group=~".*;{name}"}}'
        failures = sum(v for _, v in value(url, f"sum(prometheus_rule_evaluation_failures_total{match})"))
        missed = sum(v for _, v in value(url, f"sum(prometheus_rule_group_iterations_missed_total{match})"))
        duration = sum(v for _, v in value(url, f"max(prometheus_rule_group_last_duration_seconds{match})"))
        median = sum(v for _, v in value(url, f"max(quantile_over_time(0.5, prometheus_rule_group_last_duration_seconds"
                                                f"{match}[{LIVE_SECONDS}s]))"))
        share = median / intervals.get(name, 1)
        failures_total += failures
        worst = max(worst, share)
        print(f"  {name:28} failures {failures:4.0f}  missed {missed:3.0f}  median {median * 1000:8.1f} ms"
              f"  {share:7.2%} of {intervals.get(name, 0):.0f}s  (last {duration * 1000:.1f} ms)")
    head = value(url, "prometheus_tsdb_head_series")[0][1]
    recorded = value(url, 'count({__name__=~".+:.+"})')[0][1]
    scraped = value(url, f'sum(scrape_samples_scraped{{job="{stack.jobs[0].name}"}})')[0][1]
    print(f"\nhead series with the rules {head:,.0f}; without them {head - recorded:,.0f} "
          f"(the rules add {recorded:,.0f} series; the exporter serves {scraped:,.0f} raw series): "
          f"recorded / raw = {recorded / scraped:.2f}")

    earlier = at - HISTORY_SECONDS / 2
    print(f"\nsamples one evaluation reads (stats=all), with {HISTORY_SECONDS // 7200} h and "
          f"{HISTORY_SECONDS // 3600} h of history")
    long_rules = {}
    for group, name, a, b in rule_figures(url, groups, at, earlier):
        print(f"  {group:28} {name[:72]:72} {a:>10,} {b:>10,}")
        if "long" in group or name.endswith(("month_to_date", "increase24h")):
            long_rules[name] = (a, b)
    goals = {"failures": failures_total, "slowest": worst, "raw": scraped, "recorded": recorded,
             "long": long_rules, "load": load}
    if stack.source.name != DEFAULT_SOURCE:
        print("\ndashboards: the raw equivalents are written in holystack's contract; measured on that source only")
        print(f"\ngoals ({stack.source.name})")
        print(f"  evaluation failures: {failures_total:.0f} (goal 0)")
        print(f"  slowest group: {worst:.2%} of its interval, median (goal <= 10%)")
        print(f"  recorded / raw series: {recorded / scraped:.2f} (goal <= 0.5)")
        say("measured", started)
        return goals

    print("\ndashboards: samples all targets read (stats=all), recorded against hand-written raw equivalents")
    scrape = int(stack.slowest_scrape.seconds)
    rows = dashboard_figures(url, out, stack, at, [3600, HISTORY_SECONDS], scrape)
    ratios: dict[int, list[float]] = defaultdict(list)
    for name, range_seconds, recorded_total, raw_total in rows:
        ratio = raw_total / max(recorded_total, 1)
        ratios[range_seconds].append(ratio)
        print(f"  {name:28} over {range_seconds // 3600:3d} h: recorded {recorded_total:>14,}  raw {raw_total:>16,}"
              f"  {ratio:10.1f}x fewer")

    print(f"\ngoals ({stack.source.name})")
    print(f"  evaluation failures: {failures_total:.0f} (goal 0)")
    print(f"  slowest group: {worst:.2%} of its interval, median (goal <= 10%)")
    print(f"  recorded / raw series: {recorded / scraped:.2f} (goal <= 0.5)")
    print(f"  dashboards over 1 h: at least {min(ratios[3600]):.0f}x fewer samples (goal >= 10x)")
    print(f"  dashboards over {HISTORY_SECONDS // 3600} h: at least {min(ratios[HISTORY_SECONDS]):.0f}x fewer "
          f"samples (goal >= 100x)")
    say("measured", started)
    return goals


def summary(goals: dict[str, dict]) -> None:
    """One line per source, and the long-window rules side by side: what they read depends on the
    endpoints and the windows, the same whatever the source and its raw series."""
    print("\nper source: failures, slowest group (median duration) / interval, recorded / raw series")
    for name, g in goals.items():
        print(f"  {name:12} failures {g['failures']:.0f}  slowest {g['slowest']:6.2%} (load {g['load']:.1f})  "
              f"recorded {g['recorded']:,.0f} / raw {g['raw']:,.0f} = {g['recorded'] / g['raw']:.2f}")
    names = list(goals)
    rules = sorted(set().union(*(g["long"] for g in goals.values())))
    print(f"\nlong-window rules: samples one evaluation reads at {HISTORY_SECONDS // 7200} h / "
          f"{HISTORY_SECONDS // 3600} h of history, by source")
    print(f"  {'rule':60} " + "  ".join(f"{n:>22}" for n in names))
    for rule in rules:
        cells = [goals[n]["long"].get(rule) for n in names]
        print(f"  {rule[:60]:60} " + "  ".join(f"{f'{a:,} / {b:,}' if (a, b) != (None, None) else '-':>22}"
                                               for a, b in (cell or (None, None) for cell in cells)))


if __name__ == "__main__":
    sys.exit(main())
