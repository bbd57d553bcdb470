"""promtool and amtool, run on the rendered files, with structured results.

The commands are independent, so they run side by side, one per core: start_tool_checks starts
them all at once and returns, in report order, a function per check that waits for its result.
Each generated test case runs on the rules it observes only (checks/rule_subsets.py)."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from ..model import Stack
from ..render.layout import ALERTMANAGER_CONFIG, ALERTMANAGER_DIR, PROMETHEUS_CONFIG, PROMETHEUS_DIR
from .result import FAIL, PASS, SKIP, CheckResult
from ..yamlload import YAML_LOADER
from .rule_subsets import plan_test_runs

TOOL_TIMEOUT_SECONDS = 300
INSTALL_HINT = {"promtool": "apt-get install prometheus", "amtool": "apt-get install prometheus-alertmanager"}
TEST_RULES = "promtool test rules"
# The Go collector's target: promtool's unit tests allocate much and live briefly; collecting at
# 4x the live heap instead of 2x saves about a fifth of their CPU for ~60 MB more. The user's GOGC wins.
GOGC = "400"
# validate runs one tool process per core (workers), so each Go runtime gets one core: its collector
# then works in line with the tests instead of on threads that contend with the other process, about
# 8% less CPU for the same verdicts. The user's GOMAXPROCS wins.
GO_ENV = {"GOGC": GOGC, "GOMAXPROCS": "1"}

Pending = Callable[[], CheckResult]


def tool_path(tool: str) -> str | None:
    return shutil.which(tool)


def workers() -> int:
    """How many tool processes run at once: one per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def run_tool(name: str, tool: str, args: list[str], cwd: Path) -> CheckResult:
    """Run one tool command in cwd; a missing tool is a skip that says how to install it."""
    executable = tool_path(tool)
    if executable is None:
        return CheckResult(name, SKIP, f"{tool} is not installed ({INSTALL_HINT[tool]})")
    if not cwd.is_dir():
        return CheckResult(name, FAIL, f"{cwd} is missing")
    try:
        done = subprocess.run([executable, *args], cwd=cwd, capture_output=True, text=True,
                              timeout=TOOL_TIMEOUT_SECONDS, env={**GO_ENV, **os.environ})
    except subprocess.TimeoutExpired:
        return CheckResult(name, FAIL, f"{tool} took longer than {TOOL_TIMEOUT_SECONDS}s")
    except OSError as exc:
        return CheckResult(name, FAIL, f"{tool} could not start: {exc}")
    output = (done.stdout + done.stderr).strip()
    if done.returncode == 0:
        return CheckResult(name, PASS, " ".join(args[1:]))
    lines = tuple(line for line in output.splitlines() if line.strip())
    return CheckResult(name, FAIL, f"exit {done.returncode}", lines[-40:])


def _merged(name: str, parts: list[tuple[str, CheckResult]]) -> CheckResult:
    """One row for several runs of one check (one per file): failed if any failed, with its lines."""
    skipped = [result for _, result in parts if result.status == SKIP]
    if skipped:
        return CheckResult(name, SKIP, skipped[0].detail)
    failed = [(path, result) for path, result in parts if result.status == FAIL]
    if not failed:
        return CheckResult(name, PASS, f"{len(parts)} file(s)")
    findings = tuple(f"{path}: {line}" for path, result in failed for line in (result.detail, *result.findings))
    return CheckResult(name, FAIL, f"{len(failed)} of {len(parts)} file(s) failed", findings[-60:])


def load_rule_documents(out: Path, rule_files: list[str]) -> dict[str, Any]:
    """The rule files (relative to out/prometheus) that load as YAML, keyed by their path under out."""
    documents = {}
    for path in rule_files:
        try:
            document = yaml.load((out / PROMETHEUS_DIR / path).read_text("utf-8"), Loader=YAML_LOADER)  # noqa: S506
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        if isinstance(document, dict) and isinstance(document.get("groups"), list):
            documents[f"{PROMETHEUS_DIR}/{path}"] = document
    return documents


def absent_credentials(stack: Stack, out: Path) -> tuple[str, ...]:
    """The scrape jobs' credentials files that are not on this machine (they live where Prometheus
    runs); promtool check config refuses a config whose files it cannot stat. Relative paths are
    read from prometheus/, as Prometheus reads them from its config's folder."""
    files = {job.authorization.credentials_file for job in stack.jobs if job.authorization is not None}
    return tuple(sorted(f for f in files if not (out / PROMETHEUS_DIR / f).is_file()))


def check_config(name: str, args: list[str], config: str, cwd: Path, absent: tuple[str, ...]) -> CheckResult:
    """promtool check config on config; with credentials files absent here, --syntax-only (the rule
    files, which it then skips, have their own check), saying so."""
    if not absent:
        return run_tool(name, "promtool", [*args, config], cwd)
    result = run_tool(name, "promtool", [*args, "--syntax-only", config], cwd)
    if result.status != PASS:
        return result
    return CheckResult(name, PASS, f"{config} (--syntax-only: {', '.join(absent)} not on this machine; Prometheus "
                                   "reads it where it runs)")


def start_tool_checks(pool: Executor, out: Path, rule_files: list[str], test_files: list[str],
                      scratch: Path, documents: dict[str, Any] | None = None,
                      absent: tuple[str, ...] = ()) -> list[Pending]:
    """Start every tool check on pool; rule_files and test_files are relative to out/prometheus,
    where promtool runs. Each test file runs in its own promtool, side by side with the others and
    longest first, on the rules it observes (checks/rule_subsets.py, written under scratch, which must
    outlive the checks). documents: the rule files already loaded (paths under out), if any. absent:
    the credentials files promtool check config cannot find here (absent_credentials)."""
    prometheus = out / PROMETHEUS_DIR
    if documents is None:
        documents = load_rule_documents(out, rule_files)
    runs = plan_test_runs(out, test_files, documents, scratch)

    def start(name: str, tool: str, args: list[str], cwd: Path) -> Future[CheckResult]:
        return pool.submit(run_tool, name, tool, args, cwd)

    tests: dict[int, Future[CheckResult]] = {}
    for index in sorted(range(len(runs)), key=lambda i: -runs[i].cost):
        tests[index] = start(TEST_RULES, "promtool", ["test", "rules", *runs[index].args], runs[index].cwd)
    config = pool.submit(check_config, "promtool check config", ["check", "config"], PROMETHEUS_CONFIG, prometheus,
                         absent)
    rules = start("promtool check rules", "promtool", ["check", "rules", *rule_files], prometheus)
    amtool = start("amtool check-config", "amtool", ["check-config", ALERTMANAGER_CONFIG], out / ALERTMANAGER_DIR)
    return [config.result, rules.result,
            lambda: _merged(TEST_RULES, [(run.path, tests[i].result()) for i, run in enumerate(runs)]),
            amtool.result]


def tool_checks(out: Path, rule_files: list[str], test_files: list[str]) -> Iterator[CheckResult]:
    """Every tool check, run side by side; yields the results in report order."""
    with tempfile.TemporaryDirectory(prefix="holystack-promtool-") as scratch, \
            ThreadPoolExecutor(max_workers=workers()) as pool:
        for pending in start_tool_checks(pool, out, rule_files, test_files, Path(scratch)):
            yield pending()
