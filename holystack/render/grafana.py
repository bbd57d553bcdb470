"""Grafana dashboards (built with grafanalib) and the provisioning files that load them."""
from __future__ import annotations

from typing import Any

from grafanalib import core as g

from .. import contract as c
from ..model import Stack
from ..output import Files, header, to_json, to_yaml
from ..promql import matcher, selector
from ..series import OVERVIEW_DASHBOARD, P95, Series, dashboard_uid
from .alerts import SECONDS_PER_HOUR
from .recording import PRICE_LABELS
from .text import panel_text

GRAFANA_DIR = "grafana"
DATASOURCE_VAR = "datasource"
DATASOURCE = {"type": "prometheus", "uid": "${%s}" % DATASOURCE_VAR}
RATE_INTERVAL = "$__rate_interval"
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
    """PromQL of the overview panels, filtered by the dashboard variables."""

    def __init__(self, stack: Stack):
        self.p = stack.contract
        self.s = Series(stack)

    @staticmethod
    def _filters(*labels: str) -> list[str]:
        return [matcher(label, f"${label}", "=~") for label in labels]

    def calls(self, *extra: str) -> str:
        return selector(self.p.requests.name, *self._filters(*FILTER_VARIABLES), *extra)

    def call_rate(self, labels: str, *extra: str) -> str:
        return f"sum by ({labels}) (rate({self.calls(*extra)}[{RATE_INTERVAL}]))"

    def call_ratio(self, labels: str, status_regex: str) -> str:
        numerator = self.call_rate(labels, matcher(c.STATUS_CODE, status_regex, "=~"))
        return f"{numerator}\n/\n{self.call_rate(labels)}"

    def tokens(self) -> str:
        return selector(self.p.tokens.name, *self._filters(c.PROVIDER, c.MODEL))

    def cost_over(self, labels: str, window: str) -> str:
        join = f"on ({', '.join(PRICE_LABELS)}) group_left ()"
        return f"sum by ({labels}) (\n  increase({self.tokens()}[{window}])\n  * {join}\n  {self.s.token_price}\n)"

    def latency(self, quantile: str, *labels: str) -> str:
        buckets = selector(f"{self.p.duration.name}_bucket", *self._filters(*FILTER_VARIABLES))
        return f"histogram_quantile({quantile}, sum by ({', '.join((c.LE, *labels))}) (rate({buckets}[{RATE_INTERVAL}])))"

    def recorded(self, name: str, *labels: str) -> str:
        return selector(name, *self._filters(*labels))


def _target(expr: str, ref: str, legend: str = "", instant: bool = False) -> g.Target:
    return g.Target(expr=expr, refId=ref, legendFormat=legend, instant=instant, datasource=DATASOURCE,
                    format="table" if instant else "time_series")


def _timeseries(title: str, unit: str, targets: list[g.Target], pos: g.GridPos, **kw: Any) -> g.TimeSeries:
    return g.TimeSeries(title=title, dataSource=DATASOURCE, targets=targets, unit=unit, gridPos=pos,
                        legendDisplayMode="table", legendPlacement="right", tooltipMode="multi", **kw)


def _stat(title: str, unit: str, expr: str, pos: g.GridPos) -> g.Stat:
    return g.Stat(title=title, dataSource=DATASOURCE, targets=[_target(expr, "A")], format=unit,
                  gridPos=pos, reduceCalc="lastNotNull", graphMode="none")


def _threshold_steps(levels: list[float]) -> list[dict[str, Any]]:
    colours = ["green", "orange", "red"]
    return [{"color": "green", "value": None}] + [
        {"color": colours[min(i + 1, 2)], "value": level} for i, level in enumerate(sorted(levels))]


