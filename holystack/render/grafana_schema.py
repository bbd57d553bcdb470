"""The one clean pass after grafanalib: its JSON in Grafana's current dashboard schema.

grafanalib 0.7.1 (its last release) writes the keys of schemaVersion 12 next to the current ones.
Everything grafanalib can express is set where the dashboards are built (panels.py); this pass
only removes what grafanalib always writes and Grafana migrates away on load, and sets the one
query field grafanalib has no parameter for. tests/test_grafana_models.py loads the result
through Grafana's own models (grafana-foundation-sdk) and checks that nothing is lost.
"""
from __future__ import annotations

from typing import Any

# What Grafana 12 and 13 write: LATEST_VERSION in grafana/grafana
# apps/dashboard/pkg/migration/schemaversion/migrations.go, "the final version for the v1
# dashboard API" (that folder's README), and the default of grafana-foundation-sdk's Dashboard.
# Grafana's main branch adds a v43 that only rewrites formatTime transformations (none here).
SCHEMA_VERSION = 42
# The panel types the dashboards may use: Grafana's current core visualisations. Not the Angular
# graph, singlestat or table-old: Grafana 12 has no Angular and turns them into timeseries, stat
# and table when it loads them.
CURRENT_PANEL_TYPES = frozenset({"bargauge", "gauge", "row", "stat", "table", "text", "timeseries"})

# Top level: the pre-5.0 row layout and its companions (sharedCrosshair became graphTooltip in
# schemaVersion 14, rows became row panels in 16); __inputs belongs to dashboards exported for
# sharing, not to provisioned files.
LEGACY_DASHBOARD_KEYS = frozenset({"__inputs", "hideControls", "rows", "sharedCrosshair", "style"})
# Every panel: the row-layout sizing (span, height, minSpan became gridPos and maxPerRow) and
# two editor flags that are not part of the panel schema.
LEGACY_PANEL_KEYS = frozenset({"editable", "error", "height", "minSpan", "span"})
# Per panel type and level (the panel, its options, its field defaults, their custom part):
# grafanalib's pre-7.0 options of the bar gauge (fieldOptions became fieldConfig and
# reduceOptions, the threshold flags are the gauge's), the custom field config the stat panel
# does not have, and the table's Angular leftovers (styles-era colour, columns, font size,
# top-level mappings; the cell displayMode became cellOptions in schemaVersion 38).
LEGACY_BY_TYPE: dict[str, dict[str, frozenset[str]]] = {
    "bargauge": {"options": frozenset({"fieldOptions", "showThresholdLabels", "showThresholdMarkers"})},
    "stat": {"defaults": frozenset({"custom"})},
    "table": {"panel": frozenset({"color", "columns", "fontSize", "mappings"}), "custom": frozenset({"displayMode"})},
}
# A row panel as Grafana writes it: no data source, no field config, no queries.
ROW_KEYS = frozenset({"collapsed", "gridPos", "id", "panels", "title", "type"})
# Graphite's and the pre-8 editor's query fields (the Prometheus query is expr), and
# intervalFactor, deprecated in Grafana's Prometheus query schema ("use interval").
LEGACY_TARGET_KEYS = frozenset({"intervalFactor", "metric", "query", "step", "target"})
# Template variables: tags were removed in schemaVersion 28; the time picker's time_options in 41.
LEGACY_VARIABLE_KEYS = frozenset({"tagValuesQuery", "tagsQuery", "useTags"})
LEGACY_CURRENT_KEYS = frozenset({"tags"})  # of the selected value
LEGACY_TIMEPICKER_KEYS = frozenset({"time_options"})


def _without_nulls(value: Any) -> Any:
    """grafanalib writes None for every unset field; in Grafana's schema an unset field is absent.
    The one null the schema has is the base threshold step's value (minus infinity): kept."""
    if isinstance(value, dict):
        return {k: (v if k == "steps" else _without_nulls(v)) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _drop(mapping: dict[str, Any], keys: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if k not in keys}


def _target(target: dict[str, Any]) -> dict[str, Any]:
    current = _drop(target, LEGACY_TARGET_KEYS)
    # grafanalib has no parameter for it: Grafana's Prometheus query runs over the range unless instant.
    current["range"] = not current.get("instant", False)
    return current


def _panel(panel: dict[str, Any]) -> dict[str, Any]:
    if panel.get("type") == "row":
        return {**{k: v for k, v in panel.items() if k in ROW_KEYS}, "panels": [_panel(p) for p in panel["panels"]]}
    legacy = LEGACY_BY_TYPE.get(panel.get("type", ""), {})
    none: frozenset[str] = frozenset()
    current = _drop(panel, LEGACY_PANEL_KEYS | legacy.get("panel", none))
    if "options" in current:
        current["options"] = _drop(current["options"], legacy.get("options", none))
    field_config = current.get("fieldConfig", {})
    if "defaults" in field_config:
        field_config["defaults"] = defaults = _drop(field_config["defaults"], legacy.get("defaults", none))
        if "custom" in defaults:
            defaults["custom"] = _drop(defaults["custom"], legacy.get("custom", none))
    if "targets" in current:
        current["targets"] = [_target(t) for t in current["targets"]]
    return current


def _variable(variable: dict[str, Any]) -> dict[str, Any]:
    current = _drop(variable, LEGACY_VARIABLE_KEYS)
    if "current" in current:
        current["current"] = _drop(current["current"], LEGACY_CURRENT_KEYS)
    return current


def current_schema(dashboard: dict[str, Any]) -> dict[str, Any]:
    """grafanalib's JSON of one dashboard (plain data, as json.loads gives it) in the current
    schema; a new dict, the input is left as it is."""
    clean = _drop(_without_nulls(dashboard), LEGACY_DASHBOARD_KEYS)
    clean["panels"] = [_panel(p) for p in clean.get("panels", [])]
    templating = clean.get("templating", {})
    templating["list"] = [_variable(v) for v in templating.get("list", [])]
    if "timepicker" in clean:
        clean["timepicker"] = _drop(clean["timepicker"], LEGACY_TIMEPICKER_KEYS)
    return clean
