"""The building blocks every dashboard shares: layout, queries filtered by the variables, panels."""
from __future__ import annotations

from typing import Any

import attr
from grafanalib import core as g

from .. import contract as c
from ..identifiers import dashboard_uid, datasource_uid
from ..model import Stack
from ..output import generated_notice
from ..promql import matcher, selector
from ..series import LATENCY_LABELS, Series
from .grafana_schema import SCHEMA_VERSION
from .recording import share
from .text import panel_text

DATASOURCE_VAR = "datasource"
DATASOURCE = {"type": "prometheus", "uid": "${%s}" % DATASOURCE_VAR}
RATE_INTERVAL = "$__rate_interval"
LAST = "lastNotNull"  # what the stat and bar gauge panels show of each series
FILTER_VARIABLES = (c.PROVIDER, c.ENDPOINT, c.MODEL)
WIDTH = 24


class Layout:
    """Places panels left to right in rows of the grid, top to bottom."""

    def __init__(self) -> None:
        self.x, self.y, self.row_height = 0, 0, 0

    def place(self, width: int, height: int) -> g.GridPos:
        if self.x + width > WIDTH:
            self.x, self.y, self.row_height = 0, self.y + self.row_height, 0
        pos = g.GridPos(h=height, w=width, x=self.x, y=self.y)
        self.x += width
        self.row_height = max(self.row_height, height)
        return pos

    def row(self) -> g.GridPos:
        if self.x:
            self.x, self.y, self.row_height = 0, self.y + self.row_height, 0
        pos = g.GridPos(h=1, w=WIDTH, x=0, y=self.y)
        self.y += 1
        return pos


class Queries:
    """PromQL of the dashboards' panels, filtered by the dashboard variables. Every query reads
    recorded series; each applies the variables its recording has labels for."""

    def __init__(self, stack: Stack):
        self.stack = stack
        self.contract = stack.contract
        self.s = Series(stack)

    @staticmethod
    def _filters(*labels: str) -> list[str]:
        return [matcher(label, f"${label}", "=~") for label in labels]

    def recorded(self, name: str, *labels: str) -> str:
        return selector(name, *self._filters(*labels))

    def calls(self, *extra: str) -> str:
        """Calls per second by provider, endpoint and status code: the recording has no model label,
        so panels built on it follow the provider and endpoint variables only."""
        return selector(self.s.requests_by_status, *self._filters(c.PROVIDER, c.ENDPOINT), *extra)

    def call_rate(self, labels: str = "", *extra: str) -> str:
        return f"sum{f' by ({labels})' if labels else ''} ({self.calls(*extra)})"

    def call_ratio(self, labels: str, status_regex: str) -> str:
        """The share of calls whose status matches, 0 (not empty) when there are calls but none match."""
        return share(self.call_rate(labels, matcher(c.STATUS_CODE, status_regex, "=~")), self.call_rate(labels))

    def logical_success(self) -> str:
        """The share of logical calls that succeeded (retries and fallbacks included): the users' view."""
        calls = self.recorded(self.s.calls_by_endpoint_model, c.ENDPOINT, c.MODEL)
        success = self.recorded(self.s.call_ratio("success"), c.ENDPOINT, c.MODEL)
        return f"sum({success} * {calls})\n/\nsum({calls})"

    def endpoint_failed_ratio(self) -> str:
        """The failed share of logical calls per endpoint, from the recorded counter steps (every
        endpoint has them, with or without an SLO)."""
        failed = f"sum by ({c.ENDPOINT}) (sum_over_time({self.recorded(self.s.availability.bad_step, c.ENDPOINT)}[{RATE_INTERVAL}]))"
        calls = f"sum by ({c.ENDPOINT}) (sum_over_time({self.recorded(self.s.availability.calls_step, c.ENDPOINT)}[{RATE_INTERVAL}]))"
        return share(failed, calls)

    def tokens(self, labels: str) -> str:
        """Tokens per second; recorded by model and token type, so no provider filter."""
        return f"sum by ({labels}) ({self.recorded(self.s.tokens, c.MODEL)})"

    def cost_over(self, labels: str, window: str) -> str:
        """USD over window: the month to date by provider and model now less window ago. When window
        reaches into the previous month, the month to date went down: the month so far is what is
        left (a daily bar at midnight on the 1st still shows the whole last day). Two samples a series."""
        month = self.recorded(self.s.cost_month_to_date_by_model, c.PROVIDER, c.MODEL)
        return f"sum by ({labels}) (\n  ({month} - {month} offset {window}) >= 0\n  or {month}\n)"

    def latency(self, quantile: str, *labels: str) -> str:
        """A latency quantile from the buckets recorded per provider and endpoint: the latency
        panels follow the provider and endpoint variables, not the model."""
        buckets = self.recorded(self.s.duration_buckets, *LATENCY_LABELS)
        return f"histogram_quantile({quantile}, sum by ({', '.join((c.LE, *labels))}) ({buckets}))"

    def token_rate(self, token_type: str) -> str:
        """The recorded token rate of one token type, filtered by model."""
        return selector(self.s.tokens, *self._filters(c.MODEL), matcher(c.TOKEN_TYPE, token_type))


