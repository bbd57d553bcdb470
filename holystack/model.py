"""The typed, frozen model of a valid spec. Renderers read only this, never the raw dict."""
from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from . import defaults
from .contract import (TOKEN_CACHE_WRITE, TOKEN_CACHE_WRITE_1H, TOKEN_CACHED_PROMPT, TOKEN_COMPLETION, TOKEN_PROMPT,
                       Contract)
from .durations import Duration, parse_ms
from .frozen import frozen
from .promql import quote
from .sources import DEFAULT_SOURCE, Source, make_source
from .thresholds import Thresholds, with_defaults


@frozen
class ScrapeAuthorization:
    """The Authorization header a scrape job sends (LiteLLM's /metrics/ asks for its master key):
    the scheme and the file holding the credentials, which Prometheus reads; never the credentials."""

    type: str
    credentials_file: str


@frozen
class Job:
    name: str
    targets: tuple[str, ...]
    interval: Duration
    metrics_path: str
    scheme: str
    authorization: ScrapeAuthorization | None = None


@frozen
class Provider:
    name: str
    base_url: str | None
    timeout: Duration


@frozen
class LatencySlo:
    """The share (objective, percent) of an endpoint's logical calls that must end within threshold."""

    threshold: Duration
    objective: float


@frozen
class Endpoint:
    path: str
    latency_p95: Duration | None
    availability: float | None
    latency_slo: LatencySlo | None = None


# Spec prices are USD per this many tokens.
PER_MILLION = 1_000_000


@frozen
class PriceSource:
    """Where a model's prices come from: genai-prices (resolved at render time) or typed by hand,
    with the provider and model ref to look them up by (``holystack prices``)."""

    origin: str  # "genai-prices" or "typed"
    provider: str | None
    model: str
    tiered: bool = False  # genai-prices: long-context tiers or time-of-day rates; the base price is used
    error: str | None = None  # genai-prices: why the model could not be priced (a spec problem)
    error_field: str = "from"  # the prices field the error names

    @property
    def from_data(self) -> bool:
        return self.origin != TYPED


TYPED = "typed"


@frozen
class Prices:
    """USD per 1M tokens. cache_write defaults to input, cache_write_1h to cache_write."""

    input: float
    output: float
    cached_input: float | None
    cache_write: float | None = None
    cache_write_1h: float | None = None
    source: PriceSource | None = None

    @property
    def effective_cached_input(self) -> float:
        return self.input if self.cached_input is None else self.cached_input

    @property
    def effective_cache_write(self) -> float:
        return self.input if self.cache_write is None else self.cache_write

    @property
    def effective_cache_write_1h(self) -> float:
        return self.effective_cache_write if self.cache_write_1h is None else self.cache_write_1h

    def per_million(self) -> dict[str, float]:
        """USD per 1M tokens of each token type as billed: prompt is the prompt tokens neither read
        from nor written to the cache, cache_write the 5-minute writes, cache_write_1h the 1-hour ones."""
        return {TOKEN_PROMPT: self.input, TOKEN_CACHED_PROMPT: self.effective_cached_input,
                TOKEN_CACHE_WRITE: self.effective_cache_write, TOKEN_CACHE_WRITE_1H: self.effective_cache_write_1h,
                TOKEN_COMPLETION: self.output}

    def usd_per_token(self) -> dict[str, float]:
        """USD per token of each token type, as the cost rules price them. prompt counts every
        prompt token (cache reads and writes included) at input, so cached_prompt carries
        cached_input - input and cache_write carries cache_write - input. cache_write_1h (a part
        of cache_write) carries cache_write_1h - cache_write, and only where the two differ."""
        per_token = {TOKEN_PROMPT: self.input / PER_MILLION, TOKEN_COMPLETION: self.output / PER_MILLION,
                     TOKEN_CACHED_PROMPT: (self.effective_cached_input - self.input) / PER_MILLION,
                     TOKEN_CACHE_WRITE: (self.effective_cache_write - self.input) / PER_MILLION}
        if self.effective_cache_write_1h != self.effective_cache_write:
            per_token[TOKEN_CACHE_WRITE_1H] = (self.effective_cache_write_1h - self.effective_cache_write) / PER_MILLION
        return per_token

    def usd(self, tokens: Mapping[str, float]) -> float:
        """What tokens cost, by token type (prompt includes the cache types, as in the contract)."""
        per_token = self.usd_per_token()
        return sum(count * per_token.get(token_type, 0.0) for token_type, count in tokens.items())


