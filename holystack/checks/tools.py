"""promtool and amtool, run on the rendered files, with structured results."""
from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from ..render.layout import ALERTMANAGER_CONFIG, ALERTMANAGER_DIR, PROMETHEUS_CONFIG, PROMETHEUS_DIR
from .result import FAIL, PASS, SKIP, CheckResult

TOOL_TIMEOUT_SECONDS = 300
INSTALL_HINT = {"promtool": "apt-get install prometheus", "amtool": "apt-get install prometheus-alertmanager"}


def tool_path(tool: str) -> str | None:
    return shutil.which(tool)


def run_tool(name: str, tool: str, args: list[str], cwd: Path) -> CheckResult:
    """Run one tool command in cwd; a missing tool is a skip that says how to install it."""
    executable = tool_path(tool)
    if executable is None:
        return CheckResult(name, SKIP, f"{tool} is not installed ({INSTALL_HINT[tool]})")
    if not cwd.is_dir():
        return CheckResult(name, FAIL, f"{cwd} is missing")
    try:
        done = subprocess.run([executable, *args], cwd=cwd, capture_output=True, text=True,
                              timeout=TOOL_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        return CheckResult(name, FAIL, f"{tool} took longer than {TOOL_TIMEOUT_SECONDS}s")
    output = (done.stdout + done.stderr).strip()
    if done.returncode == 0:
        return CheckResult(name, PASS, " ".join(args[1:]))
    lines = tuple(line for line in output.splitlines() if line.strip())
    return CheckResult(name, FAIL, f"exit {done.returncode}", lines[-40:])


def tool_checks(out: Path, rule_files: list[str], test_files: list[str]) -> Iterator[CheckResult]:
    """rule_files and test_files are relative to out/prometheus, where promtool runs.
    Yields each result as its tool finishes, so that a caller can show progress."""
    prometheus = out / PROMETHEUS_DIR
    yield run_tool("promtool check config", "promtool", ["check", "config", PROMETHEUS_CONFIG], prometheus)
    yield run_tool("promtool check rules", "promtool", ["check", "rules", *rule_files], prometheus)
    yield run_tool("promtool test rules", "promtool", ["test", "rules", *test_files], prometheus)
    yield run_tool("amtool check-config", "amtool", ["check-config", ALERTMANAGER_CONFIG], out / ALERTMANAGER_DIR)
