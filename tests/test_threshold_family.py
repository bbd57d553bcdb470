"""A family with a threshold of its own (tests/threshold_family.py) plugs in with no edit anywhere
else: once registered, its threshold is in the schema, defaulted, checked (direction, for: horizon),
refused with a clear line when wrong, and read by its rule and its generated cases."""
from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from holystack import SpecError, load_stack, render_to
from holystack.cli import app
from holystack.durations import Duration
from holystack.live.playground import FAST_FOR, fast_spec
from holystack.render import alerts
from holystack.spec import check_spec_text, load_schema
from holystack.thresholds import BUILT_IN, Levels, declared

from . import threshold_family
from .conftest import EXAMPLE

KIND = "HolySheepThrottledShareHigh"


@pytest.fixture
def registered() -> Iterator[None]:
    with alerts.registered(threshold_family.FAMILY):
        yield


def _spec(own: dict[str, Any] | None = None, **top: Any) -> str:
    data = yaml.safe_load(EXAMPLE.read_text("utf-8"))
    if own is not None:
        data["thresholds"]["throttled_share"] = own
    data.update(top)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _stack(tmp_path: Path, text: str) -> Any:
    path = tmp_path / "spec.yaml"
    path.write_text(text, "utf-8")
    return load_stack(path)


def _problems(text: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        check_spec_text(text, "spec.yaml")
    return [str(problem) for problem in caught.value.problems]


def test_its_threshold_is_unknown_until_the_family_is_registered() -> None:
    text = _spec({"warning": 0.3})
    problems = _problems(text)
    assert len(problems) == 1 and problems[0].startswith("thresholds.throttled_share: unknown field"), problems
    with alerts.registered(threshold_family.FAMILY):
        check_spec_text(text, "spec.yaml")
    assert "throttled_share" not in load_schema()["properties"]["thresholds"]["properties"]


@pytest.mark.usefixtures("registered")
def test_it_is_defaulted_and_given_levels_replace_the_default_levels(tmp_path: Path) -> None:
    stack = _stack(tmp_path, _spec())
    assert stack.thresholds.throttled_share == Levels((("warning", 0.2), ("critical", 0.5)), Duration.parse("1m"))
    stack = _stack(tmp_path, _spec({"critical": 0.6}))
    assert stack.thresholds.throttled_share == Levels((("critical", 0.6),), Duration.parse("1m"))
    stack = _stack(tmp_path, _spec({"for": "3m"}))
    assert stack.thresholds.throttled_share == Levels((("warning", 0.2), ("critical", 0.5)), Duration.parse("3m"))


@pytest.mark.usefixtures("registered")
@pytest.mark.parametrize(("own", "expected"), [
    ({"warning": 0.6, "critical": 0.5},
     "thresholds.throttled_share.warning: warning (0.6) must be below critical (0.5): a higher share is worse"),
    ({"for": "59m"}, "thresholds.throttled_share.for: 59m with the rate window 5m is too long: rate window + for "
                     "must stay within 58m so that the generated promtool tests can fire the alert; use at most 53m"),
    ({"warning": 1.5}, "thresholds.throttled_share.warning: 1.5 is greater than the maximum of 0.999999"),
    ({"warn": 0.1}, "thresholds.throttled_share.warn: unknown field; allowed here: critical, for, keep_firing_for, "
                    "warning"),
], ids=["direction", "horizon", "range", "unknown-key"])
def test_a_wrong_threshold_is_refused_in_one_clear_line(own: dict[str, Any], expected: str, tmp_path: Path) -> None:
    problems = _problems(_spec(own))
    assert len(problems) == 1 and problems[0].startswith(expected), problems
    spec, out = tmp_path / "spec.yaml", tmp_path / "out"
    spec.write_text(_spec(own), "utf-8")
    result = CliRunner().invoke(app, ["render", str(spec), "-o", str(out)])
    assert result.exit_code == 2 and expected in result.output and "Traceback" not in result.output
    assert not out.exists()


@pytest.mark.usefixtures("registered")
def test_its_rule_and_cases_read_the_spec_levels(tmp_path: Path, promtool: str) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(_spec({"warning": 0.3, "critical": 0.6, "for": "2m"}), "utf-8")
    out = tmp_path / "out"
    render_to(spec, out)
    rules = yaml.safe_load((out / "prometheus" / "rules" / "holysheep-alerts.yml").read_text())["groups"][0]["rules"]
    added = [(r["labels"]["severity"], r["expr"].rsplit(" ", 2)[1:], r["for"]) for r in rules if r["alert"] == KIND]
    assert added == [("warning", [">", "0.3"], "2m"), ("critical", [">", "0.6"], "2m")]
    assert [r for r in rules if r["alert"] == KIND][0]["annotations"]["description"].endswith(
        "were answered 429 over the last 5m (threshold 30%).")
    tests = yaml.safe_load((out / "prometheus" / "tests" / "holysheep-throttled-share.test.yml").read_text())
    assert [t["name"] for t in tests["tests"]] == [
        "ThrottledShareHigh fires at warning: 45% answered 429",
        "ThrottledShareHigh fires at critical: 80% answered 429",
        "ThrottledShareHigh stays silent: 15% answered 429"]
    run = lambda: subprocess.run(  # noqa: E731
        [promtool, "test", "rules", "holysheep-throttled-share.test.yml"], cwd=out / "prometheus" / "tests",
        capture_output=True, text=True, timeout=300)
    done = run()
    assert done.returncode == 0, done.stdout + done.stderr
    # The cases can fail: a rule at a lower level than the spec's fires where the case wants silence.
    path = out / "prometheus" / "rules" / "holysheep-alerts.yml"
    path.write_text(path.read_text().replace(" > 0.3\n", " > 0.1\n"))
    done = run()
    assert done.returncode != 0 and "ThrottledShareHigh stays silent" in done.stdout + done.stderr


@pytest.mark.usefixtures("registered")
def test_it_is_texted_in_vietnamese_and_on_the_fast_clock(tmp_path: Path) -> None:
    stack = _stack(tmp_path, _spec(language="vi"))
    documents = alerts.rule_documents(stack)
    vi = next(d for d in documents if d["alert"] == KIND)
    assert vi["annotations"]["summary"] == "Nhiều lệnh gọi LLM bị giới hạn."
    fast = fast_spec(yaml.safe_load(_spec()))
    assert fast["thresholds"]["throttled_share"] == {"for": FAST_FOR}


def test_every_threshold_belongs_to_one_family_and_the_schema_file_lists_none() -> None:
    """The families name their thresholds; the schema takes them from the declarations, so the
    shipped file keeps no list of its own to fall out of step."""
    owned = [threshold for family in alerts.families() for threshold in family.thresholds]
    assert len(owned) == len(set(map(id, owned)))
    assert {id(t) for t in owned} == {id(t) for t in BUILT_IN} == {id(t) for t in declared()}
    shipped = json.loads(resources.files("holystack.schema").joinpath("spec.schema.json").read_text("utf-8"))
    assert shipped["properties"]["thresholds"]["properties"] == {}
    assert list(load_schema()["properties"]["thresholds"]["properties"]) == [t.key for t in BUILT_IN]