@frozen
class LlmModel:
    name: str
    prices: Prices


@frozen
class Integration:
    """One notifier of a receiver: kind (slack, email, ...) and its spec fields."""

    kind: str
    fields: tuple[tuple[str, Any], ...]

    def get(self, key: str, default: Any = None) -> Any:
        return dict(self.fields).get(key, default)


@frozen
class Receiver:
    name: str
    integrations: tuple[Integration, ...]


@frozen
class Route:
    matchers: tuple[str, ...]
    receiver: str
    continue_: bool
    group_by: tuple[str, ...] | None


@frozen
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
    watchdog_receiver: str = defaults.WATCHDOG_RECEIVER
    watchdog_repeat_interval: Duration | None = None


@frozen
class Dashboards:
    datasource: str
    folder: str
    url: str | None
    prometheus_url: str
    path: str


@frozen
class BurnRate:
    """One multi-window burn-rate alert: fires when both windows burn faster than factor."""

    severity: str
    long_window: Duration
    short_window: Duration
    factor: float


@frozen
class Slo:
    period: Duration
    burn_rates: tuple[BurnRate, ...]
    min_calls: int


# --- Scale-out: Kubernetes output, remote write and separate rulers (the spec's kubernetes:,
# remote_write: and rulers: sections). One block, built by _scale_out() from build_model.

Labels = tuple[tuple[str, str], ...]


@frozen
class ManagedPrometheus:
    """A Prometheus object holystack renders, with the retention the rules need."""

    name: str
    retention: Duration
    replicas: int
    service_account: str | None
    alertmanager_service: str | None   # its web port, in the namespace


@frozen
class Kubernetes:
    namespace: str
    labels: Labels                      # on every object: ruleSelector, serviceMonitorSelector, ...
    monitor_kind: str                   # ServiceMonitor or PodMonitor
    port: str                           # the metrics port's name
    selectors: tuple[tuple[str, Labels], ...]  # job name -> matchLabels, for every spec job
    target_namespaces: tuple[str, ...]  # where the scraped Services or Pods live; () = namespace
    alertmanager_kind: str              # AlertmanagerConfig or Secret
    alertmanager_secret: str            # name of the alertmanager.yaml Secret
    credentials_secret: str             # Secret with the receivers' *_file contents, key = file name
    dashboard_label: tuple[str, str]
    folder_annotation: str
    prometheus: ManagedPrometheus | None

    def selector_of(self, job: str) -> Labels:
        return dict(self.selectors)[job]


@frozen
class RemoteWrite:
    name: str | None
    url: str
    username: str | None
    password_file: str | None
    bearer_token_file: str | None
    headers: Labels
    queue_config: tuple[tuple[str, Any], ...]
    send_everything: bool


@frozen
class Rulers:
    vmalert: bool
    thanos: bool
    mimir_namespace: str | None         # None: no Mimir/Cortex output

    @property
    def asked(self) -> bool:
        """Whether the spec asks for any ruler (each field is off as False or None)."""
        return any(getattr(self, f.name) not in (False, None) for f in fields(self))


@frozen
class ScaleOut:
    kubernetes: Kubernetes | None
    remote_write: tuple[RemoteWrite, ...]
    rulers: Rulers


RFC1123_MAX = 63


K8S_NAME_DIGEST = 8


def k8s_name(*parts: str) -> str:
    """A Kubernetes object name (an RFC 1123 label) from the parts: lowercase, '-' for anything else,
    at most 63 characters. A longer name is cut and ends in 8 hex digits of the SHA-256 of the whole,
    so that two long names that share their first 63 characters stay distinct."""
    joined = "-".join(parts)
    text = re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9-]+", "-", joined.lower())).strip("-")
    if len(text) <= RFC1123_MAX:
        return text
    digest = hashlib.sha256(joined.encode("utf-8")).hexdigest()[:K8S_NAME_DIGEST]
    return f"{text[:RFC1123_MAX - K8S_NAME_DIGEST - 1].rstrip('-')}-{digest}"


