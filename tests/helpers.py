"""Helpers of the tests that talk to live servers over HTTP."""
from __future__ import annotations

import functools
import json
import select
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable

from holystack.live.servers import STOP_TIMEOUT_SECONDS, end_process

# How long `holystack up` may take to stop on Ctrl-C with the LiteLLM proxy: its client's last call,
# then the proxy, Prometheus and Alertmanager, each given STOP_TIMEOUT_SECONDS before it is killed, on
# two loaded cores (bounds a hang, not a speed).
PROXY_UP_STOP_SECONDS = 8 * STOP_TIMEOUT_SECONDS
# Seconds for `holystack simulate` to serve /metrics: a new Python process importing holystack, which
# took more than 15s under a load of 25 (the wait ends as soon as it serves).
SIMULATE_START_DEADLINE = 60.0
# Seconds for a simulate process to exit on SIGTERM (it waits for its calls in flight) before it is killed.
SIMULATE_STOP_DEADLINE = 20.0


# The prometheus-operator CRD models (cloudcoil's) by kind, and the API version that has each. They
# take seconds to build, and every xdist worker imports every test module to collect it: so they
# are imported where a test uses them, once per process.
OPERATOR_KINDS = {"PrometheusRule": "v1", "ServiceMonitor": "v1", "PodMonitor": "v1", "Prometheus": "v1",
                  "AlertmanagerConfig": "v1alpha1"}


def operator_model(kind: str) -> Any:
    """cloudcoil's model of a prometheus-operator kind (OPERATOR_KINDS)."""
    import importlib

    return getattr(importlib.import_module(f"cloudcoil.models.prometheus_operator.{OPERATOR_KINDS[kind]}"), kind)


@functools.cache
def rendered_files(spec: Path) -> dict[str, str]:
    """render_files(spec), once per process (read-only): modules that parametrize over the rendered
    files of the same specs render them at collection, which every xdist worker does."""
    from holystack import render_files

    return render_files(spec)


def wait_until(condition: Callable[[], Any], timeout: float, step: float = 0.25) -> bool:
    """Poll condition until it holds or timeout seconds pass; its last answer, as a bool."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return bool(condition())


def answers(url: str) -> bool:
    """Whether anything answers GET url."""
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except OSError:
        return False


def prom_query(prometheus_url: str, expr: str) -> list[dict]:
    """The result of an instant query against a live Prometheus."""
    url = f"{prometheus_url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=10) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    return body["data"]["result"]


def query_until(prometheus_url: str, timeout: float, expr: str) -> list[dict]:
    """The result of an instant query once it is not empty (at most timeout seconds)."""
    result: list[dict] = []

    def holds() -> bool:
        result[:] = prom_query(prometheus_url, expr)
        return bool(result)

    assert wait_until(holds, timeout), f"timed out waiting for {expr}"
    return result


def read_until(process: "subprocess.Popen[str]", text: str, timeout: float) -> str:
    """What process printed until a line holds text, or timeout seconds passed, or it closed stdout."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not any(text in line for line in lines):
        ready, _, _ = select.select([process.stdout], [], [], 1)
        if ready:
            line = process.stdout.readline()  # type: ignore[union-attr]
            if not line:
                break
            lines.append(line)
    return "".join(lines)


class Simulator:
    """`holystack simulate --scenario healthy` as a subprocess serving /metrics on a loopback port;
    stop() ends it, start() runs it again (with another spec if given)."""

    def __init__(self, spec: Any, port: int, rps: int = 10, duration: str = "600s"):
        self.spec, self.port, self.rps, self.duration = spec, port, rps, duration
        self.process: subprocess.Popen | None = None

    def start(self, spec: Any = None) -> "Simulator":
        import sys

        self.process = subprocess.Popen(
            [sys.executable, "-m", "holystack", "simulate", str(spec or self.spec), "--scenario", "healthy",
             "--duration", self.duration, "--rps", str(self.rps), "--metrics-port", str(self.port), "--seed", "3"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert wait_until(lambda: answers(f"http://127.0.0.1:{self.port}/metrics"), SIMULATE_START_DEADLINE), \
            "simulate serves no /metrics"
        return self

    def stop(self) -> None:
        if self.process is not None:
            end_process(self.process, SIMULATE_STOP_DEADLINE)
            self.process = None


def _finding_lines(report: Any) -> str:
    return "\n".join(f.line() for f in report.findings)


def doctor_healthy(check: Callable[[], Any], timeout: float) -> Any:
    """doctor's report once the stack is healthy (after start-up, or after a fault is repaired), polled."""
    reports: list[Any] = []
    wait_until(lambda: not reports.append(check()) and not reports[-1].failed, timeout, step=1.0)
    assert not reports[-1].failed, _finding_lines(reports[-1])
    return reports[-1]


def doctor_finding(check: Callable[[], Any], timeout: float, area: str, *words: str) -> str:
    """The line of doctor's first finding in area that holds every word, polled until it shows."""
    lines: list[str] = []

    def found() -> str:
        return next((f.line() for f in check().findings if f.area == area and all(w in f.line() for w in words)), "")
    wait_until(lambda: lines.append(found()) or lines[-1], timeout, step=1.0)
    assert lines[-1], f"no {area} finding with {words}:\n{_finding_lines(check())}"
    return lines[-1]
