"""`holystack doctor`: each area's checks in order; a server that does not answer is one finding,
and the checks that need it are not run."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..errors import UsageError
from ..pipeline import load_stack
from . import alertmanager as am
from . import rules, server, targets, wire
from .context import Context, load_context
from .finding import Finding, Report
from .http import Api, ApiError

Check = Callable[[], list["Finding"]]


def _check_url(option: str, url: str | None) -> None:
    if url is not None and not url.startswith(("http://", "https://")):
        raise UsageError(f"{option}: {url!r} is not an http:// or https:// URL")


def _guarded(area: str, fix: str, check: Callable[[], list[Finding]]) -> list[Finding]:
    """A check's findings; an API that fails half-way is a finding too, never a traceback."""
    try:
        return check()
    except ApiError as error:
        return [Finding(area, "the server did not answer as its API promises", str(error), fix)]


def prometheus_checks(context: Context, healthy: list[str]) -> list[Finding]:
    api = context.prometheus
    try:
        version = server.version(context)
    except ApiError as error:
        return [Finding(server.AREA, f"Prometheus at {api.base} is not reachable", str(error),
                        "start it, or pass the URL it answers on with --prometheus")]
    healthy.append(f"Prometheus {version} at {api.base}")
    fix = "check that --prometheus names Prometheus itself, not a proxy"
    checks: list[tuple[str, str, Check]] = [
        (server.AREA, "retention covers the longest window",
         lambda: server.retention_findings(context, api.data("/api/v1/status/flags"))),
        (rules.AREA, "every rule group of OUT loaded, the same rules, none stale",
         lambda: rules.group_findings(context, api.data("/api/v1/rules").get("groups", []))),
        (rules.AREA, "no rule fails to evaluate", lambda: rules.health_findings(api.data("/api/v1/rules").get("groups", []))),
        (rules.AREA, "no group misses iterations", lambda: rules.missed_findings(api.text("/metrics"))),
        (targets.AREA, "every job has targets, all up",
         lambda: targets.target_findings(context, api.data("/api/v1/targets").get("activeTargets", []))),
        (wire.AREA, "the contract's series exist per job, labels intact", lambda: wire.series_findings(context, api)),
        (wire.AREA, "calls on models and providers of the spec", lambda: wire.unknown_findings(context, api)),
        (am.AREA, "Prometheus sends to the spec's Alertmanagers",
         lambda: am.sending_findings(context, api.data("/api/v1/alertmanagers"))),
        (am.AREA, "the Watchdog fires in Prometheus",
         lambda: am.watchdog_in_prometheus(context, api.data("/api/v1/alerts").get("alerts", []))),
    ]
    return _run(checks, fix, healthy)


def _run(checks: list[tuple[str, str, Check]], fix: str, healthy: list[str]) -> list[Finding]:
    findings = []
    for area, what, check in checks:
        found = _guarded(area, fix, check)
        if not found:
            healthy.append(f"{area}: {what}")
        findings += found
    return findings


def alertmanager_checks(context: Context, healthy: list[str]) -> list[Finding]:
    api = context.alertmanager
    if api is None:
        return []
    try:
        status = api.json("/api/v2/status")
    except ApiError as error:
        return [Finding(am.AREA, f"Alertmanager at {api.base} is not reachable", str(error),
                        "start it, or pass the URL it answers on with --alertmanager")]
    version = (status.get("versionInfo") or {}).get("version", "?")
    healthy.append(f"Alertmanager {version} at {api.base}")
    fix = "check that --alertmanager names Alertmanager itself"
    return _run([(am.AREA, "its configuration is OUT's alertmanager.yml", lambda: am.config_findings(context, status)),
                 (am.AREA, "the Watchdog reaches it", lambda: am.watchdog_in_alertmanager(context, api))], fix, healthy)


def doctor(spec_path: Path, out: Path, prometheus_url: str, alertmanager_url: str | None, timeout: float) -> Report:
    """The running stack checked against the spec and OUT; UsageError (exit 2) for bad arguments or spec."""
    _check_url("--prometheus", prometheus_url)
    _check_url("--alertmanager", alertmanager_url)
    if not timeout > 0:
        raise UsageError(f"--timeout: {timeout:g} must be more than 0 seconds")
    stack = load_stack(spec_path)
    context = load_context(stack, spec_path, out, Api(prometheus_url, timeout),
                           Api(alertmanager_url, timeout) if alertmanager_url else None)
    healthy: list[str] = []
    findings = prometheus_checks(context, healthy) + alertmanager_checks(context, healthy)
    return Report(tuple(findings), tuple(healthy))
