"""The generated counter-step cases can fail: on the rule holystack had before (a counter first seen
counts its whole value) the scenarios of what Prometheus did not see fail, and the budget and burn
alerts fire on them; without the process start time, an app that starts after Prometheus loses
the calls it served before its first scrape; with the previous sample read by an instant selector,
failed scrapes shorter than the bound lose the increase across them (their staleness markers hide
it). Every step family (calls, cost, latency) has its cases."""
from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from holystack import render_to
from holystack.checks.rule_subsets import PromtoolRun, plan_test_runs
from holystack.checks.tools import load_rule_documents
from holystack.model import Duration, Stack
from holystack.promql import by
from holystack.render import prometheus, recording
from holystack.render.alerts import steps
from holystack.layout import PROMETHEUS_DIR, RULES_DIR, TESTS_DIR

from .conftest import EXAMPLE


def whole_counter_step(stack: Stack, counter: str, labels: tuple[str, ...]) -> str:
    """The step before issue 22: a counter missing from the previous sample adds its whole value."""
    lag, step = stack.slowest_scrape, stack.evaluation_interval
    now, before = f"{counter} offset {lag}", f"{counter} offset {Duration(lag.ms + step.ms)}"
    return f"sum {by(labels)} (({now} - {before}) >= 0 or {now})"


def up_only(stack: Stack) -> str:
    """Fresh targets without the process start time: only a series new since a good scrape."""
    before = Duration(stack.slowest_scrape.ms + stack.evaluation_interval.ms)
    return f"max_over_time(up[{recording.gap_bound(stack)}] offset {before}) == 1"


def instant_step(stack: Stack, counter: str, labels: tuple[str, ...]) -> str:
    """The step of issue 22 before its gap fix: now and before read by instant selectors, a target fresh
    when its scrape at before succeeded. A failed scrape's staleness markers hide before, so the
    increase across the failure counts nothing."""
    lag, step, bound = stack.slowest_scrape, stack.evaluation_interval, recording.gap_bound(stack)
    before = Duration(lag.ms + step.ms)
    rule = COUNTER_STEP(stack, counter, labels)
    for ranged, instant in ((f"last_over_time({counter}[{recording.now_range(stack)}] offset {lag})",
                             f"{counter} offset {lag}"),
                            (f"last_over_time({counter}[{bound}] offset {before})", f"{counter} offset {before}"),
                            (f"max_over_time(up[{bound}] offset {before}) == 1", f"up offset {before} == 1")):
        assert ranged in rule
        rule = rule.replace(ranged, instant)
    return rule


COUNTER_STEP = recording.counter_step
FAMILIES = ("Call", "Cost", "Latency")


def failed_step_cases(promtool: str, out: Path) -> dict[str, str]:
    """Render the reference spec into out and run promtool on each step case alone, on the rules it
    observes (validate's cut, checks/rule_subsets.py: the patched rule is among them), two at a time:
    the failed cases' names, with promtool's report of each."""
    prometheus._rule_files.cache_clear()  # rendered once per stack: the patched rule must render anew
    render_to(EXAMPLE, out)
    prometheus._rule_files.cache_clear()
    prometheus_dir = out / PROMETHEUS_DIR
    tests_dir = prometheus_dir / TESTS_DIR
    cases = []  # (the family's test file, one step case of it): each family's file names its own rule files
    for test_file in sorted(tests_dir.glob("*.test.yml")):
        document = yaml.safe_load(test_file.read_text("utf-8"))
        cases += [(document, t) for t in document["tests"] if " steps " in t["name"]]
    # six scenarios, for the calls, the cost and the latency; and the calls' again for SuccessRatioLow,
    # over the longer run its for: needs (steps.silence_runs)
    assert len(cases) == 24
    files = []
    for index, (document, case) in enumerate(cases):
        path = tests_dir / f"step-{index}.test.yml"
        path.write_text(yaml.safe_dump({**document, "tests": [case]}, sort_keys=False), "utf-8")
        files.append((path.relative_to(prometheus_dir).as_posix(), case["name"]))
    rule_paths = sorted(p.relative_to(prometheus_dir).as_posix() for p in (prometheus_dir / RULES_DIR).glob("*.yml"))
    runs = plan_test_runs(out, [path for path, _ in files], load_rule_documents(out, rule_paths), out.parent / "cut")

    def run(planned: PromtoolRun) -> str:
        return subprocess.run([promtool, "test", "rules", *planned.args], cwd=planned.cwd, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=300).stdout

    with ThreadPoolExecutor(max_workers=2) as pool:
        reports = list(pool.map(run, runs))
    return {name: report for (_, name), report in zip(files, reports) if "FAILED" in report}


def test_step_cases_pass_on_the_rendered_rules(promtool: str, tmp_path: Path) -> None:
    assert failed_step_cases(promtool, tmp_path / "out") == {}


def test_step_cases_fail_on_the_whole_counter_step(promtool: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recording, "counter_step", whole_counter_step)
    failed = failed_step_cases(promtool, tmp_path / "out")
    for family in FAMILIES:
        for scenario in ("a day of history", f"Prometheus stopped for {steps.GAP}", f"scrapes failing for {steps.GAP}"):
            assert any(name.startswith(family) and scenario in name for name in failed), (family, scenario, failed)
    # and the alerts fire on the history Prometheus never saw
    report = "".join(failed.values())
    for alert in ("ErrorBudgetBurn", "LatencyBudgetBurn", "DailyBudgetExceeded", "MonthlyBudgetForecast"):
        assert f"alertname: HolySheep{alert}" in report, alert


def test_step_cases_fail_without_the_process_start_time(promtool: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recording, "fresh_targets", up_only)
    failed = failed_step_cases(promtool, tmp_path / "out")
    assert sorted(name.split(":")[0] for name in failed) == ["Call steps on /chat/completions",
                                                             "Cost steps of deepseek-v3.2",
                                                             "Latency steps on /chat/completions"]
    assert all("the app starts after Prometheus" in name for name in failed), failed


def test_step_cases_fail_when_failed_scrapes_hide_the_previous_sample(promtool: str, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recording, "counter_step", instant_step)
    failed = failed_step_cases(promtool, tmp_path / "out")
    for family in FAMILIES:
        assert any(name.startswith(family) and "scrapes failing for 2m" in name for name in failed), (family, failed)
