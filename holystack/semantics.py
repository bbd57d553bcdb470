"""Rules a JSON Schema cannot say: unique names, references, ordered levels, units that
fit the scrape interval, and secrets kept out of generated files."""
from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

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

Finding = tuple[tuple[Any, ...], str]

# Inline secret field -> the *_file form to use instead, per integration.
INLINE_SECRETS: dict[str, dict[str, str]] = {
    "slack": {"api_url": "api_url_file"},
    "pagerduty": {"routing_key": "routing_key_file", "service_key": "routing_key_file"},
    "opsgenie": {"api_key": "api_key_file"},
    "email": {"auth_password": "auth_password_file"},
}
INLINE_SECRET_MESSAGE = "inline secrets are never written into generated files"
SECRET_QUERY_KEYS = re.compile(r"(token|secret|key|sig|signature|password|passwd|auth)", re.IGNORECASE)
MATCHER_RE = re.compile(r'^\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|[^"\s,{}]*)\s*$')
LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def semantic_problems(data: dict[str, Any]) -> list[Finding]:
    """Every rule beyond the schema that the spec breaks, as (path, message).
    Each check runs even when the schema failed; one that meets data it cannot read is
    skipped, since the schema has already named that problem."""
    checks = (_unique_names, _receiver_references, _levels, _buckets_and_latency,
              _metrics_prefix, _windows, _burn_rates, _secrets, _routes, _reserved_names, _alerting_timing,
              _resilience)
    findings: list[Finding] = []
    for check in checks:
        try:
            findings.extend(list(check(data)))
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, ZeroDivisionError):
            continue
    return findings


def secret_paths(findings: list[Finding]) -> set[tuple[Any, ...]]:
    """Integrations refused for an inline secret; the schema's complaints about them add nothing."""
    return {path[:4] for path, message in findings if message.startswith(INLINE_SECRET_MESSAGE)}


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


def _secrets(data: dict[str, Any]) -> Iterator[Finding]:
    for index, receiver in enumerate(data["alerting"]["receivers"]):
        where = ("alerting", "receivers", index)
        for integration, fields in INLINE_SECRETS.items():
            for field, file_form in fields.items():
                if field in receiver.get(integration, {}):
                    yield where + (integration, field), (
                        f"{INLINE_SECRET_MESSAGE}; put the value in a file "
                        f"readable by Alertmanager and set {integration}.{file_form} to its path")
        webhook = receiver.get("webhook")
        if webhook is None:
            continue
        if ("url" in webhook) == ("url_file" in webhook):
            yield where + ("webhook",), "give exactly one of url or url_file"
        elif "url" in webhook:
            yield from _webhook_url(webhook["url"], where + ("webhook", "url"))


def _webhook_url(url: str, path: tuple[Any, ...]) -> Iterator[Finding]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        yield path, f"{url!r} is not an http(s) URL"
    elif parts.username or parts.password:
        yield path, "the URL carries credentials; put the whole URL in a file and set webhook.url_file to its path"
    elif any(SECRET_QUERY_KEYS.search(key) for key, _ in parse_qsl(parts.query)):
        yield path, "the URL's query looks like it carries a secret; put the whole URL in a file and set webhook.url_file"


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


def _resilience(data: dict[str, Any]) -> Iterator[Finding]:
    """Retry, breaker and fallback settings that cannot work: unknown providers and models, a chain
    that loops or forks, a backoff cap under its base, statuses that must not be retried."""
    section = data.get("resilience")
    if not section:
        return
    providers = {p["name"] for p in data["providers"]}
    models = {m["name"] for m in data["models"]}
    known = ", ".join(sorted(providers))
    for name, own in section.get("providers", {}).items():
        if name not in providers:
            yield ("resilience", "providers", name), f"{name!r} is not a provider; use one of {known}"
    policies = [(("resilience",), section)] + [(("resilience", "providers", name), own)
                                               for name, own in section.get("providers", {}).items()]
    for where, policy in policies:
        retry = policy.get("retry", {})
        if "backoff_base" in retry and "backoff_cap" in retry \
                and parse_ms(retry["backoff_cap"]) < parse_ms(retry["backoff_base"]):
            yield where + ("retry", "backoff_cap"), (f"{retry['backoff_cap']} is shorter than backoff_base "
                                                     f"{retry['backoff_base']}; the cap must be at least the base")
        for index, status in enumerate(retry.get("statuses", [])):
            if status != 429 and not 500 <= status <= 599:
                yield where + ("retry", "statuses", index), (f"{status} is not retried: only 429 and 5xx answers "
                                                             "are; another 4xx fails the same way again")
        if "deadline" in retry and parse_ms(retry["deadline"]) == 0:
            yield where + ("retry", "deadline"), "must be longer than 0s"
        breaker = policy.get("breaker", {})
        for key in ("window", "open_for"):
            if key in breaker and parse_ms(breaker[key]) == 0:
                yield where + ("breaker", key), "must be longer than 0s"
    sources: dict[str, int] = {}
    edges: dict[str, str] = {}
    for index, edge in enumerate(section.get("fallbacks", [])):
        where = ("resilience", "fallbacks", index)
        for key in ("from", "to"):
            if edge[key] not in providers:
                yield where + (key,), f"{edge[key]!r} is not a provider; use one of {known}"
        if edge["from"] == edge["to"]:
            yield where + ("to",), f"{edge['to']!r} falls back to itself"
        elif edge["from"] in sources:
            yield where + ("from",), (f"{edge['from']!r} already falls back in fallbacks[{sources[edge['from']]}]; "
                                      "a provider has one next provider (chain them: a -> b, b -> c)")
        else:
            sources[edge["from"]] = index
            edges[edge["from"]] = edge["to"]
        for model in edge.get("models", {}):
            if model not in models:
                yield where + ("models", model), f"{model!r} is not a model of the spec"
    for start, index in sources.items():
        seen, current = [start], edges[start]
        while current in edges and current not in seen:
            seen.append(current)
            current = edges[current]
        if current == start:
            yield ("resilience", "fallbacks", index), ("the fallback chain loops: " + " -> ".join(seen + [start])
                                                       + "; end it at a provider that falls back to none")
            break
