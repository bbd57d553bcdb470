"""The Alertmanager matcher grammar, defined once: a label name, an operator (=, !=, =~, !~) and a
value, double-quoted (Alertmanager's escapes: \\n, \\", \\\\; any other backslash stays) or bare. The
spec checks refuse what it does not read, hygiene checks the regexes it reads, the Kubernetes
renderer turns it into AlertmanagerConfig matcher objects; holystack.promql.quote writes values."""
from __future__ import annotations

import re
from typing import NamedTuple

LABEL_NAME = r"[a-zA-Z_][a-zA-Z0-9_]*"
LABEL_NAME_RE = re.compile(LABEL_NAME)  # fullmatch
MATCHER_RE = re.compile(rf'\s*({LABEL_NAME})\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|[^"\s,{{}}]*)\s*')
REGEX_OPERATORS = ("=~", "!~")
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_ESCAPED = {"n": "\n", '"': '"', "\\": "\\"}


class Matcher(NamedTuple):
    name: str
    operator: str
    value: str  # unquoted


def parse_matcher(text: str) -> Matcher | None:
    """The matcher text reads as, or None when it is not one."""
    found = MATCHER_RE.fullmatch(text)
    if found is None:
        return None
    name, operator, value = found.groups()
    if value.startswith('"'):
        value = _ESCAPE.sub(lambda m: _ESCAPED.get(m[1], m[0]), value[1:-1])
    return Matcher(name, operator, value)