def remote_write_secret(stack_name: str) -> str:
    """The Secret the Kubernetes Prometheus object reads remote-write credentials from."""
    return k8s_name(stack_name, "remote-write-credentials")


def scrape_secret(stack_name: str) -> str:
    """The Secret the ServiceMonitors and PodMonitors read scrape credentials from (key = the
    credentials_file's name), in kubernetes.namespace."""
    return k8s_name(stack_name, "scrape-credentials")


def monitor_name(stack_name: str, job_name: str) -> str:
    """The ServiceMonitor or PodMonitor of a scrape job: the job's name, after the stack's unless it
    starts with it (job holysheep-app and job app of stack holysheep both give holysheep-app:
    semantics.py refuses such a pair)."""
    name = job_name if job_name.lower().startswith(stack_name) else f"{stack_name}-{job_name}"
    return k8s_name(name)


def _labels(raw: dict[str, Any]) -> Labels:
    return tuple(sorted((str(k), str(v)) for k, v in raw.items()))


def retention_needed(slo_period: Duration) -> Duration:
    """The retention every output states (OUT/README.md's flag, `holystack up`, the Kubernetes
    Prometheus object) and every check demands: the longest window read (the SLO period, or a month
    of spend), and a day more (defaults.LONGEST_MONTH, defaults.RETENTION_MARGIN)."""
    longest = max(slo_period.ms, parse_ms(defaults.LONGEST_MONTH))
    return Duration(longest + parse_ms(defaults.RETENTION_MARGIN))


def _scale_out(data: dict[str, Any], name: str, slo_period: Duration) -> ScaleOut:
    kube = data.get("kubernetes")
    kubernetes = None
    if kube is not None:
        given = kube.get("selectors", {})
        managed = kube.get("prometheus")
        kubernetes = Kubernetes(
            namespace=kube["namespace"],
            labels=_labels(kube.get("labels", defaults.DEFAULT_KUBERNETES_LABELS)),
            monitor_kind=kube.get("monitor", defaults.DEFAULT_MONITOR_KIND),
            port=kube.get("port", defaults.DEFAULT_METRICS_PORT_NAME),
            selectors=tuple((job["name"], _labels(given.get(job["name"], {defaults.DEFAULT_SELECTOR_LABEL: job["name"]})))
                            for job in data["scrape"]["jobs"]),
            target_namespaces=tuple(kube.get("target_namespaces", ())),
            alertmanager_kind=kube.get("alertmanager", defaults.DEFAULT_ALERTMANAGER_KIND),
            alertmanager_secret=kube.get("alertmanager_secret", f"alertmanager-{name}"),
            credentials_secret=kube.get("credentials_secret", f"{name}-alertmanager-credentials"),
            dashboard_label=next(iter(_labels(kube.get("dashboard_label", defaults.DEFAULT_DASHBOARD_LABEL)))),
            folder_annotation=kube.get("folder_annotation", defaults.DEFAULT_FOLDER_ANNOTATION),
            prometheus=None if managed is None else ManagedPrometheus(
                managed.get("name", name),
                Duration.parse(managed["retention"]) if "retention" in managed else retention_needed(slo_period),
                managed.get("replicas", defaults.DEFAULT_PROMETHEUS_REPLICAS),
                managed.get("service_account"), managed.get("alertmanager_service")),
        )
    remote = tuple(
        RemoteWrite(r.get("name"), r["url"], r.get("basic_auth", {}).get("username"),
                    r.get("basic_auth", {}).get("password_file"), r.get("bearer_token_file"),
                    _labels(r.get("headers", {})), tuple(r.get("queue_config", {}).items()),
                    bool(r.get("send_everything", False)))
        for r in data.get("remote_write", []))
    rulers = data.get("rulers", {})
    mimir = rulers.get("mimir")
    return ScaleOut(kubernetes, remote,
                    Rulers(bool(rulers.get("vmalert", False)), bool(rulers.get("thanos", False)),
                           None if mimir is None else mimir.get("namespace", name)))

# --- end of the scale-out block


# --- resilience: retry, circuit breaker and fallback of holystack.instrument's transport -------------
@frozen
class RetryPolicy:
    """Retries on one provider: at most max_attempts attempts and max_wait of waiting in all; waits
    are the rate-limit headers' (capped at backoff_cap) or full-jitter exponential backoff; no new
    attempt starts past deadline from the start of the logical call (fallbacks included)."""

    max_attempts: int
    max_wait: Duration
    backoff_base: Duration
    backoff_cap: Duration
    statuses: tuple[int, ...]
    deadline: Duration


