"""Alertmanager reachable and running OUT's alertmanager.yml (both parsed, so formatting does not
count); Prometheus sends to it; the Watchdog fires in Prometheus and reaches Alertmanager."""
from __future__ import annotations

import re
import urllib.parse
from typing import Any

import yaml

from ..live.victoriametrics import NOTIFIER_FLAG
from ..render.alerts.watchdog import WATCHDOG
from ..layout import ALERTMANAGER_CONFIG, ALERTMANAGER_DIR
from .context import Context
from .finding import Finding
from .http import Api

AREA = "alertmanager"
MAX_DIFFERENCES = 3
TEMPLATES = "templates"


def differences(loaded: Any, wanted: Any, path: str = "") -> list[str]:
    """Where the loaded configuration departs from OUT's, as key paths (route.receiver, receivers[1]).
    Alertmanager's config.original is its parsed configuration written out again, with every default
    filled in (global, http_config, send_resolved): a key OUT does not set is such a default and is
    not compared; every key OUT sets must hold the same value, and every list the same items."""
    if isinstance(loaded, dict) and isinstance(wanted, dict):
        out = []
        for key in sorted(wanted, key=str):
            where = f"{path}.{key}" if path else str(key)
            out += [f"{where} missing"] if key not in loaded else differences(loaded[key], wanted[key], where)
        return out
    if path == TEMPLATES and isinstance(loaded, list) and isinstance(wanted, list):
        # Alertmanager resolves template paths against its config file's folder.
        same = len(loaded) == len(wanted) and all(str(a) == b or str(a).endswith(f"/{b}") for a, b in zip(loaded, wanted))
        return [] if same else [f"{path}: {loaded}, OUT has {wanted}"]
    if isinstance(loaded, list) and isinstance(wanted, list):
        if len(loaded) != len(wanted):
            return [f"{path}: {len(loaded)} item(s), OUT has {len(wanted)}"]
        return [d for index, (a, b) in enumerate(zip(loaded, wanted)) for d in differences(a, b, f"{path}[{index}]")]
    return [] if loaded == wanted else [f"{path or '<root>'}: {str(loaded)[:60]!r}, OUT has {str(wanted)[:60]!r}"]


def config_findings(context: Context, status: dict[str, Any]) -> list[Finding]:
    original = str((status.get("config") or {}).get("original", ""))
    try:
        loaded = yaml.safe_load(original) or {}
    except yaml.YAMLError as exc:
        loaded = {"<unparsable>": str(exc)}
    found = differences(loaded, context.alertmanager_config)
    if not found:
        return []
    path = f"{context.out.name}/{ALERTMANAGER_DIR}/{ALERTMANAGER_CONFIG}"
    return [Finding(AREA, f"Alertmanager runs another configuration than {path}",
                    f"/api/v2/status config.original differs at {'; '.join(found[:MAX_DIFFERENCES])}"
                    + (f" and {len(found) - MAX_DIFFERENCES} more" if len(found) > MAX_DIFFERENCES else ""),
                    f"deploy {path} to Alertmanager's --config.file and reload it (POST /-/reload)")]


def _address(url: str) -> str:
    """host:port of a URL, as alerting.alertmanagers names it."""
    parts = urllib.parse.urlsplit(url)
    return parts.netloc or url


def sending_findings(context: Context, data: dict[str, Any]) -> list[Finding]:
    """Prometheus' /api/v1/alertmanagers lists each Alertmanager of the spec as active."""
    active = sorted({_address(a.get("url", "")) for a in data.get("activeAlertmanagers") or []})
    dropped = sorted({_address(a.get("url", "")) for a in data.get("droppedAlertmanagers") or []})
    evidence = f"/api/v1/alertmanagers: active {', '.join(active) or 'none'}" + (
        f", dropped {', '.join(dropped)}" if dropped else "")
    return _sending(context, active, evidence, "load the alerting section of OUT's prometheus.yml and reload Prometheus")


def vmalert_sending_findings(context: Context, flags: str) -> list[Finding]:
    """vmalert has no /api/v1/alertmanagers: its /flags name the notifiers it was started with."""
    match = re.search(rf'^{NOTIFIER_FLAG}="([^"]*)"', flags, re.MULTILINE)
    value = match[1] if match else ""
    active = sorted({_address(url) for url in value.split(",") if url})
    return _sending(context, active, f"vmalert /flags: {NOTIFIER_FLAG}={value!r}",
                    f"start vmalert with {NOTIFIER_FLAG}=http://<each alerting.alertmanagers address>")


def _sending(context: Context, active: list[str], evidence: str, fix: str) -> list[Finding]:
    findings = []
    for address in context.stack.alerting.alertmanagers:
        if address not in active:
            findings.append(Finding(AREA, f"alerts are not sent to {address}", evidence, fix))
    if not context.stack.alerting.alertmanagers and not active:
        findings.append(Finding(AREA, "alerts are sent to no Alertmanager", evidence,
                                "name them in the spec's alerting.alertmanagers, render and reload"))
    return findings


def watchdog_name(context: Context) -> str:
    return context.stack.alert_name(WATCHDOG)


def watchdog_in_prometheus(context: Context, alerts: list[dict[str, Any]]) -> list[Finding]:
    name = watchdog_name(context)
    states = [a.get("state") for a in alerts if a.get("labels", {}).get("alertname") == name]
    if "firing" in states:
        return []
    return [Finding(AREA, f"the Watchdog {name} is not firing in {context.ruler_name}",
                    f"/api/v1/alerts: {name} is {', '.join(map(str, states)) or 'absent'}",
                    f"load {context.out.name}/'s alert rules and reload {context.ruler_name}")]


def watchdog_in_alertmanager(context: Context, api: Api) -> list[Finding]:
    name = watchdog_name(context)
    found = api.json("/api/v2/alerts", {"filter": f'alertname="{name}"'}) or []
    if found:
        return []
    return [Finding(AREA, f"the Watchdog {name} does not reach Alertmanager",
                    f"/api/v2/alerts?filter=alertname=\"{name}\" is empty",
                    "check that Prometheus sends to this Alertmanager (alerting.alertmanagers) and can reach it")]