def _variables(stack: Stack) -> g.Templating:
    requests = stack.contract.requests.name
    t = lambda key: panel_text(stack.language, key)  # noqa: E731
    variables = [g.Template(name=DATASOURCE_VAR, label=t("var_datasource"), query="prometheus",
                            type="datasource", default=stack.dashboards.datasource)]
    scope: list[str] = []
    for label in FILTER_VARIABLES:
        metric = selector(requests, *[matcher(v, f"${v}", "=~") for v in scope])
        variables.append(g.Template(
            name=label, label=t(f"var_{label}"), query=f"label_values({metric}, {label})",
            dataSource=DATASOURCE, includeAll=True, multi=True, allValue=".*", default="$__all",
            refresh=g.REFRESH_ON_TIME_RANGE_CHANGE))
        scope.append(label)
    return g.Templating(list=variables)


def overview_dashboard(stack: Stack) -> g.Dashboard:
    q, s, t = Queries(stack), Series(stack), (lambda key: panel_text(stack.language, key))
    th = stack.thresholds
    layout = Layout()
    panels: list[Any] = [
        g.RowPanel(title=t("row_traffic"), gridPos=layout.row()),
        _stat(t("stat_request_rate"), "reqps", f"sum(rate({q.calls()}[{RATE_INTERVAL}]))", layout.place(6, 4)),
        _stat(t("stat_success_ratio"), "percentunit",
              f"sum(rate({q.calls(matcher(c.STATUS_CODE, c.SUCCESS, '=~'))}[{RATE_INTERVAL}]))\n/\n"
              f"sum(rate({q.calls()}[{RATE_INTERVAL}]))", layout.place(6, 4)),
        _stat(t("stat_p95"), "s", q.latency(P95),
              layout.place(6, 4)),
        _stat(t("stat_spend_24h"), "currencyUSD", f"sum({q.recorded(s.cost_24h, c.PROVIDER, c.MODEL)})",
              layout.place(6, 4)),
        _timeseries(t("request_rate_by_status"), "reqps",
                    [_target(q.call_rate(c.STATUS_CODE), "A", "{{status_code}}")], layout.place(12, 8),
                    stacking={"mode": "normal"}, fillOpacity=30),
        _timeseries(t("error_ratio"), "percentunit",
                    [_target(q.call_ratio(c.ENDPOINT, c.FAILED), "A", "{{endpoint}}")], layout.place(12, 8)),
        _timeseries(t("rate_limit_ratio"), "percentunit",
                    [_target(q.call_ratio(f"{c.PROVIDER}, {c.MODEL}", c.RATE_LIMITED), "A", "{{provider}} {{model}}")],
                    layout.place(12, 8), thresholdsStyleMode="line",
                    thresholds=_threshold_steps([v for _, v in th.rate_limit_ratio.levels])),
        _timeseries(t("timeout_ratio"), "percentunit",
                    [_target(q.call_ratio(f"{c.PROVIDER}, {c.ENDPOINT}", c.STATUS_TIMEOUT), "A",
                             "{{provider}} {{endpoint}}")],
                    layout.place(12, 8), thresholdsStyleMode="line",
                    thresholds=_threshold_steps([v for _, v in th.timeout_ratio.levels])),
        g.RowPanel(title=t("row_latency"), gridPos=layout.row()),
        _timeseries(t("latency_quantiles"), "s",
                    [_target(q.latency(quantile, c.ENDPOINT), ref, f"p{float(quantile) * 100:g} {{{{endpoint}}}}")
                     for quantile, ref in (("0.5", "A"), ("0.95", "B"), ("0.99", "C"))],
                    layout.place(24, 9)),
        g.RowPanel(title=t("row_cost"), gridPos=layout.row()),
        _timeseries(t("tokens_by_model"), "short",
                    [_target(f"sum by ({c.MODEL}, {c.TOKEN_TYPE}) (rate({q.tokens()}[{RATE_INTERVAL}]))", "A",
                             "{{model}} {{token_type}}")], layout.place(12, 8)),
        _timeseries(t("spend_rate"), "currencyUSD",
                    [_target(f"sum by ({c.PROVIDER}) ({q.recorded(s.cost_rate, c.PROVIDER, c.MODEL)}) * {SECONDS_PER_HOUR}",
                             "A", "{{provider}}")], layout.place(12, 8)),
        _timeseries(t("cost_per_day"), "currencyUSD",
                    [_target(q.cost_over(c.MODEL, "$__interval"), "A", "{{model}}")], layout.place(12, 8),
                    interval="1d", drawStyle="bars", fillOpacity=80, stacking={"mode": "normal"}),
        g.BarGauge(title=t("cost_by_model"), dataSource=DATASOURCE, format="currencyUSD",
                   targets=[_target(q.cost_over(c.MODEL, "$__range"), "A", "{{model}}", instant=True)],
                   gridPos=layout.place(12, 8), orientation="horizontal", displayMode="gradient", calc="lastNotNull",
                   extraJson={"fieldConfig": {"defaults": {"unit": "currencyUSD"}}}),
        g.Table(title=t("top_failing"), dataSource=DATASOURCE, unit="short",
                targets=[_target(f"topk(10, sum by ({c.PROVIDER}, {c.ENDPOINT}, {c.STATUS_CODE}) "
                                 f"(increase({q.calls(matcher(c.STATUS_CODE, c.SUCCESS, '!~'))}[$__range])))",
                                 "A", instant=True)],
                gridPos=layout.place(12, 8)),
        _timeseries(t("ratelimit_headroom"), "percentunit",
                    [_target(f"{q.recorded(stack.contract.ratelimit_remaining.name, c.PROVIDER, c.MODEL)}\n/\n"
                             f"{q.recorded(stack.contract.ratelimit_limit.name, c.PROVIDER, c.MODEL)}",
                             "A", "{{provider}} {{model}} {{resource}}")], layout.place(12, 8)),
    ]
    return g.Dashboard(
        title=panel_text(stack.language, "overview_title", name=stack.name),
        uid=dashboard_uid(stack, OVERVIEW_DASHBOARD),
        description=header(stack.source_name).strip("# \n"),
        tags=["holystack", stack.name, "llm"],
        timezone="utc", refresh="1m", editable=False,
        graphTooltip=g.GRAPH_TOOLTIP_MODE_SHARED_CROSSHAIR,
        templating=_variables(stack), panels=panels,
    ).auto_panel_ids()