def target(expr: str, ref: str, legend: str = "", instant: bool = False) -> g.Target:
    """A query in time-series form: one frame per series, which a bar gauge draws as one bar each
    (a table frame would be reduced to a single bar); table() asks for the table form itself."""
    return g.Target(expr=expr, refId=ref, legendFormat=legend, instant=instant, datasource=DATASOURCE,
                    format=g.TIME_SERIES_TARGET_FORMAT)


def timeseries(title: str, unit: str, targets: list[g.Target], pos: g.GridPos, **kw: Any) -> g.TimeSeries:
    return g.TimeSeries(title=title, dataSource=DATASOURCE, targets=targets, unit=unit, gridPos=pos,
                        legendDisplayMode="table", legendPlacement="right", tooltipMode="multi", **kw)


def stat(title: str, unit: str, expr: str, pos: g.GridPos) -> g.Stat:
    return g.Stat(title=title, dataSource=DATASOURCE, targets=[target(expr, "A")], format=unit,
                  gridPos=pos, reduceCalc=LAST, graphMode="none", thresholds=threshold_steps([]))


def bar_gauge(title: str, unit: str, query: g.Target, pos: g.GridPos, thresholds: list[dict[str, Any]] | None = None,
              **defaults: Any) -> g.BarGauge:
    """Horizontal gradient bars of one instant query, its last value per series. grafanalib's
    BarGauge writes the pre-7.0 options (fieldOptions); the current ones are set here and the
    clean pass (grafana_schema) drops the old. defaults: more field defaults (min, max, decimals)."""
    return g.BarGauge(
        title=title, dataSource=DATASOURCE, format=unit, targets=[query], gridPos=pos,
        orientation="horizontal", displayMode="gradient", thresholds=thresholds or threshold_steps([]),
        extraJson={"fieldConfig": {"defaults": {"unit": unit, **defaults}},
                   "options": {"reduceOptions": {"calcs": [LAST], "fields": "", "values": False},
                               "showUnfilled": True, "valueMode": "color"}})


def table(title: str, unit: str, query: g.Target, pos: g.GridPos) -> g.Table:
    """A table of one instant query; its cells as Grafana 12 writes them (cellOptions, not the
    displayMode grafanalib writes)."""
    return g.Table(title=title, dataSource=DATASOURCE, unit=unit, gridPos=pos,
                   targets=[attr.evolve(query, format=g.TABLE_TARGET_FORMAT)],
                   thresholds=threshold_steps([]),
                   extraJson={"fieldConfig": {"defaults": {"custom": {"cellOptions": {"type": "auto"}}}}})


def threshold_steps(levels: list[float]) -> list[dict[str, Any]]:
    """Threshold steps: the base (value null: minus infinity, as Grafana writes it) and one per level."""
    colours = ["green", "orange", "red"]
    return [{"color": "green", "value": None}] + [
        {"color": colours[min(i + 1, 2)], "value": level} for i, level in enumerate(sorted(levels))]


def variables(stack: Stack) -> g.Templating:
    # Every provider, endpoint and model with calls has its call rate recorded.
    requests = Series(stack).requests
    t = texts(stack)
    variables = [g.Template(name=DATASOURCE_VAR, label=t("var_datasource"), query="prometheus",
                            type="datasource", default=datasource_uid(stack))]
    scope: list[str] = []
    for label in FILTER_VARIABLES:
        metric = selector(requests, *[matcher(v, f"${v}", "=~") for v in scope])
        variables.append(g.Template(
            name=label, label=t(f"var_{label}"), query=f"label_values({metric}, {label})",
            dataSource=DATASOURCE, includeAll=True, multi=True, allValue=".*", default="$__all",
            refresh=g.REFRESH_ON_TIME_RANGE_CHANGE))
        scope.append(label)
    return g.Templating(list=variables)


def dashboard(stack: Stack, slug: str, title_key: str, panels: list[Any]) -> g.Dashboard:
    """A dashboard with holystack's conventions: stable uid, variables, UTC, read-only."""
    return g.Dashboard(
        title=panel_text(stack.language, title_key, name=stack.name),
        uid=dashboard_uid(stack, slug),
        description=generated_notice(stack.source_name),
        tags=["holystack", stack.name, "llm"],
        timezone="utc", refresh="1m", editable=False,
        graphTooltip=g.GRAPH_TOOLTIP_MODE_SHARED_CROSSHAIR, schemaVersion=SCHEMA_VERSION,
        templating=variables(stack), panels=panels,
    ).auto_panel_ids()


def texts(stack: Stack) -> Any:
    """The panel texts of the stack's language, by key."""
    return lambda key, **values: panel_text(stack.language, key, **values)
