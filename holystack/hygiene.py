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
from .errors import Finding
from .matchers import LABEL_NAME_RE, REGEX_OPERATORS, parse_matcher
from .shapes import indexed, items, section

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
# The generated promtool tests run their series for one hour (render/alerts/promtool.py RUN, from
# defaults.PROMTOOL_CASE_RUN) and evaluate an alert at rate window + for + 2m: that must fall inside
# the hour (semantics._test_horizon checks it).
# The budget tests reach their total after a 10m ramp (render/alerts/budget.py RAMP) and are judged
# once the 24 h sum has it and their 'for' (at most 15m, semantics.MAX_BUDGET_FOR) has passed.
# The smallest price above 0, in USD per 1M tokens (budgets are at most 1e6 a day, 1e7 a month).
MIN_PRICE = 0.001
# The largest, as the schema's usd_per_million maximum says.
MAX_PRICE = 100_000
# Alertmanager's and Prometheus' other durations: far below what a Go duration holds (292 years).
MAX_DURATION_MS = 30 * UNITS_MS["d"]
MAX_PROVIDER_TIMEOUT_MS = UNITS_MS["h"]
HOST_PORT_RE = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_][A-Za-z0-9_.-]*):([0-9]{1,5})")
HTTP_SCHEMES = ("http", "https")
# What Go's net/url (Prometheus, Alertmanager) refuses in a URL beyond what urlsplit does (checked
# with promtool check config): a '%' without two hex digits, and ASCII punctuation in the host.
BAD_ESCAPE_RE = re.compile(r"%(?![0-9A-Fa-f]{2})")
URL_HOST_RE = re.compile(r"[\w.-]+|[0-9a-f:.]+")  # urlsplit lowercases and unbrackets the host
# URL fields: path -> whether holystack appends to it (then it may carry no query or fragment).
URL_FIELDS = {("dashboards", "url"): True, ("alerting", "runbook_url"): True,
              ("dashboards", "prometheus_url"): False}
RECEIVER_URL_FIELDS = (("webhook", "url"), ("opsgenie", "api_url"))
# Headers Prometheus sets itself on a remote write and refuses in remote_write.headers (its
# config.reservedHeaders, compared case-insensitively; promtool check config 2.42 refuses each).
REMOTE_WRITE_RESERVED_HEADERS = frozenset(h.lower() for h in (
    "Authorization", "Host", "Content-Encoding", "Content-Length", "Content-Type", "User-Agent", "Connection",
    "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Www-Authenticate", "Accept-Encoding",
    "X-Prometheus-Remote-Write-Version", "X-Prometheus-Remote-Read-Version"))
# An HTTP header name is an RFC 9110 token; Prometheus accepts any string and fails at send time.
HEADER_NAME_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
REMOTE_WRITE_DURATIONS = ("batch_send_deadline", "min_backoff", "max_backoff")


def hygiene_problems(data: dict[str, Any]) -> list[Finding]:
    """Every problem of the raw spec that JSON Schema cannot name, as (path, message).
    Each check reads its items through shapes.py: an item of the wrong shape is skipped (the
    schema names it), and every other item is still checked."""
    findings = list(_values(data, ()))
    for check in (_intervals, _prices, _durations, _group_by, _regexes, _host_ports, _urls, _watchdog, _remote_write,
                  _email):
        findings.extend(check(data))
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
    scrape = section(data, "scrape")
    paths = [(("scrape", "interval"), scrape.get("interval")),
             (("scrape", "evaluation_interval"), scrape.get("evaluation_interval"))]
    paths += [(("scrape", "jobs", i, "interval"), job.get("interval")) for i, job in indexed(scrape.get("jobs"))]
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
    for index, model in indexed(data.get("models")):
        for key, price in section(model, "prices").items():
            if isinstance(price, (int, float)) and not isinstance(price, bool) and 0 < price < MIN_PRICE:
                yield ("models", index, "prices", key), (
                    f"{price} is above 0 but below {MIN_PRICE} USD per 1M tokens; give 0 for free tokens, "
                    f"or at least {MIN_PRICE}")


