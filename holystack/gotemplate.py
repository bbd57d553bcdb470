"""The subset of Prometheus alert templating that holystack's annotations use, expanded in
Python so that generated promtool tests can state the exact text an alert carries.

Supported: {{ $labels.NAME }}, {{ $value }}, {{ $value | humanize }},
{{ $value | humanizePercentage }}, {{ $value | humanizeDuration }}, {{ $value | printf "FMT" }}.
Anything else raises, so annotations stay within what is proven."""
from __future__ import annotations

import math
import re
from collections.abc import Mapping

ACTION_RE = re.compile(r"{{-?\s*(.*?)\s*-?}}")
LABEL_RE = re.compile(r"^\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)$")
VALUE_RE = re.compile(r'^\$value(?:\s*\|\s*(humanize|humanizePercentage|humanizeDuration|printf\s+"([^"]*)"))?$')


def _g4(value: float) -> str:
    """Go's %.4g, which matches C's for finite values."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return "%.4g" % value


def _g4_small(value: float) -> str:
    """A value below 1 with an SI prefix (m, u, n, ...), as Prometheus humanizes it."""
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(value) >= 1:
            break
        prefix = p
        value *= 1000
    return f"{_g4(value)}{prefix}"


def humanize(value: float) -> str:
    if value == 0 or math.isnan(value) or math.isinf(value):
        return _g4(value)
    if abs(value) >= 1:
        prefix = ""
        for p in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
            if abs(value) < 1000:
                break
            prefix = p
            value /= 1000
        return f"{_g4(value)}{prefix}"
    return _g4_small(value)


def humanize_percentage(value: float) -> str:
    return f"{_g4(value * 100)}%"


def humanize_duration(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        return _g4(value)
    if value == 0:
        return f"{_g4(value)}s"
    if abs(value) >= 1:
        sign = "-" if value < 0 else ""
        value = abs(value)
        whole = int(value)
        seconds, minutes = whole % 60, (whole // 60) % 60
        hours, days = (whole // 3600) % 24, whole // 86400
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {seconds}s"
        if minutes:
            return f"{sign}{minutes}m {seconds}s"
        return f"{sign}{_g4(value)}s"
    return f"{_g4_small(value)}s"


def _go_printf(fmt: str, value: float) -> str:
    if not re.fullmatch(r"%\.?\d*[fge]", fmt):
        raise ValueError(f"printf format {fmt!r} is outside the supported subset")
    return fmt % value


def actions(template: str) -> list[str]:
    """The {{ }} actions of a template, trimmed."""
    return ACTION_RE.findall(template)


def check_supported(template: str) -> list[str]:
    """Actions of the template that expand() cannot handle."""
    return [a for a in actions(template) if not (LABEL_RE.match(a) or VALUE_RE.match(a))]


def expand(template: str, labels: Mapping[str, str], value: float) -> str:
    """Expand the template as Prometheus would for an alert with these labels and value."""

    def one(match: re.Match[str]) -> str:
        action = match.group(1)
        if label := LABEL_RE.match(action):
            return labels.get(label.group(1), "")
        if found := VALUE_RE.match(action):
            func, fmt = found.group(1), found.group(2)
            if func is None:
                return repr(value) if value != int(value) else str(int(value))
            if func == "humanize":
                return humanize(value)
            if func == "humanizePercentage":
                return humanize_percentage(value)
            if func == "humanizeDuration":
                return humanize_duration(value)
            return _go_printf(fmt, value)
        raise ValueError(f"template action {{{{ {action} }}}} is outside the subset holystack can prove")

    return ACTION_RE.sub(one, template)
