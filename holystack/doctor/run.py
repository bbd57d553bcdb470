"""`holystack doctor`: each area's checks in order; a server that does not answer is one finding,
and the checks that need it are not run."""
from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

from ..errors import UsageError
from ..pipeline import load_stack
from . import alertmanager as am
from . import rules, server, targets, wire
from .context import VICTORIAMETRICS, Context, load_context
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


def prometheus_checks(context: Context, healthy: list[str], unchecked: list[str]) -> list[Finding]:
    """The query server, the ruler (Prometheus itself, or vmalert) and the scraper (itself, or vmagent)."""
    api, ruler = context.prometheus, context.ruler
    vm = context.engine == VICTORIAMETRICS
    try:
        version = server.version(context)
    except ApiError as error:
        return [Finding(server.AREA, f"{'VictoriaMetrics' if vm else 'Prometheus'} at {api.base} is not reachable",
                        str(error), "start it, or pass the URL it answers on with --prometheus")]
    healthy.append(f"{version} at {api.base}" if vm else f"Prometheus {version} at {api.base}")
    fix = "check that each URL names the server itself, not a proxy"
    loaded = cache(lambda: ruler.data("/api/v1/rules").get("groups") or [])  # read once, by two checks
    checks: list[tuple[str, str, Check]] = [
        (server.AREA, "retention covers the longest window", lambda: server.retention_findings(context)),
        (rules.AREA, "every rule group of OUT loaded, the same rules, none stale",
         lambda: rules.group_findings(context, loaded())),
        (rules.AREA, "no rule fails to evaluate", lambda: rules.health_findings(loaded())),
        (targets.AREA, "every job has targets, all up",
         lambda: targets.target_findings(context, context.scraper.data("/api/v1/targets").get("activeTargets") or [])),
        (wire.AREA, "the contract's series exist per job, labels intact", lambda: wire.series_findings(context, api)),
        (wire.AREA, "calls on models and providers of the spec", lambda: wire.unknown_findings(context, api)),
        (am.AREA, "alerts are sent to the spec's Alertmanagers",
         (lambda: am.vmalert_sending_findings(context, ruler.text("/flags"))) if vm else
         (lambda: am.sending_findings(context, api.data("/api/v1/alertmanagers")))),
        (am.AREA, "the Watchdog fires", lambda: am.watchdog_in_prometheus(context, ruler.data("/api/v1/alerts").get("alerts") or [])),
    ]
    if vm:
        unchecked.append("missed rule evaluations: vmalert 1.79 exports no missed-iteration counter")
    else:
        checks.insert(3, (rules.AREA, "no group misses iterations", lambda: rules.missed_findings(loaded(), api.text("/metrics"))))
    return _run(checks, fix, healthy)


def _run(checks: list[tuple[str, str, Check]], fix: str, healthy: list[str]) -> list[Finding]:
    findings = []
    for area, what, check in checks:
        found = _guarded(area, fix, check)
        if not found:
            healthy.append(f"{area}: {what}")
        findings += found
    return findings


def alertmanager_checks(context: Context, healthy: list[str], unchecked: list[str]) -> list[Finding]:
    api = context.alertmanager
    if api is None:
        unchecked.append("Alertmanager's configuration and the Watchdog in it: no --alertmanager given")
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


def doctor(spec_path: Path, out: Path, prometheus_url: str, alertmanager_url: str | None, timeout: float,
           vmalert_url: str | None = None, vmagent_url: str | None = None) -> Report:
    """The running stack checked against the spec and OUT; UsageError (exit 2) for bad arguments or spec.
    With vmalert_url, prometheus_url is VictoriaMetrics, and vmalert (and vmagent, if given) are read
    for what VictoriaMetrics does not serve."""
    for option, url in (("--prometheus", prometheus_url), ("--alertmanager", alertmanager_url),
                        ("--vmalert", vmalert_url), ("--vmagent", vmagent_url)):
        _check_url(option, url)
    if vmagent_url and not vmalert_url:
        raise UsageError("--vmagent: give --vmalert too (the VictoriaMetrics stack's ruler)")
    if not timeout > 0:
        raise UsageError(f"--timeout: {timeout:g} must be more than 0 seconds")
    stack = load_stack(spec_path)
    api = lambda url: Api(url, timeout) if url else None  # noqa: E731
    context = load_context(stack, spec_path, out, Api(prometheus_url, timeout), api(alertmanager_url),
                           api(vmalert_url), api(vmagent_url))
    healthy: list[str] = []
    unchecked: list[str] = []
    findings = prometheus_checks(context, healthy, unchecked) + alertmanager_checks(context, healthy, unchecked)
    return Report(tuple(findings), tuple(healthy), tuple(unchecked))
