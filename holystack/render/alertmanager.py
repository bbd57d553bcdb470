"""alertmanager.yml and its notification templates."""
from __future__ import annotations

from importlib import resources
from typing import Any

from ..model import Integration, Receiver, Stack
from ..output import Files, go_template_comment, to_yaml
from ..series import CALL_LABELS
from .alerts import SEVERITY, families
from ..layout import ALERTMANAGER_CONFIG, ALERTMANAGER_DIR, ALERTMANAGER_TEMPLATE

TITLE = '{{ template "holystack.title" . }}'
TEXT = '{{ template "holystack.text" . }}'
# Which severity mutes which: a critical alert mutes the warning of the same alert and labels.
INHIBITIONS = (("critical", "warning"), ("warning", "info"))


def _integration(integration: Integration) -> tuple[str, dict[str, Any]]:
    f = integration.get
    resolved = {"send_resolved": f("send_resolved", True)}
    if integration.kind == "slack":
        config = {"api_url_file": f("api_url_file"), **({"channel": f("channel")} if f("channel") else {}),
                  "title": TITLE, "text": TEXT}
    elif integration.kind == "pagerduty":
        config = {"routing_key_file": f("routing_key_file"), "description": TITLE,
                  "severity": '{{ template "holystack.pagerduty.severity" . }}'}
    elif integration.kind == "webhook":
        config = {key: f(key) for key in ("url", "url_file", "max_alerts") if f(key) is not None}
    elif integration.kind == "email":
        config = {key: f(key) for key in ("to", "from", "smarthost", "auth_username", "auth_password_file")
                  if f(key) is not None}
        config.update({"require_tls": f("require_tls", True), "headers": {"Subject": TITLE}, "text": TEXT})
    elif integration.kind == "opsgenie":
        config = {"api_key_file": f("api_key_file"), **({"api_url": f("api_url")} if f("api_url") else {}),
                  "message": TITLE, "description": TEXT,
                  "priority": '{{ template "holystack.opsgenie.priority" . }}'}
    else:  # the schema admits no other kind
        raise ValueError(f"unknown integration {integration.kind}")
    return f"{integration.kind}_configs", {**resolved, **config}


def _receiver(receiver: Receiver) -> dict[str, Any]:
    out: dict[str, Any] = {"name": receiver.name}
    for integration in receiver.integrations:
        key, config = _integration(integration)
        out.setdefault(key, []).append(config)
    return out


def alertmanager_config(stack: Stack) -> dict[str, Any]:
    a = stack.alerting
    # The families' own routes (the Watchdog's) come first, then the spec's.
    routes = [route for family in families() for route in family.routes(stack)]
    for route in a.routes:
        entry: dict[str, Any] = {"receiver": route.receiver}
        if route.matchers:
            entry["matchers"] = list(route.matchers)
        if route.group_by is not None:
            entry["group_by"] = list(route.group_by)
        if route.continue_:
            entry["continue"] = True
        routes.append(entry)
    return {
        "templates": [f"templates/{ALERTMANAGER_TEMPLATE}"],
        "route": {"receiver": a.default_receiver, "group_by": list(a.group_by),
                  "group_wait": str(a.group_wait), "group_interval": str(a.group_interval),
                  "repeat_interval": str(a.repeat_interval), "routes": routes},
        "inhibit_rules": [
            {"source_matchers": [f'{SEVERITY}="{source}"'], "target_matchers": [f'{SEVERITY}="{target}"'],
             "equal": ["alertname", *CALL_LABELS]}
            for source, target in INHIBITIONS],
        "receivers": [receiver for family in families() for receiver in family.receivers(stack)]
                     + [_receiver(r) for r in a.receivers],
    }


def render_alertmanager(stack: Stack) -> Files:
    template = resources.files("holystack.templates").joinpath(f"alertmanager/{ALERTMANAGER_TEMPLATE}").read_text("utf-8")
    return {
        f"{ALERTMANAGER_DIR}/{ALERTMANAGER_CONFIG}": to_yaml(alertmanager_config(stack), stack.source_name),
        f"{ALERTMANAGER_DIR}/templates/{ALERTMANAGER_TEMPLATE}": go_template_comment(stack.source_name) + template,
    }
