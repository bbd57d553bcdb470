"""The rendered stacks pass the real promtool and amtool, generated rule tests included."""
from __future__ import annotations

import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from holystack import render_to
from holystack.checks.result import PASS
from holystack.checks.rule_subsets import plan_test_runs
from holystack.checks.tools import TEST_RULES, Processes, load_rule_documents

from .conftest import CASES, EXAMPLE, Cases, copy_out

# The golden cases; tests/cases/holysheep/spec.yaml is the reference spec (test_golden checks it is).
CASE_NAMES = sorted(p.parent.name for p in CASES.glob("*/spec.yaml"))


@pytest.fixture(params=CASE_NAMES)
def case(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def rendered(case: str, cases: Cases) -> Path:
    """The case rendered once per session (read-only; shared with every test that reads it)."""
    return cases.rendered(case)


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300)


def test_promtool_check_config(rendered: Path, promtool: str) -> None:
    """Whole, or --syntax-only where a scrape job's credentials file lives only where Prometheus runs
    (promtool stats it; validate does the same, checks/tools.check_config)."""
    config = yaml.safe_load((rendered / "prometheus" / "prometheus.yml").read_text("utf-8"))
    absent = [job["authorization"]["credentials_file"] for job in config["scrape_configs"]
              if "authorization" in job and not (rendered / "prometheus" / job["authorization"]["credentials_file"]).is_file()]
    done = _run([promtool, "check", "config", *(["--syntax-only"] if absent else []), "prometheus.yml"],
                rendered / "prometheus")
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_check_rules(rendered: Path, promtool: str) -> None:
    rules = sorted(str(p) for p in (rendered / "prometheus" / "rules").glob("*.yml"))
    done = _run([promtool, "check", "rules", *rules], rendered)
    assert done.returncode == 0, done.stdout + done.stderr


def test_generated_rule_tests_pass_in_promtool(case: str, cases: Cases, promtool: str) -> None:
    """validate --strict runs every generated test file in promtool, each on the rules it observes
    (checks/rule_subsets.py; test_ruletests proves the cut keeps the verdict): its run of the case is
    the one the other tests that validate the case read. A case whose rule and test files are byte
    for byte another's (acme-vi-k8s: acme-vi's) has that case's verdict: promtool reads nothing else."""
    assert sorted((cases.rendered(case) / "prometheus" / "tests").glob("*.yml"))
    twin = next(other for other in CASE_NAMES if cases.promtool_inputs(other) == cases.promtool_inputs(case))
    report = cases.validated(twin)
    row, = (r for r in report.results if r.name == TEST_RULES)
    assert row.status == PASS, report.table()


def test_generated_rule_tests_catch_a_wrong_threshold(rendered: Path, tmp_path: Path, promtool: str) -> None:
    """The generated tests can fail: raise every ratio threshold and they must."""
    out = copy_out(rendered, tmp_path / "out")
    alerts = next((out / "prometheus" / "rules").glob("*-alerts.yml"))
    alerts.write_text(alerts.read_text().replace(" > 0.", " > 0.4"))
    prometheus = out / "prometheus"
    # One family's file failing proves it; the files are run one by one until one fails, each on the
    # rules it observes as validate runs it (the raised rules included): the request ratios' first
    # (its alerts are ratio thresholds), then the smallest first (the budget and burn-rate files,
    # which cost promtool most, hold no ratio threshold).
    tests = [p.relative_to(prometheus).as_posix()
             for p in sorted((prometheus / "tests").glob("*.yml"),
                             key=lambda p: (not p.name.endswith("-request-ratios.test.yml"), p.stat().st_size, p.name))]
    documents = load_rule_documents(out, sorted(p.relative_to(prometheus).as_posix()
                                                for p in (prometheus / "rules").glob("*.yml")))

    def run(index: int, test: str) -> subprocess.CompletedProcess[str]:
        planned, = plan_test_runs(out, [test], documents, tmp_path / "cut" / str(index))
        return _run([promtool, "test", "rules", *planned.args], planned.cwd)

    failed = next((done for done in (run(i, test) for i, test in enumerate(tests)) if done.returncode != 0), None)
    assert failed is not None, "no generated test failed on the raised thresholds"
    assert "FAILED" in failed.stdout + failed.stderr


def test_amtool_check_config(rendered: Path, amtool: str) -> None:
    done = _run([amtool, "check-config", "alertmanager.yml"], rendered / "alertmanager")
    assert done.returncode == 0, done.stdout + done.stderr


def _routes(amtool: str, out: Path, *labels: str) -> list[str]:
    done = _run([amtool, "config", "routes", "test", "--config.file=alertmanager/alertmanager.yml", *labels], out)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip().split(",")


E2E_SPEC = Path(__file__).parent / "e2e" / "spec.yaml"
# The receivers each severity reaches, read off each spec's routes by hand.
RECEIVERS_BY_SEVERITY = {
    EXAMPLE: {"critical": ["oncall", "dingtalk"], "warning": ["ops-chat"], "info": ["ops-chat"],
              "none": ["holystack-watchdog"]},
    E2E_SPEC: {"critical": ["pager"], "warning": ["chat"], "info": ["tickets"], "none": ["holystack-watchdog"]},
}


@pytest.mark.parametrize("spec", list(RECEIVERS_BY_SEVERITY), ids=lambda p: p.parent.name)
def test_every_alert_kind_and_severity_reaches_its_receivers(spec: Path, tmp_path: Path, amtool: str) -> None:
    render_to(spec, tmp_path)
    alerts = {(rule["alert"], rule["labels"]["severity"])
              for path in (tmp_path / "prometheus" / "rules").glob("*.yml")
              for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"] if "alert" in rule}
    assert len({name for name, _ in alerts}) >= 10  # every kind, each at each of its severities
    expected = RECEIVERS_BY_SEVERITY[spec]
    for name, severity in sorted(alerts):
        assert _routes(amtool, tmp_path, f"alertname={name}", f"severity={severity}") == expected[severity], name


def test_stopped_tool_processes_end_and_no_more_start(tmp_path: Path) -> None:
    """validate stops the tools it started when the spec does not load (holystack/validate.py): a
    stop kills what runs, and what comes after it does not start."""
    processes = Processes()
    with ThreadPoolExecutor(max_workers=1) as pool:
        running = pool.submit(processes.run, ["sleep", "600"], tmp_path)
        for _ in range(6000):  # bounded: the thread starts it at once
            if processes.running or running.done():
                break
            time.sleep(0.01)
        assert processes.running == 1
        processes.stop()
        done = running.result(timeout=120)  # sleep 600 would outlast this: the stop ended it
    assert done is not None and done.returncode == -signal.SIGKILL
    assert processes.run(["true"], tmp_path) is None and processes.running == 0
