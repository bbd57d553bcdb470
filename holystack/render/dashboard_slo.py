"""The SLO dashboard, per endpoint: availability (the SLI), error budget remaining, burn rates; the same
for latency SLOs (the share of logical calls within the threshold) where the spec has them."""
from __future__ import annotations

from typing import Any

from grafanalib import core as g

from .. import contract as c
from ..identifiers import SLO_DASHBOARD
from ..model import Stack
from ..series import Series, SloSeries
from .panels import Layout, Queries, bar_gauge, dashboard, target, texts, threshold_steps, timeseries
from .slo import latency_slo_endpoints


def _objective_panels(stack: Stack, layout: Layout, t: Any, keys: dict[str, str], slo: SloSeries) -> list[Any]:
    """One objective's panels: its SLI over the period (1 - the recorded bad share), the budget
    left, the SLI over the shortest long window, the burn rate per long window. keys name the texts
    (row, sli_period, budget_remaining, sli_1h, burn_rate_window)."""
    q = Queries(stack)
    period = str(stack.slo.period)
    burns = stack.slo.burn_rates
    windows = sorted({b.long_window.ms: b.long_window for b in burns}.values(), key=lambda w: w.ms)
    panels: list[Any] = [
        g.RowPanel(title=t(keys["row"], period=period), gridPos=layout.row()),
        bar_gauge(t(keys["sli_period"], period=period), "percentunit",
                  target(f"1 - {q.recorded(slo.bad_ratio(period), c.ENDPOINT)}", "A", "{{endpoint}}", instant=True),
                  layout.place(12, 8), decimals=3),
        bar_gauge(t(keys["budget_remaining"]), "percentunit",
                  target(q.recorded(slo.budget_remaining, c.ENDPOINT), "A", "{{endpoint}}", instant=True),
                  layout.place(12, 8),
                  thresholds=[{"color": "red", "value": None}, {"color": "orange", "value": 0.25},
                              {"color": "green", "value": 0.5}], min=0, max=1),
        timeseries(t(keys["sli_1h"]), "percentunit",
                   [target(f"1 - {q.recorded(slo.bad_ratio(str(windows[0])), c.ENDPOINT)}", "A", "{{endpoint}}")],
                   layout.place(24, 8)),
    ]
    for window in windows:
        factors = sorted({b.factor for b in burns if b.long_window == window})
        panels.append(timeseries(
            t(keys["burn_rate_window"], window=str(window), period=period), "short",
            [target(q.recorded(slo.burn(str(window)), c.ENDPOINT), "A", "{{endpoint}}")],
            layout.place(12, 8), thresholdsStyleMode="line", thresholds=threshold_steps(factors)))
    return panels


AVAILABILITY_TEXTS = {"row": "row_slo", "sli_period": "sli_period", "budget_remaining": "budget_remaining",
                      "sli_1h": "sli_1h", "burn_rate_window": "burn_rate_window"}
LATENCY_TEXTS = {key: f"latency_{value}" for key, value in AVAILABILITY_TEXTS.items()}


def slo_dashboard(stack: Stack) -> g.Dashboard:
    s, t = Series(stack), texts(stack)
    layout = Layout()
    panels = _objective_panels(stack, layout, t, AVAILABILITY_TEXTS, s.availability)
    if latency_slo_endpoints(stack):  # the share of logical calls within each endpoint's threshold
        panels += _objective_panels(stack, layout, t, LATENCY_TEXTS, s.latency)
    return dashboard(stack, SLO_DASHBOARD, "slo_title", panels)
