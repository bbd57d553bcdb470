"""The contract on the wire: its series exist for each spec job with their labels intact (none
renamed exported_*), and few calls fall on models or providers outside the spec ("other")."""
from __future__ import annotations

from ..contract import MODEL, OTHER, PROVIDER, Metric
from ..promql import quote
from .context import Context
from .finding import Finding
from .http import Api

AREA = "wire"
# Above this share of calls on models (or providers) outside the spec, their costs and alerts are blind.
UNKNOWN_SHARE_MAX = 0.01
TOP_UNKNOWN = 3
# Labels a scrape puts on every target; an application label of the same name becomes exported_<name>.
TARGET_LABELS = ("job", "instance")
HONOR_LABELS_FIX = ("the scrape renamed the app's label: set honor_labels: true on the scrape job "
                    "(honorLabels: true on the ServiceMonitor endpoint), or drop the colliding target label "
                    "(prometheus-operator adds endpoint, the port's name) with relabelings")


def required(context: Context) -> tuple[tuple[Metric, str], ...]:
    """(metric, the series that proves it) the alerts cannot do without: attempts, calls, latency."""
    contract = context.stack.contract
    return tuple((metric, metric.series_names()[-1]) for metric in (contract.requests, contract.calls,
                                                                     contract.duration))


def _jobs_with(api: Api, series: str) -> set[str]:
    return {row["metric"].get("job", "") for row in api.query(f"count by (job) ({series})")}


def series_findings(context: Context, api: Api) -> list[Finding]:
    findings = []
    for metric, series in required(context):
        jobs = _jobs_with(api, series)
        for job in context.stack.jobs:
            if job.name not in jobs:
                elsewhere = sorted(jobs)
                findings.append(Finding(
                    AREA, f"no {series} series for job {job.name}",
                    f"count by (job) ({series}) finds " + (f"job(s) {', '.join(elsewhere)}" if elsewhere else "none"),
                    f"scrape the app under the job name {job.name}" if elsewhere else
                    "instrument the app with holystack.instrument and check that its target is up"))
                continue
            for label in metric.labels:
                lost = api.query(f'count({series}{{job={quote(job.name)}, {label}=""}})')
                if lost and float(lost[0]["value"][1]) > 0:
                    findings.append(Finding(AREA, f"{series} series of job {job.name} have lost the label {label}",
                                            f"{lost[0]['value'][1]} series without {label}", HONOR_LABELS_FIX))
    return findings + exported_findings(context, api)


def exported_findings(context: Context, api: Api) -> list[Finding]:
    prefix = context.stack.contract.prefix
    labels = sorted({label for metric in context.stack.contract.metrics for label in metric.labels} | set(TARGET_LABELS))
    findings = []
    for label in labels:
        exported = f"exported_{label}"
        rows = api.query(f'count by (job, __name__) ({{__name__=~"{prefix}_.+", {exported}!=""}})')
        if rows:
            names = sorted({f"{r['metric'].get('__name__')} (job {r['metric'].get('job', '?')})" for r in rows})
            findings.append(Finding(AREA, f"series carry {exported} instead of {label}",
                                    f"{len(names)} metric(s): {', '.join(names[:TOP_UNKNOWN])}"
                                    + (" ..." if len(names) > TOP_UNKNOWN else ""), HONOR_LABELS_FIX))
    return findings


def unknown_findings(context: Context, api: Api) -> list[Finding]:
    stack = context.stack
    window = str(stack.rate_window)
    checks = ((MODEL, stack.contract.calls.name, {m.name for m in stack.models}, "models"),
              (PROVIDER, stack.contract.requests.name, {p.name for p in stack.providers}, "providers"))
    findings = []
    for label, series, known, field in checks:
        for job in stack.jobs:
            rows = api.query(f"sum by ({label}) (increase({series}{{job={quote(job.name)}}}[{window}]))")
            counts = {row["metric"].get(label, ""): float(row["value"][1]) for row in rows}
            total = sum(counts.values())
            unknown = {name: count for name, count in counts.items() if name not in known and count > 0}
            share = sum(unknown.values()) / total if total else 0.0
            if share > UNKNOWN_SHARE_MAX:
                top = sorted(unknown.items(), key=lambda item: (-item[1], item[0]))[:TOP_UNKNOWN]
                named = ", ".join(f"{name or '(empty)'} {count / total:.0%}" for name, count in top)
                findings.append(Finding(
                    AREA, f"{share:.0%} of calls of job {job.name} are on {field} outside the spec "
                          f"(bound {UNKNOWN_SHARE_MAX:.0%})",
                    f"{series} by {label} over {window}: {named}", _unknown_fix(label, field, [n for n, _ in top])))
    return findings


def _unknown_fix(label: str, field: str, names: list[str]) -> str:
    raw = [name for name in names if name != OTHER]
    if raw:
        return f"add the {field} the app uses to the spec's {field} ({', '.join(raw)})"
    return (f"the app folds them into {label}=\"{OTHER}\", so their names are not on the wire: log the {label} "
            f"of each call (or read the ledger), then add them to the spec's {field}")