def dashboards(stack: Stack) -> dict[str, g.Dashboard]:
    """Slug -> dashboard."""
    return {OVERVIEW_DASHBOARD: overview_dashboard(stack)}


def _dashboard_json(dashboard: g.Dashboard) -> str:
    import json

    from grafanalib._gen import DashboardEncoder
    data = json.loads(json.dumps(dashboard.to_json_data(), cls=DashboardEncoder))
    return to_json(data)


def render_grafana(stack: Stack) -> Files:
    d = stack.dashboards
    files = {f"{GRAFANA_DIR}/dashboards/{dashboard_uid(stack, slug)}.json": _dashboard_json(dashboard)
             for slug, dashboard in dashboards(stack).items()}
    datasources = {"apiVersion": 1, "datasources": [{
        "name": d.datasource, "type": "prometheus", "uid": f"{stack.name}-prometheus", "access": "proxy",
        "url": d.prometheus_url, "isDefault": True, "editable": False,
        # Grafana's $__rate_interval is at least 4x this.
        "jsonData": {"timeInterval": str(stack.slowest_scrape)},
    }]}
    providers = {"apiVersion": 1, "providers": [{
        "name": stack.name, "folder": d.folder, "type": "file", "disableDeletion": True,
        "allowUiUpdates": False, "updateIntervalSeconds": 60, "options": {"path": d.path},
    }]}
    files[f"{GRAFANA_DIR}/provisioning/datasources/{stack.name}.yaml"] = to_yaml(datasources, stack.source_name)
    files[f"{GRAFANA_DIR}/provisioning/dashboards/{stack.name}.yaml"] = to_yaml(providers, stack.source_name)
    return files
