"""The dashboards through Grafana's own models: grafana-foundation-sdk, the types Grafana generates
from its schema. No Grafana server can run here; its models are the strongest offline check.

Each dashboard is loaded with Dashboard.from_json and written back with the SDK's JSON encoder.
A key the models do not know is lost in that round trip, a value of the wrong type is changed or
refused: both are findings. Keys the SDK adds (its defaults) are not: holystack need not write them.
"""
from __future__ import annotations

import importlib
import json
import re
import warnings
from collections.abc import Callable
from importlib import metadata
from typing import Any

from .result import SKIP, CheckResult

SDK = "grafana-foundation-sdk"
# Pinned exactly in pyproject's dev extra: PyPI also carries epoch-numbered builds that an
# unpinned install prefers.
SDK_PIN = f"{SDK}==0.0.21"
CHECK_NAME = "dashboards through Grafana's models (SDK round trip)"
MAX_SHOWN = 3  # findings shown per dashboard; the count says how many there are

RoundTrip = Callable[[dict[str, Any]], dict[str, Any]]


def differences(written: Any, loaded: Any, path: str = "") -> list[str]:
    """What of written is lost or changed in loaded, one line each with its JSON path."""
    if isinstance(written, dict) and isinstance(loaded, dict):
        found = []
        for key, value in written.items():
            if key not in loaded:
                found.append(f"{path}/{key} is lost")
            else:
                found += differences(value, loaded[key], f"{path}/{key}")
        return found
    if isinstance(written, list) and isinstance(loaded, list) and len(written) == len(loaded):
        return [d for i, (w, l) in enumerate(zip(written, loaded)) for d in differences(w, l, f"{path}[{i}]")]
    if written != loaded or type(written) is not type(loaded):
        return [f"{path} changed from {json.dumps(written)[:60]} to {json.dumps(loaded)[:60]}"]
    return []


# Panel types the dashboard model itself reads: no plugin of the SDK carries them.
MODEL_PANEL_TYPES = frozenset({"row"})


def _types(node: Any) -> tuple[set[str], set[str]]:
    """The panel types and the datasource types a dashboard names, at any depth."""
    panels: set[str] = set()
    sources: set[str] = set()
    if isinstance(node, dict):
        if isinstance(node.get("type"), str) and "gridPos" in node:
            panels.add(node["type"])
        source = node.get("datasource")
        if isinstance(source, dict) and isinstance(source.get("type"), str):
            sources.add(source["type"])
        children = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return panels, sources
    for child in children:
        more_panels, more_sources = _types(child)
        panels |= more_panels
        sources |= more_sources
    return panels, sources


def _register_every_plugin() -> None:
    from grafana_foundation_sdk.cog.plugins import register_default_plugins  # noqa: PLC0415 - loads every plugin

    register_default_plugins()


def _register_plugins(dashboards: list[dict[str, Any]]) -> None:
    """The SDK's plugins of the panel and datasource types the dashboards name, each from its own
    models module (the SDK names it after the type); all of them when a type has no such module, as
    register_default_plugins does. A type's lookup reads only its own plugin, so the verdict is the
    same, without loading the models of the thirty-odd plugins no dashboard uses."""
    from grafana_foundation_sdk.cog import runtime  # noqa: PLC0415

    panels, sources = set(), set()
    for dashboard in dashboards:
        more_panels, more_sources = _types(dashboard)
        panels |= more_panels - MODEL_PANEL_TYPES
        sources |= more_sources
    found = []
    for kind, register in [*((t, runtime.register_panelcfg_variant) for t in sorted(panels)),
                           *((t, runtime.register_dataquery_variant) for t in sorted(sources))]:
        try:
            module = importlib.import_module(f"grafana_foundation_sdk.models.{re.sub('[^a-z0-9]', '', kind.lower())}")
            config = module.variant_config()
        except (ImportError, AttributeError):
            config = None
        if config is None or config.identifier != kind:
            _register_every_plugin()
            return
        found.append((register, config))
    for register, config in found:
        register(config)


def sdk_round_trip(dashboards: list[dict[str, Any]] | None = None) -> RoundTrip | None:
    """The SDK's load-and-write of one dashboard, or None when the SDK is not installed; with the
    plugins of the dashboards' panel and datasource types registered (every plugin without them)."""
    try:
        with warnings.catch_warnings():
            # Its classic Dashboard warns "prefer dashboardv2" on import: the v2 resource is not
            # what Grafana's file provisioning and the sidecar load; the classic model is.
            warnings.simplefilter("ignore", DeprecationWarning)
            from grafana_foundation_sdk.cog.encoder import JSONEncoder
            from grafana_foundation_sdk.models.dashboard import Dashboard
    except ImportError:
        return None
    # Without the panel and query plugins the SDK keeps options and queries as untyped dicts.
    if dashboards is None:
        _register_every_plugin()
    else:
        _register_plugins(dashboards)

    def round_trip(dashboard: dict[str, Any]) -> dict[str, Any]:
        # The SDK reads a copy: a model that altered its input would hide what it changed.
        copy = json.loads(json.dumps(dashboard))
        return json.loads(json.dumps(Dashboard.from_json(copy), cls=JSONEncoder))

    return round_trip


def round_trip_findings(name: str, dashboard: dict[str, Any], round_trip: RoundTrip) -> list[str]:
    """What the SDK refuses, loses or changes of one dashboard; [] when it comes back whole."""
    try:
        loaded = round_trip(dashboard)
    except Exception as exc:  # the SDK raises whatever its parsing meets (TypeError on a null, KeyError...)
        return [f"{name}: Dashboard.from_json refuses it ({type(exc).__name__}: {exc})"]
    found = differences(dashboard, loaded)
    shown = [f"{name}: {line}" for line in found[:MAX_SHOWN]]
    return shown + ([f"{name}: ... {len(found) - MAX_SHOWN} more"] if len(found) > MAX_SHOWN else [])


def grafana_models_check(dashboards: dict[str, dict[str, Any]]) -> CheckResult:
    """dashboards: file name -> parsed JSON. A skip (with the install line) without the SDK."""
    round_trip = sdk_round_trip(list(dashboards.values()))
    if round_trip is None:
        return CheckResult(CHECK_NAME, SKIP, f"{SDK} is not installed (pip install '{SDK_PIN}')")
    findings = [f for name, d in sorted(dashboards.items()) for f in round_trip_findings(name, d, round_trip)]
    version = metadata.version(SDK)
    return CheckResult.from_findings(CHECK_NAME, findings,
                                     f"{len(dashboards)} dashboard(s) unchanged through {SDK} {version}")