def _durations(data: dict[str, Any]) -> Iterator[Finding]:
    alerting = section(data, "alerting")
    for key in ("group_wait", "group_interval", "repeat_interval"):
        ms = _ms(alerting.get(key, DEFAULT_ALERTING[key]))
        if ms is not None and ms > MAX_DURATION_MS:
            yield ("alerting", key), f"{alerting[key]} is longer than {format_ms(MAX_DURATION_MS)}"
    for index, provider in indexed(data.get("providers")):
        ms = _ms(provider.get("timeout"))
        if ms is not None and not 0 < ms <= MAX_PROVIDER_TIMEOUT_MS:
            yield ("providers", index, "timeout"), (
                f"{provider['timeout']} must be above 0s and at most {format_ms(MAX_PROVIDER_TIMEOUT_MS)}")
    latency = section(data, "thresholds", "latency_p95")
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
    alerting = section(data, "alerting")
    # Label names of the top level are checked in semantics.py; here what Alertmanager adds.
    yield from _group_by_list(alerting.get("group_by"), ("alerting", "group_by"), check_names=False)
    for index, route in indexed(alerting.get("routes")):
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


def _regexes(data: dict[str, Any]) -> Iterator[Finding]:
    for index, route in indexed(section(data, "alerting").get("routes")):
        where = ("alerting", "routes", index)
        for label, pattern in section(route, "match_re").items():
            if isinstance(pattern, str) and (reason := re2_problem(pattern)):
                yield where + ("match_re", label), (
                    f"{pattern!r} is not a regular expression Alertmanager (Go, RE2) accepts: {reason}; "
                    "RE2 has no lookaround and no backreferences")
        for m_index, matcher in items(route.get("matchers")):
            found = parse_matcher(matcher) if isinstance(matcher, str) else None
            if found and found.operator in REGEX_OPERATORS:
                pattern = found.value
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
    scrape = section(data, "scrape")
    if "prometheus_address" in scrape:
        values.append((("scrape", "prometheus_address"), scrape["prometheus_address"]))
    for j, job in indexed(scrape.get("jobs")):
        values += [(("scrape", "jobs", j, "targets", t), target) for t, target in items(job.get("targets"))]
    alerting = section(data, "alerting")
    values += [(("alerting", "alertmanagers", i), a) for i, a in items(alerting.get("alertmanagers"))]
    for r, receiver in indexed(alerting.get("receivers")):
        email = section(receiver, "email")
        if "smarthost" in email:
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
    if BAD_ESCAPE_RE.search(url):
        return "holds a '%' that is not followed by two hex digits; write a literal '%' as %25"
    if not URL_HOST_RE.fullmatch(parts.hostname):
        return "has a host with characters a host name cannot hold (letters, digits, '-', '.', '_', or [IPv6])"
    if appended and (parts.query or parts.fragment):
        return "must not carry a query or fragment: holystack appends the path of each link to it"
    return None


def spec_urls(data: dict[str, Any]) -> Iterator[tuple[tuple[Any, ...], str, bool]]:
    """Every URL field of the spec that holds a string: (path, URL, whether holystack appends to it).
    The one list both the URL check here and the credential check (secrets.py) read."""
    for path, appended in URL_FIELDS.items():
        value = section(data, path[0]).get(path[1])
        if isinstance(value, str):
            yield path, value, appended
    for index, provider in indexed(data.get("providers")):
        if isinstance(provider.get("base_url"), str):
            yield ("providers", index, "base_url"), provider["base_url"], False
    for index, receiver in indexed(section(data, "alerting").get("receivers")):
        for kind, field in RECEIVER_URL_FIELDS:
            value = section(receiver, kind).get(field)
            if isinstance(value, str):
                yield ("alerting", "receivers", index, kind, field), value, False
    for index, remote in indexed(data.get("remote_write")):
        if isinstance(remote.get("url"), str):
            yield ("remote_write", index, "url"), remote["url"], False


