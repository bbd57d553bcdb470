"""Raw-input hygiene: what every value of a spec must be before anything renders it.

JSON Schema says types, patterns and numeric ranges (holystack/schema/spec.schema.json); this
module says what it cannot: finite numbers, strings free of control and invisible characters and
of Go template delimiters (Prometheus templates alert labels and annotations, Alertmanager its
notifier fields: holystack refuses '{{' and '}}' in every string rather than escape them), regular
expressions that Go's RE2 accepts, host:port values and URLs that parse, group_by lists that
Alertmanager loads, and durations small enough for Prometheus, Alertmanager and the generated
promtool tests. It reads the raw dict and skips what the schema already refuses."""
from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from .defaults import DEFAULT_ALERTING, LEVEL_KEYS
from .durations import UNITS_MS, format_ms, parse_ms

Finding = tuple[tuple[Any, ...], str]

# Longest string holystack takes anywhere (a URL, a matcher, a name); a spec value is short.
MAX_STRING = 2048
TEMPLATE_DELIMITERS = ("{{", "}}")
# Scrape and evaluation intervals: whole seconds (the generated tests step by their gcd, so at
# most 3600 samples per series over their hour) and at most 1m: the generated tests evaluate an
# alert 2m after its rate window and 'for' have passed, which two slower evaluations miss (the
# property test found alerts unfired at eval 2m and 5m); an evaluation interval also divides a
# minute, so that an evaluation falls on the hour where the tests judge the budget alerts.
MIN_INTERVAL_MS = UNITS_MS["s"]
MAX_INTERVAL_MS = UNITS_MS["m"]
# The generated promtool tests run their series for one hour (render/ruletests.py RUN) and
# evaluate an alert at rate window + for + 2m: that must fall inside the hour.
# The budget tests reach their total after a 10m ramp (render/alerts/budget.py RAMP) and are judged
# once the 24 h sum has it and their 'for' (at most 15m, semantics.MAX_BUDGET_FOR) has passed.
# The smallest price above 0, in USD per 1M tokens (budgets are at most 1e6 a day, 1e7 a month).
MIN_PRICE = 0.001
# Alertmanager's and Prometheus' other durations: far below what a Go duration holds (292 years).
MAX_DURATION_MS = 30 * UNITS_MS["d"]
MAX_PROVIDER_TIMEOUT_MS = UNITS_MS["h"]
LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
HOST_PORT_RE = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_][A-Za-z0-9_.-]*):([0-9]{1,5})")
# A matcher as Alertmanager reads it: label, operator, value (quoted or bare).
MATCHER_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|[^"\s,{}]*)\s*')
HTTP_SCHEMES = ("http", "https")
# URL fields: path -> whether holystack appends to it (then it may carry no query or fragment).
URL_FIELDS = {("dashboards", "url"): True, ("alerting", "runbook_url"): True,
              ("dashboards", "prometheus_url"): False}
RECEIVER_URL_FIELDS = (("webhook", "url"), ("opsgenie", "api_url"))


def hygiene_problems(data: dict[str, Any]) -> list[Finding]:
    """Every problem of the raw spec that JSON Schema cannot name, as (path, message).
    A check that meets data of the wrong shape is skipped: the schema names that."""
    findings = list(_values(data, ()))
    for check in (_intervals, _prices, _durations, _group_by, _regexes, _host_ports, _urls, _watchdog):
        try:
            findings.extend(check(data))
        except (KeyError, TypeError, ValueError, AttributeError, IndexError):
            continue
    return findings


# -- every value -----------------------------------------------------------------------------
def _bad_character(text: str) -> str | None:
    """The first character that must not stand in a spec string: control (C0, DEL, C1 such as
    U+0085 which YAML reads as a line break), format, line or paragraph separator, unassigned."""
    for char in text:
        if char != " " and not char.isprintable():
            return f"U+{ord(char):04X}"
    return None


def _string_problem(text: str) -> str | None:
    if len(text) > MAX_STRING:
        return f"is {len(text)} characters long; at most {MAX_STRING} are accepted"
    bad = _bad_character(text)
    if bad is not None:
        return (f"holds the control or invisible character {bad}; remove it (newlines, tabs and "
                "control characters have no place in a name, path, URL or matcher)")
    if any(delimiter in text for delimiter in TEMPLATE_DELIMITERS):
        return ("holds '{{' or '}}', which Prometheus and Alertmanager would run as a template; "
                "remove them (holystack writes every spec string as literal text)")
    return None


def _values(node: Any, path: tuple[Any, ...]) -> Iterator[Finding]:
    """Every string (keys included) and every number of the spec."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str) and (problem := _string_problem(key)):
                yield path + (_printable(key),), f"this key {problem}"
                continue
            yield from _values(value, path + (key,))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _values(item, path + (index,))
    elif isinstance(node, str):
        if problem := _string_problem(node):
            yield path, problem
    elif isinstance(node, float) and not math.isfinite(node):
        yield path, f"{node} is not a finite number; give a plain number"


def _printable(key: str) -> str:
    """A key fit to name in a message: its non-printable characters escaped."""
    return ascii(key)[1:-1][:60]


# -- durations -------------------------------------------------------------------------------
def _ms(text: Any) -> int | None:
    """Milliseconds of a duration string; None when it is not one (the schema says so)."""
    try:
        return parse_ms(text) if isinstance(text, str) else None
    except ValueError:
        return None


def _intervals(data: dict[str, Any]) -> Iterator[Finding]:
    scrape = data["scrape"]
    paths = [(("scrape", "interval"), scrape.get("interval")),
             (("scrape", "evaluation_interval"), scrape.get("evaluation_interval"))]
    paths += [(("scrape", "jobs", i, "interval"), job.get("interval")) for i, job in enumerate(scrape.get("jobs", []))
              if isinstance(job, dict)]
    for path, text in paths:
        ms = _ms(text)
        if ms is None:
            continue
        if path[-1] == "evaluation_interval" and MIN_INTERVAL_MS <= ms <= MAX_INTERVAL_MS and MAX_INTERVAL_MS % ms:
            divisors = ", ".join(format_ms(d) for d in range(MIN_INTERVAL_MS, MAX_INTERVAL_MS + 1, MIN_INTERVAL_MS)
                                 if MAX_INTERVAL_MS % d == 0)
            yield path, (f"{text} does not divide a minute; use one of {divisors} (the generated tests judge each alert "
                         "on the hour, where an evaluation must fall: the property test found 7s off by one step)")
            continue
        if ms % MIN_INTERVAL_MS or not MIN_INTERVAL_MS <= ms <= MAX_INTERVAL_MS:
            yield path, (f"{text} must be whole seconds from {format_ms(MIN_INTERVAL_MS)} to "
                         f"{format_ms(MAX_INTERVAL_MS)} (the generated rule tests step through an hour of "
                         "samples, and evaluate each alert 2m after it may fire)")


def _prices(data: dict[str, Any]) -> Iterator[Finding]:
    """A price is 0 (free) or at least MIN_PRICE: the generated budget tests buy the budget in
    tokens, and a budget bought at a near-zero price needs more tokens than a float64 counts exactly."""
    for index, model in enumerate(data.get("models", [])):
        prices = model.get("prices") if isinstance(model, dict) else None
        for key, price in (prices.items() if isinstance(prices, dict) else ()):
            if isinstance(price, (int, float)) and not isinstance(price, bool) and 0 < price < MIN_PRICE:
                yield ("models", index, "prices", key), (
                    f"{price} is above 0 but below {MIN_PRICE} USD per 1M tokens; give 0 for free tokens, "
                    f"or at least {MIN_PRICE}")


def _durations(data: dict[str, Any]) -> Iterator[Finding]:
    alerting = data["alerting"]
    for key in ("group_wait", "group_interval", "repeat_interval"):
        ms = _ms(alerting.get(key, DEFAULT_ALERTING[key]))
        if ms is not None and ms > MAX_DURATION_MS:
            yield ("alerting", key), f"{alerting[key]} is longer than {format_ms(MAX_DURATION_MS)}"
    for index, provider in enumerate(data.get("providers", [])):
        ms = _ms(provider.get("timeout")) if isinstance(provider, dict) else None
        if ms is not None and not 0 < ms <= MAX_PROVIDER_TIMEOUT_MS:
            yield ("providers", index, "timeout"), (
                f"{provider['timeout']} must be above 0s and at most {format_ms(MAX_PROVIDER_TIMEOUT_MS)}")
    latency = data.get("thresholds", {}).get("latency_p95", {})
    for level in LEVEL_KEYS:
        ms = _ms(latency.get(level))
        if ms is not None and ms > MAX_DURATION_MS:
            yield ("thresholds", "latency_p95", level), f"{latency[level]} is longer than {format_ms(MAX_DURATION_MS)}"


# -- Alertmanager ----------------------------------------------------------------------------
def _group_by_list(names: Any, path: tuple[Any, ...], check_names: bool) -> Iterator[Finding]:
    if not isinstance(names, list):
        return
    seen: set[str] = set()
    for index, name in enumerate(names):
        if not isinstance(name, str):
            continue
        if name in seen:
            yield path + (index,), f"{name!r} is listed twice; Alertmanager refuses a repeated group_by label"
        seen.add(name)
        if check_names and name != "..." and not LABEL_NAME_RE.fullmatch(name):
            yield path + (index,), f"{name!r} is not a label name (letters, digits, '_'; not starting with a digit)"
    if "..." in seen and len(names) > 1:
        yield path, "'...' (group by every label) must stand alone in group_by"


def _group_by(data: dict[str, Any]) -> Iterator[Finding]:
    alerting = data["alerting"]
    # Label names of the top level are checked in semantics.py; here what Alertmanager adds.
    yield from _group_by_list(alerting.get("group_by"), ("alerting", "group_by"), check_names=False)
    for index, route in enumerate(alerting.get("routes", [])):
        if isinstance(route, dict):
            yield from _group_by_list(route.get("group_by"), ("alerting", "routes", index, "group_by"), True)


def re2_problem(pattern: str) -> str | None:
    """Why Go's RE2 (Alertmanager) would refuse the pattern, anchored as Alertmanager anchors it."""
    import re2  # google-re2: the RE2 library itself, as Go's regexp implements it

    options = re2.Options()
    options.log_errors = False
    try:
        re2.compile(f"^(?:{pattern})$", options)
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        return reason
    return None


def _matcher_value(raw: str) -> str:
    if raw.startswith('"'):
        try:
            return json.loads(raw)
        except ValueError:
            return raw[1:-1]
    return raw


def _regexes(data: dict[str, Any]) -> Iterator[Finding]:
    for index, route in enumerate(data["alerting"].get("routes", [])):
        if not isinstance(route, dict):
            continue
        where = ("alerting", "routes", index)
        for label, pattern in (route.get("match_re") or {}).items():
            if isinstance(pattern, str) and (reason := re2_problem(pattern)):
                yield where + ("match_re", label), (
                    f"{pattern!r} is not a regular expression Alertmanager (Go, RE2) accepts: {reason}; "
                    "RE2 has no lookaround and no backreferences")
        for m_index, matcher in enumerate(route.get("matchers") or []):
            found = MATCHER_RE.fullmatch(matcher) if isinstance(matcher, str) else None
            if found and found.group(2) in ("=~", "!~"):
                pattern = _matcher_value(found.group(3))
                if reason := re2_problem(pattern):
                    yield where + ("matchers", m_index), (
                        f"{pattern!r} is not a regular expression Alertmanager (Go, RE2) accepts: {reason}; "
                        "RE2 has no lookaround and no backreferences")


# -- addresses -------------------------------------------------------------------------------
def host_port_problem(text: str) -> str | None:
    """Why text is not host:port (a host name or address, and a port from 1 to 65535)."""
    found = HOST_PORT_RE.fullmatch(text)
    if not found:
        return "is not host:port (such as localhost:9090; no scheme, no path)"
    if not 1 <= int(found.group(2)) <= 65535:
        return f"has port {found.group(2)}; a port is 1 to 65535"
    return None


def _host_ports(data: dict[str, Any]) -> Iterator[Finding]:
    values: list[tuple[tuple[Any, ...], Any]] = []
    scrape = data.get("scrape", {})
    if "prometheus_address" in scrape:
        values.append((("scrape", "prometheus_address"), scrape["prometheus_address"]))
    for j, job in enumerate(scrape.get("jobs", [])):
        if isinstance(job, dict):
            values += [(("scrape", "jobs", j, "targets", t), target) for t, target in enumerate(job.get("targets", []))]
    alerting = data.get("alerting", {})
    values += [(("alerting", "alertmanagers", i), a) for i, a in enumerate(alerting.get("alertmanagers", []))]
    for r, receiver in enumerate(alerting.get("receivers", [])):
        email = receiver.get("email") if isinstance(receiver, dict) else None
        if isinstance(email, dict) and "smarthost" in email:
            values.append((("alerting", "receivers", r, "email", "smarthost"), email["smarthost"]))
    for path, value in values:
        if isinstance(value, str) and (problem := host_port_problem(value)):
            yield path, problem


def url_problem(url: str, appended: bool = False) -> str | None:
    """Why url is not an absolute http(s) URL with a host (and, when holystack appends a path to
    it, without a query or fragment). Never repeats the URL: it may carry a secret."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on a port out of range)
    except ValueError:
        return "is not a URL (its host or port does not parse)"
    if parts.scheme not in HTTP_SCHEMES or not parts.hostname:
        return "must be an absolute http:// or https:// URL with a host"
    if " " in url:
        return "holds a space; write it as %20"
    if appended and (parts.query or parts.fragment):
        return "must not carry a query or fragment: holystack appends the path of each link to it"
    return None


def _urls(data: dict[str, Any]) -> Iterator[Finding]:
    for path, appended in URL_FIELDS.items():
        section = data.get(path[0], {})
        value = section.get(path[1]) if isinstance(section, dict) else None
        if isinstance(value, str) and (problem := url_problem(value, appended)):
            yield path, problem
    for index, provider in enumerate(data.get("providers", [])):
        value = provider.get("base_url") if isinstance(provider, dict) else None
        if isinstance(value, str) and (problem := url_problem(value)):
            yield ("providers", index, "base_url"), problem
    for index, receiver in enumerate(data["alerting"].get("receivers", [])):
        for kind, field in RECEIVER_URL_FIELDS:
            section = receiver.get(kind) if isinstance(receiver, dict) else None
            value = section.get(field) if isinstance(section, dict) else None
            if isinstance(value, str) and (problem := url_problem(value)):
                yield ("alerting", "receivers", index, kind, field), problem


def _watchdog(data: dict[str, Any]) -> Iterator[Finding]:
    """The Watchdog's dead man's switch is a defined receiver, heard at least daily."""
    watchdog = data["alerting"].get("watchdog")
    if not isinstance(watchdog, dict):
        return
    names = [r.get("name") for r in data["alerting"].get("receivers", []) if isinstance(r, dict)]
    if isinstance(watchdog.get("receiver"), str) and watchdog["receiver"] not in names:
        yield ("alerting", "watchdog", "receiver"), (
            f"{watchdog['receiver']!r} is not a defined receiver; define the dead man's switch under "
            "alerting.receivers (a webhook to healthchecks, or a PagerDuty or Opsgenie heartbeat)")
    ms = _ms(watchdog.get("repeat_interval"))
    if ms is not None and not 0 < ms <= UNITS_MS["d"]:
        yield ("alerting", "watchdog", "repeat_interval"), (
            f"{watchdog['repeat_interval']} must be above 0s and at most 1d: a dead man's switch must hear "
            "the Watchdog more often than its own timeout")
