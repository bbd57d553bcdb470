"""The overview dashboard: traffic, failures, latency, tokens and spend at a glance."""
from __future__ import annotations

from typing import Any

from grafanalib import core as g

from .. import contract as c
from ..identifiers import OVERVIEW_DASHBOARD
from ..model import Stack
from ..promql import SECONDS_PER_HOUR, matcher, number
from ..series import P95, Series
from .client_rules import circuit_not_closed
from .recording import DASHBOARD_RATIO
from .panels import (Layout, Queries, bar_gauge, dashboard, stat, table, target, texts, threshold_steps,
                     timeseries)


def overview_dashboard(stack: Stack) -> g.Dashboard:
    q, s, t = Queries(stack), Series(stack), texts(stack)
    th = stack.thresholds
    layout = Layout()
    non_2xx = matcher(c.STATUS_CODE, c.SUCCESS, "!~")
    step = number(stack.evaluation_interval.seconds)
    panels: list[Any] = [
        g.RowPanel(title=t("row_traffic"), gridPos=layout.row()),
        stat(t("stat_request_rate"), "reqps", q.call_rate(), layout.place(6, 4)),
        stat(t("stat_success_ratio"), "percentunit", q.logical_success(), layout.place(6, 4)),
        stat(t("stat_p95"), "s", q.latency(P95), layout.place(6, 4)),
        # The trailing 24 h is recorded for the whole stack (what the budget alert reads): no filter.
        stat(t("stat_spend_24h"), "currencyUSD", s.cost_24h, layout.place(6, 4)),
        timeseries(t("request_rate_by_status"), "reqps",
                   [target(q.call_rate(c.STATUS_CODE), "A", "{{status_code}}")], layout.place(12, 8),
                   stacking={"mode": "normal"}, fillOpacity=30),
        timeseries(t("error_ratio"), "percentunit",
                   [target(q.endpoint_failed_ratio(), "A", "{{endpoint}}")], layout.place(12, 8)),
        timeseries(t("rate_limit_ratio"), "percentunit",
                   [target(q.recorded(s.ratio_by_provider_model(DASHBOARD_RATIO), c.PROVIDER, c.MODEL), "A",
                           "{{provider}} {{model}}")],
                   layout.place(12, 8), thresholdsStyleMode="line",
                   thresholds=threshold_steps([v for _, v in th.rate_limit_ratio.levels])),
        timeseries(t("timeout_ratio"), "percentunit",
                   [target(q.call_ratio(f"{c.PROVIDER}, {c.ENDPOINT}", c.STATUS_TIMEOUT), "A",
                            "{{provider}} {{endpoint}}")],
                   layout.place(12, 8), thresholdsStyleMode="line",
                   thresholds=threshold_steps([v for _, v in th.timeout_ratio.levels])),
        g.RowPanel(title=t("row_latency"), gridPos=layout.row()),
        timeseries(t("latency_quantiles"), "s",
                   [target(q.latency(quantile, c.ENDPOINT), ref, f"p{float(quantile) * 100:g} {{{{endpoint}}}}")
                    for quantile, ref in (("0.5", "A"), ("0.95", "B"), ("0.99", "C"))],
                   layout.place(24, 9)),
        g.RowPanel(title=t("row_cost"), gridPos=layout.row()),
        timeseries(t("tokens_by_model"), "short",
                   [target(q.tokens(f"{c.MODEL}, {c.TOKEN_TYPE}"), "A", "{{model}} {{token_type}}")],
                   layout.place(12, 8)),
        timeseries(t("spend_rate"), "currencyUSD",
                   [target(f"sum by ({c.PROVIDER}) ({q.recorded(s.cost_rate, c.PROVIDER, c.MODEL)}) * {SECONDS_PER_HOUR}",
                            "A", "{{provider}}")], layout.place(12, 8)),
        timeseries(t("cost_per_day"), "currencyUSD",
                   [target(q.cost_over(c.MODEL, "$__interval"), "A", "{{model}}")], layout.place(12, 8),
                   interval="1d", drawStyle="bars", fillOpacity=80, stacking={"mode": "normal"}),
        bar_gauge(t("cost_by_model"), "currencyUSD",
                  target(q.cost_over(c.MODEL, "$__range"), "A", "{{model}}", instant=True), layout.place(12, 8)),
        # Calls over the range, approximated from the recorded 5m rates times the evaluation
        # interval: no recording counts calls by status over an arbitrary range, and this is a ranking.
        table(t("top_failing"), "short",
              target(f"topk(10, sum by ({c.PROVIDER}, {c.ENDPOINT}, {c.STATUS_CODE}) (sum_over_time("
                     f"{q.calls(non_2xx)}[$__range])) * {step})", "A", instant=True),
              layout.place(12, 8)),
        timeseries(t("ratelimit_headroom"), "percentunit",
                   [target(q.recorded(s.ratelimit_headroom, c.PROVIDER, c.MODEL), "A",
                           "{{provider}} {{model}} {{resource}}")], layout.place(12, 8), thresholdsStyleMode="line",
                   thresholds=threshold_steps([v for _, v in th.ratelimit_headroom.levels])),
        g.RowPanel(title=t("row_resilience"), gridPos=layout.row()),
        *([timeseries(t("fallback_share"), "percentunit",
                      [target(s.fallback_share, "A", "{{from_provider}} → {{to_provider}}")], layout.place(12, 8),
                      thresholdsStyleMode="line", thresholds=threshold_steps([v for _, v in th.fallback_ratio.levels]))]
          if stack.resilience.fallbacks else []),  # no chain, no fallback
        timeseries(t("retry_ratio"), "percentunit",
                   [target(q.recorded(s.retry_ratio, c.PROVIDER), "A", "{{provider}}")], layout.place(12, 8),
                   thresholdsStyleMode="line", thresholds=threshold_steps([v for _, v in th.retry_ratio.levels])),
        timeseries(t("circuit_not_closed"), "short",
                   [target(circuit_not_closed(stack), "A", "{{provider}}")], layout.place(12, 8),
                   drawStyle="bars", fillOpacity=80),
        timeseries(t("ttft_p95"), "s",
                   [target(q.recorded(s.ttft_quantile, c.ENDPOINT), "A", "p95 {{endpoint}}")], layout.place(12, 8)),
    ]
    return dashboard(stack, OVERVIEW_DASHBOARD, "overview_title", panels)
