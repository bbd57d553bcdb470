"""The cost dashboard: spend per day and month by model and provider, cost per 1k calls, prompt
caching, and the month to date against the budget with its forecast."""
from __future__ import annotations

from typing import Any

from grafanalib import core as g

from .. import contract as c
from ..identifiers import COST_DASHBOARD
from ..model import Stack
from ..promql import SECONDS_PER_HOUR
from ..series import Series
from .panels import Layout, Queries, bar_gauge, dashboard, stat, target, texts, threshold_steps, timeseries
from .recording import PRICE_JOIN, month_forecast


def _bars(title: str, query: str, legend: str, pos: g.GridPos) -> g.BarGauge:
    return bar_gauge(title, "currencyUSD", target(query, "A", legend, instant=True), pos)


def _priced(token_rate: str, token_price: str) -> str:
    """USD per hour by model of a recorded token rate at its recorded price."""
    return f"sum by ({c.MODEL}) (\n  {token_rate}\n  * {PRICE_JOIN}\n  {token_price}\n) * {SECONDS_PER_HOUR}"


def cost_dashboard(stack: Stack) -> g.Dashboard:
    q, s, t = Queries(stack), Series(stack), texts(stack)
    budget = stack.thresholds.monthly_budget_usd
    # The month to date, the trailing 24 h and the forecast are recorded for the whole stack, as the
    # budget alerts read them: these panels ignore the provider and model variables. The bars by
    # model and provider read the per-model recordings and follow the variables.
    month_to_date = s.cost_month_to_date
    by_model = q.recorded(s.cost_month_to_date_by_model, c.PROVIDER, c.MODEL)
    forecast = month_forecast(month_to_date, s.cost_24h)
    layout = Layout()
    month_targets = [target(f"sum({month_to_date})", "A", t("series_month_to_date")),
                     target(forecast, "B", t("series_forecast"))]
    panels: list[Any] = [
        g.RowPanel(title=t("row_spend"), gridPos=layout.row()),
        stat(t("stat_month_to_date"), "currencyUSD", f"sum({month_to_date})", layout.place(6, 4)),
        stat(t("stat_month_forecast"), "currencyUSD", forecast, layout.place(6, 4)),
        stat(t("stat_spend_24h"), "currencyUSD", f"sum({s.cost_24h})", layout.place(6, 4)),
    ]
    if budget is not None:
        panels.append(stat(t("stat_budget_used"), "percentunit", f"sum({month_to_date}) / {budget:g}",
                           layout.place(6, 4)))
    panels += [
        timeseries(t("month_to_date_vs_budget"), "currencyUSD", month_targets, layout.place(24, 8),
                   **({"thresholdsStyleMode": "line", "thresholds": threshold_steps([budget])} if budget else {})),
        timeseries(t("spend_per_day_by_model"), "currencyUSD",
                   [target(q.cost_over(c.MODEL, "$__interval"), "A", "{{model}}")], layout.place(12, 8),
                   interval="1d", drawStyle="bars", fillOpacity=80, stacking={"mode": "normal"}),
        timeseries(t("spend_per_day_by_provider"), "currencyUSD",
                   [target(q.cost_over(c.PROVIDER, "$__interval"), "A", "{{provider}}")], layout.place(12, 8),
                   interval="1d", drawStyle="bars", fillOpacity=80, stacking={"mode": "normal"}),
        _bars(t("month_by_model"), f"sum by ({c.MODEL}) ({by_model})", "{{model}}", layout.place(12, 8)),
        _bars(t("month_by_provider"), f"sum by ({c.PROVIDER}) ({by_model})", "{{provider}}",
              layout.place(12, 8)),
        g.RowPanel(title=t("row_efficiency"), gridPos=layout.row()),
        timeseries(t("cost_per_1k_calls"), "currencyUSD",
                   [target(f"sum by ({c.PROVIDER}, {c.MODEL}) ({q.recorded(s.cost_rate, c.PROVIDER, c.MODEL)})\n/\n"
                           f"sum by ({c.PROVIDER}, {c.MODEL}) ({q.recorded(s.requests_by_provider_model, c.PROVIDER, c.MODEL)})"
                           f"\n* 1000", "A", "{{provider}} {{model}}")], layout.place(8, 8)),
        timeseries(t("cache_hit_ratio"), "percentunit",
                   [target(f"sum by ({c.MODEL}) ({q.token_rate(c.TOKEN_CACHED_PROMPT)})\n/\n"
                           f"sum by ({c.MODEL}) ({q.token_rate(c.TOKEN_PROMPT)})",
                           "A", "{{model}}")], layout.place(8, 8)),
        # The cached_prompt price is cached_input - input (negative): minus the cost is the saving.
        timeseries(t("cache_savings"), "currencyUSD",
                   [target(f"-{_priced(q.token_rate(c.TOKEN_CACHED_PROMPT), s.token_price)}", "A", "{{model}}")],
                   layout.place(8, 8)),
    ]
    # The cache_write price is cache_write - input, the cache_write_1h price what a 1-hour write
    # costs above a 5-minute one: together, what writing the cache cost above plain input. Only
    # where a model prices them so: elsewhere the panel would always read 0 (or no data).
    writes = [(ref, token_type, legend) for ref, token_type, legend, priced in (
        ("A", c.TOKEN_CACHE_WRITE, "{{model}}",
         any(m.prices.effective_cache_write != m.prices.input for m in stack.models)),
        ("B", c.TOKEN_CACHE_WRITE_1H, "{{model}} 1h",
         any(m.prices.effective_cache_write_1h != m.prices.effective_cache_write for m in stack.models))) if priced]
    if writes:
        panels.append(timeseries(t("cache_write_cost"), "currencyUSD",
                                 [target(_priced(q.token_rate(token_type), s.token_price), ref, legend)
                                  for ref, token_type, legend in writes], layout.place(8, 8)))
    if stack.source.spend(stack, str(stack.rate_window)) is not None:
        panels.append(timeseries(
            t("source_spend", source=stack.source.name), "currencyUSD",
            [target(f"sum by ({c.MODEL}) ({q.recorded(s.cost_rate, c.PROVIDER, c.MODEL)}) * {SECONDS_PER_HOUR}", "A",
                    t("series_spec_cost")),
             target(f"sum by ({c.MODEL}) ({q.recorded(s.source_spend_rate, c.PROVIDER, c.MODEL)}) * {SECONDS_PER_HOUR}",
                    "B", t("series_source_spend", source=stack.source.name))], layout.place(8, 8)))
    return dashboard(stack, COST_DASHBOARD, "cost_title", panels)