@frozen
class BreakerPolicy:
    """Opens when, within window, failure_count failures happen or, over at least min_calls attempts,
    the failure share reaches failure_ratio; half-opens after open_for; closes after
    half_open_probes successful probes, re-opens on a failed one."""

    enabled: bool
    failure_ratio: float | None
    failure_count: int | None
    min_calls: int
    window: Duration
    open_for: Duration
    half_open_probes: int


@frozen
class ProviderResilience:
    retry: RetryPolicy
    breaker: BreakerPolicy


@frozen
class Fallback:
    """When source's retries are spent or its breaker is open, the call goes to target, its model
    renamed by models (model asked for -> model sent to target) where listed."""

    source: str
    target: str
    models: tuple[tuple[str, str], ...]

    def model_for(self, model: str) -> str:
        return dict(self.models).get(model, model)


@frozen
class Resilience:
    default: ProviderResilience
    providers: tuple[tuple[str, ProviderResilience], ...]
    fallbacks: tuple[Fallback, ...]

    def for_provider(self, name: str) -> ProviderResilience:
        return dict(self.providers).get(name, self.default)

    def fallback_from(self, name: str) -> Fallback | None:
        return next((f for f in self.fallbacks if f.source == name), None)


def build_resilience(data: dict[str, Any]) -> Resilience:
    """The resilience section with its defaults; a provider's own retry/breaker keys override the
    section's, which override holystack's (defaults.DEFAULT_RETRY, DEFAULT_BREAKER)."""
    section = data.get("resilience", {})

    def settings(own: dict[str, Any]) -> ProviderResilience:
        retry = {**defaults.DEFAULT_RETRY, **section.get("retry", {}), **own.get("retry", {})}
        breaker = {**defaults.DEFAULT_BREAKER, **section.get("breaker", {}), **own.get("breaker", {})}
        if "failure_count" in {**section.get("breaker", {}), **own.get("breaker", {})} and \
                "failure_ratio" not in {**section.get("breaker", {}), **own.get("breaker", {})}:
            breaker["failure_ratio"] = None  # a count alone replaces the default ratio
        return ProviderResilience(
            RetryPolicy(int(retry["max_attempts"]), Duration.parse(retry["max_wait"]),
                        Duration.parse(retry["backoff_base"]), Duration.parse(retry["backoff_cap"]),
                        tuple(int(s) for s in retry["statuses"]), Duration.parse(retry["deadline"])),
            BreakerPolicy(bool(breaker["enabled"]), breaker.get("failure_ratio"), breaker.get("failure_count"),
                          int(breaker["min_calls"]), Duration.parse(breaker["window"]),
                          Duration.parse(breaker["open_for"]), int(breaker["half_open_probes"])))

    return Resilience(settings({}),
                      tuple((name, settings(own)) for name, own in sorted(section.get("providers", {}).items())),
                      tuple(Fallback(f["from"], f["to"], tuple(sorted(f.get("models", {}).items())))
                            for f in section.get("fallbacks", [])))


