"""The SLO dashboard, per endpoint: availability (the SLI), error budget remaining, burn rates."""
from __future__ import annotations

from typing import Any

from grafanalib import core as g

from .. import contract as c
from ..identifiers import SLO_DASHBOARD
from ..model import Stack
from ..series import Series
from .panels import DATASOURCE, Layout, Queries, dashboard, target, texts, threshold_steps, timeseries


def slo_dashboard(stack: Stack) -> g.Dashboard:
    q, s, t = Queries(stack), Series(stack), texts(stack)
    period = str(stack.slo.period)
    layout = Layout()
    burns = stack.slo.burn_rates
    windows = sorted({b.long_window.ms: b.long_window for b in burns}.values(), key=lambda w: w.ms)
    panels: list[Any] = [
        g.RowPanel(title=t("row_slo", period=period), gridPos=layout.row()),
        g.BarGauge(title=t("sli_period", period=period), dataSource=DATASOURCE, format="percentunit",
                   targets=[target(f"1 - {q.recorded(s.endpoint_error_ratio(period), c.ENDPOINT)}", "A",
                                   "{{endpoint}}", instant=True)],
                   gridPos=layout.place(12, 8), orientation="horizontal", displayMode="gradient", calc="lastNotNull",
                   extraJson={"fieldConfig": {"defaults": {"unit": "percentunit", "decimals": 3}}}),
        g.BarGauge(title=t("budget_remaining"), dataSource=DATASOURCE, format="percentunit",
                   targets=[target(q.recorded(s.error_budget_remaining, c.ENDPOINT), "A", "{{endpoint}}",
                                   instant=True)],
                   gridPos=layout.place(12, 8), orientation="horizontal", displayMode="gradient", calc="lastNotNull",
                   thresholds=[{"color": "red", "value": None}, {"color": "orange", "value": 0.25},
                               {"color": "green", "value": 0.5}],
                   extraJson={"fieldConfig": {"defaults": {"unit": "percentunit", "min": 0, "max": 1}}}),
        timeseries(t("sli_1h"), "percentunit",
                   [target(f"1 - {q.recorded(s.endpoint_error_ratio(str(windows[0])), c.ENDPOINT)}", "A",
                           "{{endpoint}}")], layout.place(24, 8)),
    ]
    for window in windows:
        factors = sorted({b.factor for b in burns if b.long_window == window})
        panels.append(timeseries(
            t("burn_rate_window", window=str(window), period=period), "short",
            [target(q.recorded(s.error_budget_burn(str(window)), c.ENDPOINT), "A", "{{endpoint}}")],
            layout.place(12, 8), thresholdsStyleMode="line", thresholds=threshold_steps(factors)))
    return dashboard(stack, SLO_DASHBOARD, "slo_title", panels)
