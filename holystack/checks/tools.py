"""promtool and amtool, run on the rendered files, with structured results.

The commands are independent, so they run side by side, one per core: start_rule_checks starts
those that need only OUT (the rule files, their tests, Alertmanager's config), start_config_check
the one that needs the spec too, and each returns a function per check that waits for its result.
Each generated test case runs on the rules it observes only (checks/rule_subsets.py). This module
loads nothing of the spec's model or the renderers, so that validate starts the tools first."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ..layout import ALERTMANAGER_CONFIG, ALERTMANAGER_DIR, PROMETHEUS_CONFIG, PROMETHEUS_DIR
from ..yamlload import YAML_LOADER
from .result import FAIL, PASS, SKIP, CheckResult
from .rule_subsets import plan_test_runs

if TYPE_CHECKING:
    from ..model import Stack

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
# promtool's unit tests make a TSDB per case in TMPDIR (a lock, a WAL of some kB): on a tmpfs that
# is about 6% less CPU than on a disk's file system. /dev/shm is used when it has MEMORY_TMP_ROOM
# free, else the default; the user's TMPDIR wins.
MEMORY_TMP = Path("/dev/shm")
MEMORY_TMP_ROOM = 64 << 20


def tool_env() -> dict[str, str]:
    """The environment the tools run in: GO_ENV, a TMPDIR in memory where there is one, then the user's."""
    env = dict(GO_ENV)
    try:
        free = os.statvfs(MEMORY_TMP)
        if free.f_bavail * free.f_frsize >= MEMORY_TMP_ROOM and os.access(MEMORY_TMP, os.W_OK | os.X_OK):
            env["TMPDIR"] = str(MEMORY_TMP)
    except OSError:
        pass
    return {**env, **os.environ}

Pending = Callable[[], CheckResult]


def tool_path(tool: str) -> str | None:
    return shutil.which(tool)


def workers() -> int:
    """How many tool processes run at once: one per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


class Processes:
    """The tool processes of one validate run, so that all of them can be stopped at once when the run
    is abandoned (the spec did not load while they ran): a stopped run starts no more."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: set[subprocess.Popen[str]] = set()
        self._stopped = False
        self._env = tool_env()

    def run(self, argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str] | None:
        """argv's output and exit code; None if the run was stopped. Raises as subprocess.run does."""
        with self._lock:
            if self._stopped:
                return None
            process = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                       env=self._env)
            self._running.add(process)
        try:
            stdout, stderr = process.communicate(timeout=TOOL_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise
        finally:
            with self._lock:
                self._running.discard(process)
        return subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)

    @property
    def running(self) -> int:
        """How many of its processes run now."""
        with self._lock:
            return len(self._running)

    def stop(self) -> None:
        """Kill the processes that run and refuse to start more."""
        with self._lock:
            self._stopped = True
            for process in self._running:
                process.kill()


def run_tool(name: str, tool: str, args: list[str], cwd: Path, processes: Processes | None = None) -> CheckResult:
    """Run one tool command in cwd; a missing tool is a skip that says how to install it."""
    executable = tool_path(tool)
    if executable is None:
        return CheckResult(name, SKIP, f"{tool} is not installed ({INSTALL_HINT[tool]})")
    if not cwd.is_dir():
        return CheckResult(name, FAIL, f"{cwd} is missing")
    try:
        done = (processes or Processes()).run([executable, *args], cwd)
    except subprocess.TimeoutExpired:
        return CheckResult(name, FAIL, f"{tool} took longer than {TOOL_TIMEOUT_SECONDS}s")
    except OSError as exc:
        return CheckResult(name, FAIL, f"{tool} could not start: {exc}")
    if done is None:
        return CheckResult(name, SKIP, f"{tool} was stopped: validate was abandoned")
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


def check_config(name: str, args: list[str], config: str, cwd: Path, absent: tuple[str, ...],
                 processes: Processes | None = None) -> CheckResult:
    """promtool check config on config; with credentials files absent here, --syntax-only (the rule
    files, which it then skips, have their own check), saying so."""
    if not absent:
        return run_tool(name, "promtool", [*args, config], cwd, processes)
    result = run_tool(name, "promtool", [*args, "--syntax-only", config], cwd, processes)
    if result.status != PASS:
        return result
    return CheckResult(name, PASS, f"{config} (--syntax-only: {', '.join(absent)} not on this machine; Prometheus "
                                   "reads it where it runs)")


@dataclass(frozen=True)
class RuleChecks:
    """The started checks that need only OUT, each a function that waits for its result."""

    rules: Pending  # promtool check rules
    tests: Pending  # promtool test rules: one row for every test file
    amtool: Pending  # amtool check-config


def start_rule_checks(pool: Executor, out: Path, rule_files: list[str], test_files: list[str], scratch: Path,
                      documents: dict[str, Any] | None = None, processes: Processes | None = None) -> RuleChecks:
    """Start on pool the checks that need only OUT; rule_files and test_files are relative to
    out/prometheus, where promtool runs. Each test file runs in its own promtool, side by side with the
    others and longest first, its cases on the rules they observe (checks/rule_subsets.py, written
    under scratch, which must outlive the checks). documents: the rule files already loaded (paths
    under out), if any. processes: where the tools run, to stop them together (Processes.stop)."""
    prometheus = out / PROMETHEUS_DIR
    if documents is None:
        documents = load_rule_documents(out, rule_files)
    runs = plan_test_runs(out, test_files, documents, scratch)

    def start(name: str, tool: str, args: list[str], cwd: Path) -> Future[CheckResult]:
        return pool.submit(run_tool, name, tool, args, cwd, processes)

    tests: dict[int, Future[CheckResult]] = {}
    for index in sorted(range(len(runs)), key=lambda i: -runs[i].cost):
        tests[index] = start(TEST_RULES, "promtool", ["test", "rules", *runs[index].args], runs[index].cwd)
    rules = start("promtool check rules", "promtool", ["check", "rules", *rule_files], prometheus)
    amtool = start("amtool check-config", "amtool", ["check-config", ALERTMANAGER_CONFIG], out / ALERTMANAGER_DIR)
    return RuleChecks(rules.result,
                      lambda: _merged(TEST_RULES, [(run.path, tests[i].result()) for i, run in enumerate(runs)]),
                      amtool.result)


def start_config_check(pool: Executor, out: Path, absent: tuple[str, ...] = (),
                       processes: Processes | None = None) -> Pending:
    """Start promtool check config on pool; absent: the credentials files it cannot find here
    (absent_credentials, from the spec)."""
    return pool.submit(check_config, "promtool check config", ["check", "config"], PROMETHEUS_CONFIG,
                       out / PROMETHEUS_DIR, absent, processes).result


def report_order(config: Pending, checks: RuleChecks) -> list[Pending]:
    """The tool checks in the order the report lists them."""
    return [config, checks.rules, checks.tests, checks.amtool]


def tool_checks(out: Path, rule_files: list[str], test_files: list[str]) -> Iterator[CheckResult]:
    """Every tool check, run side by side; yields the results in report order."""
    with tempfile.TemporaryDirectory(prefix="holystack-promtool-") as scratch, \
            ThreadPoolExecutor(max_workers=workers()) as pool:
        checks = start_rule_checks(pool, out, rule_files, test_files, Path(scratch))
        for pending in report_order(start_config_check(pool, out), checks):
            yield pending()
