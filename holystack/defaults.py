"""Every default of the spec, in one place (the thresholds' are declared with them, in holystack.thresholds),
with the small helpers that apply them."""
from __future__ import annotations

from typing import Any

DEFAULT_LANGUAGE = "en"
DEFAULT_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
DEFAULT_SCRAPE_INTERVAL = "15s"
# Prometheus' default --query.lookback-delta; scrape.lookback names another one.
DEFAULT_LOOKBACK = "5m"
# The lookback must bridge this many scrape intervals, so that one missed scrape is not a gap.
LOOKBACK_MIN_SCRAPES = 2
# The longest lookback holystack accepts: the steps' per-target ranges read this far back.
MAX_LOOKBACK = "1h"
DEFAULT_PROMETHEUS_ADDRESS = "localhost:9090"
DEFAULT_METRICS_PATH = "/metrics"
DEFAULT_SCHEME = "http"
# scrape.jobs[].authorization.type: the scheme of the Authorization header, as Prometheus defaults it.
DEFAULT_AUTHORIZATION_TYPE = "Bearer"
DEFAULT_PROVIDER_TIMEOUT = "60s"
# The shortest rate window holystack picks on its own; a longer one when scrapes are slow.
DEFAULT_RATE_WINDOW = "5m"
# A rate window must span at least this many scrapes (pint asks for 2, recommends 4).
RATE_WINDOW_MIN_SCRAPES = 4
# An absent()-style alert must wait at least this many scrapes before firing.
ABSENT_FOR_MIN_SCRAPES = 2

# How long a ratio alert keeps firing after its share came back (Prometheus keep_firing_for): a share
# hovering at its level would otherwise fire and resolve at every evaluation.
RATIO_KEEP_FIRING_FOR = "5m"
# The thresholds' own defaults are declared with them, in holystack.thresholds.
LEVEL_KEYS = ("info", "warning", "critical")

DEFAULT_ALERTING: dict[str, Any] = {
    "alertmanagers": [],
    "group_by": ["alertname", "provider", "endpoint", "model"],
    "group_wait": "30s",
    "group_interval": "5m",
    "repeat_interval": "4h",
    "routes": [],
}
DEFAULT_DATASOURCE = "Prometheus"
DEFAULT_PROMETHEUS_URL = "http://prometheus:9090"
DEFAULT_DASHBOARD_ROOT = "/var/lib/grafana/dashboards"

# Where an application serves /metrics unless told otherwise: the OpenTelemetry Prometheus
# exporter's port, clear of Prometheus (9090) and Alertmanager (9093), unlike the seed's 9090.
DEFAULT_METRICS_PORT = 9464
# The only address the live parts (simulate, up, the fakes) use, and where /metrics is served by default.
LOOPBACK = "127.0.0.1"

# Multi-window, multi-burn-rate SLO alerts (Google SRE workbook, ch. 5), over a 30-day SLO:
# (severity, long window, short window, burn-rate factor).
SLO_PERIOD = "30d"
BURN_RATE_ALERTS = (
    ("critical", "1h", "5m", 14.4),
    ("critical", "6h", "30m", 6.0),
    ("warning", "1d", "2h", 3.0),
    ("warning", "3d", "6h", 1.0),
)
# The fewest calls a long window must hold before its burn-rate alert may fire: a handful of
# failed calls at night is not an outage.
DEFAULT_SLO_MIN_CALLS = 100
# How long Prometheus must keep samples: the longest window the rules and dashboards read (the SLO
# period, or the cost dashboard's month, at most 31 days), and a day more, so that the oldest step
# of a window is still there when it is read. model.retention_needed() is the one place that adds them.
LONGEST_MONTH = "31d"
RETENTION_MARGIN = "1d"

RESERVED_JOB_NAMES = ("prometheus", "alertmanager")
# How long each generated promtool case runs: the spec's for: and rate windows must fit in it.
PROMTOOL_CASE_RUN = "1h"
WATCHDOG_RECEIVER = "holystack-watchdog"
# How often a configured dead man's switch hears the Watchdog again (alerting.watchdog.repeat_interval).
DEFAULT_WATCHDOG_REPEAT = "1m"


def rate_window_floor_ms(slowest_scrape_ms: int) -> int:
    """The shortest window a rate() may span: RATE_WINDOW_MIN_SCRAPES of the slowest scrape."""
    return RATE_WINDOW_MIN_SCRAPES * slowest_scrape_ms


def alerting_with_defaults(alerting: dict[str, Any]) -> dict[str, Any]:
    """The spec's alerting section over its defaults (DEFAULT_ALERTING)."""
    return {**DEFAULT_ALERTING, **alerting}


# Scale-out (kubernetes:, remote_write:, rulers:). kube-prometheus-stack selects rules, monitors and
# AlertmanagerConfigs by its release label; its Grafana sidecar loads ConfigMaps with this label.
DEFAULT_KUBERNETES_LABELS = {"release": "kube-prometheus-stack"}
DEFAULT_MONITOR_KIND = "ServiceMonitor"
DEFAULT_METRICS_PORT_NAME = "metrics"
DEFAULT_SELECTOR_LABEL = "app.kubernetes.io/name"
DEFAULT_ALERTMANAGER_KIND = "AlertmanagerConfig"
DEFAULT_DASHBOARD_LABEL = {"grafana_dashboard": "1"}
DEFAULT_FOLDER_ANNOTATION = "grafana_folder"
DEFAULT_PROMETHEUS_REPLICAS = 1
# resilience: the client transport's retry, breaker and fallback settings when the spec gives none.
DEFAULT_RETRY = {"max_attempts": 3, "max_wait": "30s", "backoff_base": "500ms", "backoff_cap": "8s",
                 "statuses": [429, 500, 502, 503, 504, 529], "deadline": "2m"}
DEFAULT_BREAKER = {"enabled": True, "failure_ratio": 0.5, "min_calls": 10, "window": "1m", "open_for": "30s",
                   "half_open_probes": 1}
