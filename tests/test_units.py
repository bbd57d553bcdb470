"""Unit tests of the small pieces every renderer leans on: durations, PromQL text, and the
semantic checks of the model."""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from holystack import load_stack, semantics
from holystack.durations import format_ms, parse_ms
from holystack.model import Duration, Stack
from holystack.promql import alternation, by, matcher, number, one_of, quote, selector
from holystack.thresholds import Levels

from .conftest import EXAMPLE


@pytest.mark.parametrize("text, ms", [("0", 0), ("0s", 0), ("250ms", 250), ("30s", 30_000), ("1h30m", 5_400_000),
                                      ("1d", 86_400_000), ("2w", 14 * 86_400_000), ("1y", 365 * 86_400_000)])
def test_parse_ms(text: str, ms: int) -> None:
    assert parse_ms(text) == ms


@pytest.mark.parametrize("text", ["", "5", "1.5h", "5m1h", "1h1h", "-1m", "1 m", "m"])
def test_parse_ms_refuses_what_prometheus_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_ms(text)


@pytest.mark.parametrize("ms, text", [(0, "0s"), (90_000, "1m30s"), (30 * 86_400_000, "30d"), (1_500, "1s500ms"),
                                      (86_400_000 + 1, "1d1ms")])
def test_format_ms_round_trips(ms: int, text: str) -> None:
    assert format_ms(ms) == text and parse_ms(text) == ms


def test_quote_escapes_what_promql_strings_need() -> None:
    assert quote('a"b\\c\nd') == '"a\\"b\\\\c\\nd"'
    assert matcher("model", 'x"}') == 'model="x\\"}"'
    assert selector("m", matcher("a", "1"), matcher("b", "2", "!=")) == 'm{a="1",b!="2"}'
    assert selector("m") == "m"


def test_alternation_matches_each_value_literally() -> None:
    assert alternation(["gpt-4.1", "a|b", "x*"]) == "gpt\\-4\\.1|a\\|b|x\\*"
    assert one_of("job", ["app"]) == 'job="app"'
    assert one_of("job", ["a", "b"]) == 'job=~"a|b"'


def test_number_has_no_float_noise() -> None:
    assert number(0.1 + 0.2) == "0.3" and number(14.4) == "14.4" and number(1e-07) == "1e-07"
    assert by(["provider", "model"]) == "by (provider, model)"


@pytest.fixture(scope="module")
def stack() -> Stack:
    return load_stack(EXAMPLE)


def _with_thresholds(stack: Stack, **changes: object) -> Stack:
    return dataclasses.replace(stack, thresholds=stack.thresholds.with_values(**changes))


def test_the_reference_model_passes_every_check(stack: Stack) -> None:
    assert semantics.semantic_problems(stack) == []


@pytest.mark.parametrize("change, finding", [
    (lambda s: dataclasses.replace(s, models=s.models + (s.models[0],)),
     (("models", 5, "name"), "'gpt-4.1' is already used by models[0]; names must be unique")),
    (lambda s: dataclasses.replace(s, alerting=dataclasses.replace(s.alerting, default_receiver="nobody")),
     (("alerting", "default_receiver"), "'nobody' is not a defined receiver; define it under alerting.receivers "
                                        "or use one of 'oncall', 'ops-chat', 'dingtalk'")),
    (lambda s: _with_thresholds(s, rate_limit_ratio=Levels((("warning", 0.2), ("critical", 0.1)), Duration(60_000))),
     (("thresholds", "rate_limit_ratio", "warning"), "warning (0.2) must be below critical (0.1): a higher share is worse")),
    (lambda s: _with_thresholds(s, success_ratio=Levels((("warning", 0.9), ("critical", 0.95)), Duration(60_000))),
     (("thresholds", "success_ratio", "warning"),
      "warning (0.9) must be above critical (0.95): a lower success share is worse")),
    (lambda s: dataclasses.replace(s, latency_buckets=(0.1, 0.5, 0.5, 1.0, 10.0)),
     (("metrics", "latency_buckets", 2), "0.5 is not above 0.5; bucket bounds must increase")),
    (lambda s: dataclasses.replace(s, rate_window=Duration(30_000)),
     (("metrics", "rate_window"), "30s is shorter than 4x the slowest scrape interval (10s); use at least 40s")),
    (lambda s: _with_thresholds(s, metrics_absent_for=Duration(15_000)),
     (("thresholds", "metrics_absent", "for"), "15s is shorter than 2x the slowest scrape interval; one missed "
                                               "scrape would fire it. Use at least 20s")),
    (lambda s: dataclasses.replace(s, contract=dataclasses.replace(s.contract, prefix="llm_total")),
     (("metrics", "prefix"), "'llm_total' must not end with '_' or a metric suffix; holystack appends "
                             "_requests_total and the like itself")),
    (lambda s: dataclasses.replace(s, alerting=dataclasses.replace(s.alerting, repeat_interval=Duration(7 * 60_000))),
     (("alerting", "repeat_interval"), "7m must be a multiple of group_interval (5m); Alertmanager only repeats at "
                                       "group_interval ticks")),
])
def test_each_semantic_check_names_its_problem(stack: Stack, change: object, finding: tuple) -> None:
    assert semantics.semantic_problems(change(stack)) == [finding]  # type: ignore[operator]


def test_a_check_with_a_bug_raises_instead_of_being_silent(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    def buggy(stack: Stack) -> Iterator[semantics.Finding]:
        yield from ()
        raise KeyError("a bug")

    monkeypatch.setattr(semantics, "MODEL_CHECKS", semantics.MODEL_CHECKS + (buggy,))
    with pytest.raises(KeyError):
        semantics.semantic_problems(stack)
    # Only where the schema has already refused the data may a check meet a shape it cannot read.
    assert semantics.semantic_problems(stack, schema_failed=True) == []