@frozen
class Stack:
    """Everything holystack renders from, with every default applied."""

    source_name: str
    name: str
    alert_prefix: str
    language: str
    contract: Contract
    source: Source
    operations: tuple[tuple[str, str], ...]  # metrics.operations (otel-genai): operation name -> endpoint path
    latency_buckets: tuple[float, ...]
    rate_window: Duration
    scrape_interval: Duration
    evaluation_interval: Duration
    # Prometheus' lookback delta: the gap across which a counter step still counts the increase.
    lookback: Duration
    prometheus_address: str
    jobs: tuple[Job, ...]
    providers: tuple[Provider, ...]
    endpoints: tuple[Endpoint, ...]
    models: tuple[LlmModel, ...]
    thresholds: Thresholds
    alerting: Alerting
    dashboards: Dashboards
    slo: Slo
    scale_out: ScaleOut
    resilience: Resilience

    def alert_name(self, kind: str) -> str:
        return f"{self.alert_prefix}{kind}"

    @property
    def self_jobs(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """(job name, targets) of the jobs that scrape Prometheus and the Alertmanagers."""
        prometheus, alertmanager = defaults.RESERVED_JOB_NAMES
        jobs = ((prometheus, (self.prometheus_address,)),)
        return jobs + (((alertmanager, self.alerting.alertmanagers),) if self.alerting.alertmanagers else ())

    def latency_p95_of(self, endpoint: Endpoint) -> float | None:
        """The p95 threshold in seconds an endpoint is held to: its own, else thresholds.latency_p95."""
        own = endpoint.latency_p95
        return own.seconds if own is not None else self.thresholds.latency_p95.get("warning")

    @property
    def slowest_scrape(self) -> Duration:
        return max((job.interval for job in self.jobs), key=lambda duration: duration.ms)

    @property
    def absent_for_floor(self) -> Duration:
        """The shortest for: of an absent() alert: ABSENT_FOR_MIN_SCRAPES of the slowest scrape."""
        return Duration(defaults.ABSENT_FOR_MIN_SCRAPES * self.slowest_scrape.ms)

    @property
    def rate_window_floor(self) -> Duration:
        """The shortest window a rate() may span here: RATE_WINDOW_MIN_SCRAPES of the slowest scrape."""
        return Duration(defaults.rate_window_floor_ms(self.slowest_scrape.ms))


def _slo(data: dict[str, Any], slowest_scrape_ms: int) -> Slo:
    """The SLO settings; a window shorter than the rate-window floor is lengthened to it."""
    floor = defaults.rate_window_floor_ms(slowest_scrape_ms)
    widen = lambda window: Duration(max(parse_ms(window), floor))  # noqa: E731
    return Slo(Duration.parse(defaults.SLO_PERIOD),
               tuple(BurnRate(severity, widen(long), widen(short), factor)
                     for severity, long, short, factor in defaults.BURN_RATE_ALERTS),
               data.get("slo", {}).get("min_calls", defaults.DEFAULT_SLO_MIN_CALLS))


def _typed_prices(prices: Mapping[str, Any], source: PriceSource) -> Prices:
    optional = {key: float(prices[key]) if prices.get(key) is not None else None
                for key in ("cached_input", "cache_write", "cache_write_1h")}
    return Prices(float(prices["input"]), float(prices.get("output") or 0), source=source, **optional)


def _prices(name: str, prices: Mapping[str, Any]) -> Prices:
    """A model's prices as typed, or read from genai-prices' data (models[].prices.from)."""
    ref = prices.get("model", name)
    if prices.get("from") is None:
        return _typed_prices(prices, PriceSource(TYPED, prices.get("provider"), ref))
    from . import pricedata  # the prices extra, loaded only for a spec that uses it

    provider = prices.get("provider")
    try:
        found = pricedata.find(ref, provider)
    except pricedata.PriceDataMissing as missing:
        return Prices(0.0, 0.0, None, source=PriceSource(pricedata.SOURCE, provider, ref, error=str(missing)))
    if found is None:
        where = f"at provider {provider!r}" if provider else "at any provider"
        error = (f"genai-prices {pricedata.version()} has no model {ref!r} {where}; type the prices by hand "
                 "(input, output, cached_input, cache_write) or name its provider and model")
        return Prices(0.0, 0.0, None, source=PriceSource(pricedata.SOURCE, provider, ref, error=error,
                                                                        error_field="model"))
    return _typed_prices(found.prices, PriceSource(pricedata.SOURCE, found.provider, found.model, found.tiered))


def _route_matchers(route: dict[str, Any]) -> tuple[str, ...]:
    matchers = [f"{label}={quote(value)}" for label, value in sorted(route.get("match", {}).items())]
    matchers += [f"{label}=~{quote(value)}" for label, value in sorted(route.get("match_re", {}).items())]
    matchers += [m.strip() for m in route.get("matchers", [])]
    return tuple(matchers)


INTEGRATION_KINDS = ("slack", "pagerduty", "webhook", "email", "opsgenie")


def _watchdog(watchdog: dict[str, Any] | None) -> dict[str, Any]:
    if watchdog is None:
        return {}
    return {"watchdog_receiver": watchdog["receiver"],
            "watchdog_repeat_interval": Duration.parse(watchdog.get("repeat_interval", defaults.DEFAULT_WATCHDOG_REPEAT))}


def _authorization(raw: dict[str, Any] | None) -> ScrapeAuthorization | None:
    if raw is None:
        return None
    return ScrapeAuthorization(raw.get("type", defaults.DEFAULT_AUTHORIZATION_TYPE), raw["credentials_file"])


def build_model(data: dict[str, Any], source_name: str) -> Stack:
    """Map a spec that passed the schema onto the model, applying every default (defaults.py) once."""
    scrape = data["scrape"]
    scrape_interval = Duration.parse(scrape.get("interval", defaults.DEFAULT_SCRAPE_INTERVAL))
    jobs = tuple(
        Job(job["name"], tuple(job["targets"]),
            Duration.parse(job["interval"]) if "interval" in job else scrape_interval,
            job.get("metrics_path", defaults.DEFAULT_METRICS_PATH), job.get("scheme", defaults.DEFAULT_SCHEME),
            _authorization(job.get("authorization")))
        for job in scrape["jobs"])
    slowest_scrape_ms = max(job.interval.ms for job in jobs)
    metrics = data["metrics"]
    rate_window = (Duration.parse(metrics["rate_window"]) if "rate_window" in metrics
                   else Duration(max(parse_ms(defaults.DEFAULT_RATE_WINDOW),
                                     defaults.rate_window_floor_ms(slowest_scrape_ms))))
    source = make_source(metrics.get("source", DEFAULT_SOURCE), Contract(metrics["prefix"]), metrics)
    alerting = defaults.alerting_with_defaults(data["alerting"])
    dashboards = data.get("dashboards", {})
    return Stack(
        source_name=source_name,
        name=data["name"],
        alert_prefix=data["alert_prefix"],
        language=data.get("language", defaults.DEFAULT_LANGUAGE),
        contract=Contract(metrics["prefix"]),
        source=source,
        operations=tuple(sorted(metrics.get("operations", {}).items())),
        latency_buckets=source.fixed_buckets or tuple(float(b) for b in metrics.get("latency_buckets",
                                                                                     defaults.DEFAULT_LATENCY_BUCKETS)),
        rate_window=rate_window,
        scrape_interval=scrape_interval,
        evaluation_interval=Duration.parse(scrape.get("evaluation_interval", str(scrape_interval))),
        lookback=Duration.parse(scrape.get("lookback", defaults.DEFAULT_LOOKBACK)),
        prometheus_address=scrape.get("prometheus_address", defaults.DEFAULT_PROMETHEUS_ADDRESS),
        jobs=jobs,
        providers=tuple(
            Provider(p["name"], p.get("base_url"),
                     Duration.parse(p.get("timeout", defaults.DEFAULT_PROVIDER_TIMEOUT)))
            for p in data["providers"]),
        endpoints=tuple(
            Endpoint(e["path"], Duration.parse(e["latency_p95"]) if "latency_p95" in e else None,
                     float(e["availability"]) if "availability" in e else None,
                     LatencySlo(Duration.parse(e["latency_slo"]["threshold"]), float(e["latency_slo"]["objective"]))
                     if "latency_slo" in e else None)
            for e in data["endpoints"]),
        models=tuple(LlmModel(m["name"], _prices(m["name"], m["prices"])) for m in data["models"]),
        thresholds=Thresholds.build(with_defaults(data)),
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
                                          for kind in INTEGRATION_KINDS if kind in r))
                for r in alerting["receivers"]),
            routes=tuple(
                Route(_route_matchers(r), r["receiver"], bool(r.get("continue", False)),
                      tuple(r["group_by"]) if "group_by" in r else None)
                for r in alerting["routes"]),
            **_watchdog(alerting.get("watchdog")),
        ),
        slo=_slo(data, slowest_scrape_ms),
        scale_out=_scale_out(data, data["name"], Duration.parse(defaults.SLO_PERIOD)),
        resilience=build_resilience(data),
        dashboards=Dashboards(
            datasource=dashboards.get("datasource", defaults.DEFAULT_DATASOURCE),
            folder=dashboards.get("folder", data["name"]),
            url=dashboards.get("url", "").rstrip("/") or None,
            prometheus_url=dashboards.get("prometheus_url", defaults.DEFAULT_PROMETHEUS_URL),
            path=dashboards.get("path", f"{defaults.DEFAULT_DASHBOARD_ROOT}/{data['name']}"),
        ),
    )