def _urls(data: dict[str, Any]) -> Iterator[Finding]:
    for path, value, appended in spec_urls(data):
        if problem := url_problem(value, appended):
            yield path, problem


def _remote_write(data: dict[str, Any]) -> Iterator[Finding]:
    """remote_write as Prometheus loads it: no reserved header, header names that are HTTP tokens,
    queue durations within MAX_DURATION_MS (Go's own limit, 292y, is where promtool stops), and
    names given once (Prometheus refuses two queues of one name)."""
    names: dict[str, int] = {}
    entries: dict[str, int] = {}
    for index, remote in indexed(data.get("remote_write")):
        where = ("remote_write", index)
        same = json.dumps(remote, sort_keys=True, default=str)
        if same in entries:
            yield where, (f"is the same as remote_write[{entries[same]}]; Prometheus refuses two identical "
                          "remote_write entries: remove one")
        entries.setdefault(same, index)
        for header in section(remote, "headers"):
            if not isinstance(header, str):
                continue
            if "auth" in header.lower():
                continue  # a credential header: secrets.py refuses it for its file form
            if header.lower() in REMOTE_WRITE_RESERVED_HEADERS:
                yield where + ("headers", header), (
                    f"{header} is a header Prometheus sets itself and refuses here; remove it (credentials go in "
                    "basic_auth.password_file or bearer_token_file)")
            elif not HEADER_NAME_RE.fullmatch(header):
                yield where + ("headers", header), (
                    "is not an HTTP header name (letters, digits and !#$%&'*+.^_`|~-, no spaces or ':')")
        queue = section(remote, "queue_config")
        for key in REMOTE_WRITE_DURATIONS:
            ms = _ms(queue.get(key))
            if ms is not None and ms > MAX_DURATION_MS:
                yield where + ("queue_config", key), f"{queue[key]} is longer than {format_ms(MAX_DURATION_MS)}"
        name = remote.get("name")
        if isinstance(name, str):
            if name in names:
                yield where + ("name",), (f"{name!r} is already used by remote_write[{names[name]}]; Prometheus "
                                          "refuses two remote_write entries of one name")
            names.setdefault(name, index)


def _email(data: dict[str, Any]) -> Iterator[Finding]:
    """An email receiver's to and from are addresses: amtool refuses an empty one ('missing to
    address', 'no global SMTP from set'), and a blank one fails when the mail is sent."""
    for index, receiver in indexed(section(data, "alerting").get("receivers")):
        email = section(receiver, "email")
        for field in ("to", "from"):
            value = email.get(field)
            if isinstance(value, str) and not value.strip():
                yield ("alerting", "receivers", index, "email", field), (
                    f"is empty; give the {'recipient' if field == 'to' else 'sender'} address, such as "
                    f"{'oncall' if field == 'to' else 'alertmanager'}@example.com (Alertmanager refuses an email "
                    "receiver without one)")


def _watchdog(data: dict[str, Any]) -> Iterator[Finding]:
    """The Watchdog's dead man's switch is a defined receiver, heard at least daily."""
    watchdog = section(data, "alerting", "watchdog")
    if not watchdog:
        return
    names = [r.get("name") for _, r in indexed(section(data, "alerting").get("receivers"))]
    if isinstance(watchdog.get("receiver"), str) and watchdog["receiver"] not in names:
        yield ("alerting", "watchdog", "receiver"), (
            f"{watchdog['receiver']!r} is not a defined receiver; define the dead man's switch under "
            "alerting.receivers (a webhook to healthchecks, or a PagerDuty or Opsgenie heartbeat)")
    ms = _ms(watchdog.get("repeat_interval"))
    if ms is not None and not 0 < ms <= UNITS_MS["d"]:
        yield ("alerting", "watchdog", "repeat_interval"), (
            f"{watchdog['repeat_interval']} must be above 0s and at most 1d: a dead man's switch must hear "
            "the Watchdog more often than its own timeout")
