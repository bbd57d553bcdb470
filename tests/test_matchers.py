"""The one matcher grammar (holystack.matchers): what the spec checks accept, hygiene reads regexes
from, and the Kubernetes renderer turns into AlertmanagerConfig matcher objects."""
from __future__ import annotations

import pytest

from holystack.matchers import Matcher, parse_matcher
from holystack.promql import quote
from holystack.render.kubernetes import _matcher


@pytest.mark.parametrize(("text", "parsed"), [
    ('severity="critical"', Matcher("severity", "=", "critical")),
    (" team != ops ", Matcher("team", "!=", "ops")),
    ('path=~"/v1/.*\\\\d+"', Matcher("path", "=~", "/v1/.*\\d+")),  # \\ is one backslash
    ('path=~"\\d+"', Matcher("path", "=~", "\\d+")),  # a backslash Alertmanager does not unescape stays
    ('a="say \\"hi\\"\\n"', Matcher("a", "=", 'say "hi"\n')),
    ("a!~", Matcher("a", "!~", "")),
])
def test_a_matcher_reads_as_alertmanager_reads_it(text: str, parsed: Matcher) -> None:
    assert parse_matcher(text) == parsed


@pytest.mark.parametrize("text", ["severity", "1a=b", 'a="open', "a=b c", "a={b}", "a=b,c=d"])
def test_what_is_not_a_matcher(text: str) -> None:
    assert parse_matcher(text) is None


@pytest.mark.parametrize("value", ["plain", 'q"uote', "back\\slash", "line\nbreak", "\\d+"])
def test_a_quoted_value_reads_back_as_written(value: str) -> None:
    assert parse_matcher(f"label={quote(value)}") == Matcher("label", "=", value)


def test_the_kubernetes_matcher_object_carries_the_unquoted_value() -> None:
    assert _matcher('path=~"\\d+"') == {"name": "path", "value": "\\d+", "matchType": "=~"}
    with pytest.raises(ValueError):
        _matcher("not one")
