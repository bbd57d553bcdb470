"""Rules a JSON Schema cannot say: unique names, references, ordered levels, units that
fit the scrape interval, and secrets kept out of generated files."""
from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from .contract import OTHER
from .defaults import (
    ABSENT_FOR_MIN_SCRAPES,
    BURN_RATE_ALERTS,
    RATE_WINDOW_MIN_SCRAPES,
    RESERVED_JOB_NAMES,
    WATCHDOG_RECEIVER,
    effective_rate_window_ms,
    job_intervals_ms,
    thresholds_with_defaults,
    timing_with_defaults,
)
from .durations import format_ms, parse_ms
from .secrets import secret_paths, secret_problems  # noqa: F401  (secret_paths: read by spec.py)

Finding = tuple[tuple[Any, ...], str]

MATCHER_RE = re.compile(r'^\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|[^"\s,{}]*)\s*$')
LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def semantic_problems(data: dict[str, Any]) -> list[Finding]:
    """Every rule beyond the schema that the spec breaks, as (path, message).
    Each check runs even when the schema failed; one that meets data it cannot read is
    skipped, since the schema has already named that problem."""
    checks = (_unique_names, _receiver_references, _levels, _buckets_and_latency,
              _metrics_prefix, _windows, _burn_rates, secret_problems, _routes, _reserved_names, _alerting_timing)
    findings: list[Finding] = []
    for check in checks:
        try:
            findings.extend(list(check(data)))
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, ZeroDivisionError):
            continue
    return findings


def _duplicates(items: list[dict[str, Any]], key: str, where: tuple[Any, ...]) -> Iterator[Finding]:
    first: dict[Any, int] = {}
    for index, item in enumerate(items):
        value = item.get(key)
        if value in first:
            yield where + (index, key), f"{value!r} is already used by {_fmt(where)}[{first[value]}]; names must be unique"
        else:
            first[value] = index


def _fmt(path: tuple[Any, ...]) -> str:
    from .spec import format_path
    return format_path(path)


def _unique_names(data: dict[str, Any]) -> Iterator[Finding]:
    yield from _duplicates(data["models"], "name", ("models",))
    yield from _duplicates(data["endpoints"], "path", ("endpoints",))
    yield from _duplicates(data["providers"], "name", ("providers",))
    yield from _duplicates(data["scrape"]["jobs"], "name", ("scrape", "jobs"))
    yield from _duplicates(data["alerting"]["receivers"], "name", ("alerting", "receivers"))


def _receiver_references(data: dict[str, Any]) -> Iterator[Finding]:
    alerting = data["alerting"]
    names = [r["name"] for r in alerting["receivers"]]
    known = ", ".join(repr(n) for n in names)
    if alerting["default_receiver"] not in names:
        yield ("alerting", "default_receiver"), (
            f"{alerting['default_receiver']!r} is not a defined receiver; define it under alerting.receivers or use one of {known}")
    for index, route in enumerate(alerting.get("routes", [])):
        if route["receiver"] not in names:
            yield ("alerting", "routes", index, "receiver"), (
                f"{route['receiver']!r} is not a defined receiver; use one of {known}")


def _levels(data: dict[str, Any]) -> Iterator[Finding]:
    thresholds = data.get("thresholds", {})
    for kind in ("rate_limit_ratio", "server_error_ratio", "timeout_ratio"):
        levels = thresholds.get(kind, {})
        if "warning" in levels and "critical" in levels and not levels["warning"] < levels["critical"]:
            yield ("thresholds", kind, "warning"), (
                f"warning ({levels['warning']}) must be below critical ({levels['critical']}): a higher share is worse")
    levels = thresholds.get("success_ratio", {})
    if "warning" in levels and "critical" in levels and not levels["warning"] > levels["critical"]:
        yield ("thresholds", "success_ratio", "warning"), (
            f"warning ({levels['warning']}) must be above critical ({levels['critical']}): a lower success share is worse")


def _buckets_and_latency(data: dict[str, Any]) -> Iterator[Finding]:
    from .defaults import latency_buckets
    buckets = latency_buckets(data)
    if "latency_buckets" in data["metrics"]:
        for index in range(1, len(buckets)):
            if buckets[index] <= buckets[index - 1]:
                yield ("metrics", "latency_buckets", index), (
                    f"{buckets[index]} is not above {buckets[index - 1]}; bucket bounds must increase")
                return
    lowest, highest = buckets[0], buckets[-1]
    latency_checks = [(("thresholds", "latency_p95", "warning"), thresholds_with_defaults(data)["latency_p95"]["warning"])]
    latency_checks += [(("endpoints", i, "latency_p95"), e["latency_p95"])
                       for i, e in enumerate(data["endpoints"]) if "latency_p95" in e]
    for path, text in latency_checks:
        seconds = parse_ms(text) / 1000
        if seconds < lowest or seconds >= highest:
            yield path, (f"{text} cannot be measured with latency_buckets {lowest:g}s..{highest:g}s: "
                         f"a p95 threshold must lie from the first bucket up to below the last one, or the alert can never fire")


