"""The typed, frozen model of a valid spec. Renderers read only this, never the raw dict."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import defaults as d
from .contract import Contract
from .durations import format_ms, parse_ms


@dataclass(frozen=True)
class Duration:
    """A duration kept in milliseconds, shown in canonical Prometheus notation."""

    ms: int

    @classmethod
    def parse(cls, text: str) -> "Duration":
        return cls(parse_ms(text))

    @property
    def seconds(self) -> float:
        return self.ms / 1000

    def __str__(self) -> str:
        return format_ms(self.ms)


@dataclass(frozen=True)
class Job:
    name: str
    targets: tuple[str, ...]
    interval: Duration
    metrics_path: str
    scheme: str


@dataclass(frozen=True)
class Provider:
    name: str
    base_url: str | None
    timeout: Duration


@dataclass(frozen=True)
class Endpoint:
    path: str
    latency_p95: Duration | None
    availability: float | None


@dataclass(frozen=True)
class Prices:
    """USD per 1M tokens."""

    input: float
    output: float
    cached_input: float | None

    @property
    def effective_cached_input(self) -> float:
        return self.input if self.cached_input is None else self.cached_input


@dataclass(frozen=True)
class LlmModel:
    name: str
    prices: Prices


@dataclass(frozen=True)
class Levels:
    """Alert levels by severity (info, warning, critical) and how long a breach must last."""

    levels: tuple[tuple[str, float], ...]
    for_: Duration

    def get(self, severity: str) -> float | None:
        return dict(self.levels).get(severity)


@dataclass(frozen=True)
class Thresholds:
    rate_limit_ratio: Levels
    server_error_ratio: Levels
    timeout_ratio: Levels
    success_ratio: Levels
    latency_p95: Levels  # levels in seconds
    tokens_per_hour: Levels
    daily_budget_usd: float | None
    monthly_budget_usd: float | None
    budget_for: Duration
    target_down_for: Duration
    metrics_absent_for: Duration


@dataclass(frozen=True)
class Integration:
    """One notifier of a receiver: kind (slack, email, ...) and its spec fields."""

    kind: str
    fields: tuple[tuple[str, Any], ...]

    def get(self, key: str, default: Any = None) -> Any:
        return dict(self.fields).get(key, default)


@dataclass(frozen=True)
class Receiver:
    name: str
    integrations: tuple[Integration, ...]


@dataclass(frozen=True)
class Route:
    matchers: tuple[str, ...]
    receiver: str
    continue_: bool
    group_by: tuple[str, ...] | None


@dataclass(frozen=True)
class Alerting:
    alertmanagers: tuple[str, ...]
    group_by: tuple[str, ...]
    group_wait: Duration
    group_interval: Duration
    repeat_interval: Duration
    default_receiver: str
    runbook_url: str | None
    receivers: tuple[Receiver, ...]
    routes: tuple[Route, ...]
    # The Watchdog's receiver: the spec's dead man's switch, else WATCHDOG_RECEIVER (does nothing);
    # how often it is repeated when the spec names a receiver.
    watchdog_receiver: str = d.WATCHDOG_RECEIVER
    watchdog_repeat_interval: Duration | None = None


@dataclass(frozen=True)
class Dashboards:
    datasource: str
    folder: str
    url: str | None
    prometheus_url: str
    path: str


@dataclass(frozen=True)
class BurnRate:
    """One multi-window burn-rate alert: fires when both windows burn faster than factor."""

    severity: str
    long_window: Duration
    short_window: Duration
    factor: float


@dataclass(frozen=True)
class Slo:
    period: Duration
    burn_rates: tuple[BurnRate, ...]
    min_calls: int


@dataclass(frozen=True)
class Stack:
    """Everything holystack renders from, with every default applied."""

    source_name: str
    name: str
    alert_prefix: str
    language: str
    contract: Contract
    latency_buckets: tuple[float, ...]
    rate_window: Duration
    scrape_interval: Duration
    evaluation_interval: Duration
    prometheus_address: str
    jobs: tuple[Job, ...]
    providers: tuple[Provider, ...]
    endpoints: tuple[Endpoint, ...]
    models: tuple[LlmModel, ...]
    thresholds: Thresholds
    alerting: Alerting
    dashboards: Dashboards
    slo: Slo

    def alert_name(self, kind: str) -> str:
        return f"{self.alert_prefix}{kind}"

    @property
    def self_jobs(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """(job name, targets) of the jobs that scrape Prometheus and the Alertmanagers."""
        prometheus, alertmanager = d.RESERVED_JOB_NAMES
        jobs = ((prometheus, (self.prometheus_address,)),)
        return jobs + (((alertmanager, self.alerting.alertmanagers),) if self.alerting.alertmanagers else ())

    def latency_p95_of(self, endpoint: Endpoint) -> float | None:
        """The p95 threshold in seconds an endpoint is held to: its own, else thresholds.latency_p95."""
        own = endpoint.latency_p95
        return own.seconds if own is not None else self.thresholds.latency_p95.get("warning")

    @property
    def slowest_scrape(self) -> Duration:
        return max((job.interval for job in self.jobs), key=lambda duration: duration.ms)


def _slo(data: dict[str, Any]) -> Slo:
    """The SLO settings; a window shorter than RATE_WINDOW_MIN_SCRAPES scrapes is lengthened to that."""
    floor = d.RATE_WINDOW_MIN_SCRAPES * max(d.job_intervals_ms(data).values())
    widen = lambda window: Duration(max(parse_ms(window), floor))  # noqa: E731
    return Slo(Duration.parse(d.SLO_PERIOD),
               tuple(BurnRate(severity, widen(long), widen(short), factor)
                     for severity, long, short, factor in d.BURN_RATE_ALERTS),
               data.get("slo", {}).get("min_calls", d.DEFAULT_SLO_MIN_CALLS))


def _levels(raw: dict[str, Any], parse=float) -> Levels:
    present = tuple((key, parse(raw[key])) for key in d.LEVEL_KEYS if key in raw)
    return Levels(present, Duration.parse(raw["for"]))


def _route_matchers(route: dict[str, Any]) -> tuple[str, ...]:
    matchers = [f'{label}="{_escape(value)}"' for label, value in sorted(route.get("match", {}).items())]
    matchers += [f'{label}=~"{_escape(value)}"' for label, value in sorted(route.get("match_re", {}).items())]
    matchers += [m.strip() for m in route.get("matchers", [])]
    return tuple(matchers)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _watchdog(watchdog: dict[str, Any] | None) -> dict[str, Any]:
    if watchdog is None:
        return {}
    return {"watchdog_receiver": watchdog["receiver"],
            "watchdog_repeat_interval": Duration.parse(watchdog.get("repeat_interval", d.DEFAULT_WATCHDOG_REPEAT))}


def build_model(data: dict[str, Any], source_name: str) -> Stack:
    """Map a spec that passed read_spec onto the model."""
    scrape = data["scrape"]
    scrape_interval = Duration.parse(scrape.get("interval", d.DEFAULT_SCRAPE_INTERVAL))
    thresholds = d.thresholds_with_defaults(data)
    budget = thresholds["budget"]
    alerting = d.timing_with_defaults(data["alerting"])
    dashboards = data.get("dashboards", {})
    integrations_kinds = ("slack", "pagerduty", "webhook", "email", "opsgenie")
    return Stack(
        source_name=source_name,
        name=data["name"],
        alert_prefix=data["alert_prefix"],
        language=data.get("language", d.DEFAULT_LANGUAGE),
        contract=Contract(data["metrics"]["prefix"]),
        latency_buckets=tuple(float(b) for b in d.latency_buckets(data)),
        rate_window=Duration(d.effective_rate_window_ms(data)),
        scrape_interval=scrape_interval,
        evaluation_interval=Duration.parse(scrape.get("evaluation_interval", str(scrape_interval))),
        prometheus_address=scrape.get("prometheus_address", d.DEFAULT_PROMETHEUS_ADDRESS),
        jobs=tuple(
            Job(job["name"], tuple(job["targets"]),
                Duration.parse(job["interval"]) if "interval" in job else scrape_interval,
                job.get("metrics_path", d.DEFAULT_METRICS_PATH), job.get("scheme", d.DEFAULT_SCHEME))
            for job in scrape["jobs"]),
        providers=tuple(
            Provider(p["name"], p.get("base_url"), Duration.parse(p.get("timeout", d.DEFAULT_PROVIDER_TIMEOUT)))
            for p in data["providers"]),
        endpoints=tuple(
            Endpoint(e["path"], Duration.parse(e["latency_p95"]) if "latency_p95" in e else None,
                     float(e["availability"]) if "availability" in e else None)
            for e in data["endpoints"]),
        models=tuple(
            LlmModel(m["name"], Prices(float(m["prices"]["input"]), float(m["prices"].get("output", 0)),
                                       float(m["prices"]["cached_input"]) if "cached_input" in m["prices"] else None))
            for m in data["models"]),
        thresholds=Thresholds(
            rate_limit_ratio=_levels(thresholds["rate_limit_ratio"]),
            server_error_ratio=_levels(thresholds["server_error_ratio"]),
            timeout_ratio=_levels(thresholds["timeout_ratio"]),
            success_ratio=_levels(thresholds["success_ratio"]),
            latency_p95=_levels(thresholds["latency_p95"], parse=lambda t: Duration.parse(t).seconds),
            tokens_per_hour=_levels(thresholds["tokens_per_hour"]),
            daily_budget_usd=budget.get("daily_usd"),
            monthly_budget_usd=budget.get("monthly_usd"),
            budget_for=Duration.parse(budget["for"]),
            target_down_for=Duration.parse(thresholds["target_down"]["for"]),
            metrics_absent_for=Duration.parse(thresholds["metrics_absent"]["for"]),
        ),
        alerting=Alerting(
            alertmanagers=tuple(alerting["alertmanagers"]),
            group_by=tuple(alerting["group_by"]),
            group_wait=Duration.parse(alerting["group_wait"]),
            group_interval=Duration.parse(alerting["group_interval"]),
            repeat_interval=Duration.parse(alerting["repeat_interval"]),
            default_receiver=alerting["default_receiver"],
            runbook_url=alerting.get("runbook_url"),
            receivers=tuple(
                Receiver(r["name"], tuple(Integration(kind, tuple(sorted(r[kind].items())))
                                          for kind in integrations_kinds if kind in r))
                for r in alerting["receivers"]),
            routes=tuple(
                Route(_route_matchers(r), r["receiver"], bool(r.get("continue", False)),
                      tuple(r["group_by"]) if "group_by" in r else None)
                for r in alerting["routes"]),
            **_watchdog(alerting.get("watchdog")),
        ),
        slo=_slo(data),
        dashboards=Dashboards(
            datasource=dashboards.get("datasource", d.DEFAULT_DATASOURCE),
            folder=dashboards.get("folder", data["name"]),
            url=dashboards.get("url", "").rstrip("/") or None,
            prometheus_url=dashboards.get("prometheus_url", d.DEFAULT_PROMETHEUS_URL),
            path=dashboards.get("path", f"{d.DEFAULT_DASHBOARD_ROOT}/{data['name']}"),
        ),
    )
