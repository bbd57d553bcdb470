"""Small builders for PromQL text: quoting, regex alternations, selectors."""
from __future__ import annotations

import re
from collections.abc import Iterable


def quote(value: str) -> str:
    """A PromQL double-quoted string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def alternation(values: Iterable[str]) -> str:
    """A regex that matches exactly one of the values (PromQL regexes are anchored)."""
    return "|".join(re.escape(v) for v in values)


def matcher(label: str, value: str, op: str = "=") -> str:
    return f"{label}{op}{quote(value)}"


def one_of(label: str, values: Iterable[str]) -> str:
    """label="v" for one value, label=~"a|b" for several."""
    values = list(values)
    if len(values) == 1:
        return matcher(label, values[0])
    return matcher(label, alternation(values), "=~")


def selector(name: str, *matchers: str) -> str:
    return f"{name}{{{','.join(matchers)}}}" if matchers else name


def number(value: float) -> str:
    """A number as PromQL reads it, without float noise: 0.1 not 0.1000000000000001."""
    text = f"{value:.12g}"
    return text


def by(labels: Iterable[str]) -> str:
    return "by (" + ", ".join(labels) + ")"


SECONDS_PER_HOUR = 3600
SECONDS_PER_DAY = 24 * SECONDS_PER_HOUR
# Seconds since the start of the calendar month (UTC) at evaluation time, and those left in it.
MONTH_ELAPSED_SECONDS = (f"((day_of_month() - 1) * {SECONDS_PER_DAY} + hour() * {SECONDS_PER_HOUR}"
                         " + minute() * 60 + time() % 60)")
MONTH_LEFT_SECONDS = f"(days_in_month() * {SECONDS_PER_DAY} - {MONTH_ELAPSED_SECONDS})"