def _metrics_prefix(data: dict[str, Any]) -> Iterator[Finding]:
    prefix = data["metrics"]["prefix"]
    if prefix.startswith("__"):
        yield ("metrics", "prefix"), f"{prefix!r} starts with '__', which Prometheus reserves; pick a plain name like 'holysheep'"
    elif prefix.endswith("_") or prefix.endswith(("_total", "_bucket", "_count", "_sum")):
        yield ("metrics", "prefix"), (f"{prefix!r} must not end with '_' or a metric suffix; "
                                      "holystack appends _requests_total and the like itself")


def _windows(data: dict[str, Any]) -> Iterator[Finding]:
    slowest = max(job_intervals_ms(data).values())
    window = effective_rate_window_ms(data)
    if window < RATE_WINDOW_MIN_SCRAPES * slowest:
        yield ("metrics", "rate_window"), (
            f"{format_ms(window)} is shorter than {RATE_WINDOW_MIN_SCRAPES}x the slowest scrape interval "
            f"({format_ms(slowest)}); use at least {format_ms(RATE_WINDOW_MIN_SCRAPES * slowest)}")
    absent_for = parse_ms(thresholds_with_defaults(data)["metrics_absent"]["for"])
    if absent_for < ABSENT_FOR_MIN_SCRAPES * slowest:
        yield ("thresholds", "metrics_absent", "for"), (
            f"{format_ms(absent_for)} is shorter than {ABSENT_FOR_MIN_SCRAPES}x the slowest scrape interval; "
            f"one missed scrape would fire it. Use at least {format_ms(ABSENT_FOR_MIN_SCRAPES * slowest)}")
    evaluation = parse_ms(data["scrape"].get("evaluation_interval", data["scrape"].get("interval", "15s")))
    if evaluation == 0:
        yield ("scrape", "evaluation_interval"), "must be above 0s"
    for index, job in enumerate(data["scrape"]["jobs"]):
        if "interval" in job and parse_ms(job["interval"]) == 0:
            yield ("scrape", "jobs", index, "interval"), "must be above 0s"


def _burn_rates(data: dict[str, Any]) -> Iterator[Finding]:
    """A burn-rate alert whose threshold (factor x error budget) reaches 100% of calls can never fire."""
    for index, endpoint in enumerate(data["endpoints"]):
        if "availability" not in endpoint:
            continue
        budget = 1 - endpoint["availability"] / 100
        impossible = [(long, factor) for _, long, _, factor in BURN_RATE_ALERTS if factor * budget >= 1]
        if impossible:
            long, factor = impossible[0]
            floor = 100 * (1 - 1 / max(f for _, _, _, f in BURN_RATE_ALERTS))
            yield ("endpoints", index, "availability"), (
                f"{endpoint['availability']:g} leaves an error budget of {budget:.4g} ({budget * 100:.4g}% of calls); "
                f"the {factor:g}x burn-rate alert over {long} would need {factor * budget * 100:.4g}% of calls to "
                f"fail, so it could never fire. Use an availability above {floor:.2f}, or leave availability out")


def _routes(data: dict[str, Any]) -> Iterator[Finding]:
    alerting = data["alerting"]
    for name in alerting.get("group_by", []):
        if name != "..." and not LABEL_NAME_RE.match(name):
            yield ("alerting", "group_by"), f"{name!r} is not a label name"
    for index, route in enumerate(alerting.get("routes", [])):
        where = ("alerting", "routes", index)
        for key in ("match", "match_re"):
            for label in route.get(key, {}):
                if not LABEL_NAME_RE.match(label):
                    yield where + (key, label), f"{label!r} is not a label name"
        for value_index, pattern in enumerate(route.get("match_re", {}).values()):
            try:
                re.compile(pattern)
            except re.error as exc:
                yield where + ("match_re",), f"{pattern!r} is not a regular expression: {exc}"
        for m_index, matcher in enumerate(route.get("matchers", [])):
            if not MATCHER_RE.match(matcher):
                yield where + ("matchers", m_index), f"{matcher!r} is not a matcher such as severity=\"critical\""


def _reserved_names(data: dict[str, Any]) -> Iterator[Finding]:
    for section in ("models", "providers"):
        for index, item in enumerate(data[section]):
            if item["name"] == OTHER:
                yield (section, index, "name"), (
                    f"{OTHER!r} is reserved for calls to {section} outside the spec; rename it")
    for index, job in enumerate(data["scrape"]["jobs"]):
        if job["name"] in RESERVED_JOB_NAMES:
            yield ("scrape", "jobs", index, "name"), (
                f"{job['name']!r} is the job holystack writes for {job['name'].title()} itself; pick another name")
    for index, receiver in enumerate(data["alerting"]["receivers"]):
        if receiver["name"] == WATCHDOG_RECEIVER:
            yield ("alerting", "receivers", index, "name"), f"{WATCHDOG_RECEIVER!r} is the receiver holystack writes for the Watchdog"


def _alerting_timing(data: dict[str, Any]) -> Iterator[Finding]:
    timing = timing_with_defaults(data["alerting"])
    group_interval = parse_ms(timing["group_interval"])
    repeat_interval = parse_ms(timing["repeat_interval"])
    if group_interval == 0:
        yield ("alerting", "group_interval"), "must be above 0s"
    elif repeat_interval < group_interval or repeat_interval % group_interval:
        yield ("alerting", "repeat_interval"), (
            f"{timing['repeat_interval']} must be a multiple of group_interval ({timing['group_interval']}); "
            "Alertmanager only repeats at group_interval ticks")
