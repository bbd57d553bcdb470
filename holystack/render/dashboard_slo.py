"""The SLO dashboard, per endpoint: availability (the SLI), error budget remaining, burn rates."""
from __future__ import annotations

from typing import Any

from grafanalib import core as g

from .. import contract as c
from ..identifiers import SLO_DASHBOARD
from ..model import Stack
from ..series import Series
from .panels import Layout, Queries, bar_gauge, dashboard, target, texts, threshold_steps, timeseries


def slo_dashboard(stack: Stack) -> g.Dashboard:
    q, s, t = Queries(stack), Series(stack), texts(stack)
    period = str(stack.slo.period)
    layout = Layout()
    burns = stack.slo.burn_rates
    windows = sorted({b.long_window.ms: b.long_window for b in burns}.values(), key=lambda w: w.ms)
    panels: list[Any] = [
        g.RowPanel(title=t("row_slo", period=period), gridPos=layout.row()),
        bar_gauge(t("sli_period", period=period), "percentunit",
                  target(f"1 - {q.recorded(s.endpoint_error_ratio(period), c.ENDPOINT)}", "A", "{{endpoint}}",
                         instant=True), layout.place(12, 8), decimals=3),
        bar_gauge(t("budget_remaining"), "percentunit",
                  target(q.recorded(s.error_budget_remaining, c.ENDPOINT), "A", "{{endpoint}}", instant=True),
                  layout.place(12, 8),
                  thresholds=[{"color": "red", "value": None}, {"color": "orange", "value": 0.25},
                              {"color": "green", "value": 0.5}], min=0, max=1),
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
