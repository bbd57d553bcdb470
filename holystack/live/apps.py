"""The live applications of the metric sources: for `holystack up --source NAME`, what emits the
source's raw series on loopback, fed by the fake upstream, for the rendered Prometheus to scrape.

The holystack source needs none (simulate drives holystack.instrument). Another source registers
a LiveApp here under its name: check() says, in one line, what to install when its extra is
missing, and start() runs it until stop(). A source without one is refused by name (exit 2)."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..errors import UsageError
from ..model import Stack
from . import otel_app


class Running(Protocol):
    def stop(self) -> None: ...


class LiveApp(Protocol):
    extra: str
    client_timeout: float  # seconds: the fake upstream holds a timed-out call just past it

    def check(self, option: str) -> None:
        """A UsageError naming the extra when what the app needs is not installed."""

    def start(self, stack: Stack, upstream_url: str, metrics_port: int, rps: float, seconds: float,
              workdir: Path) -> Running:
        """The app serving the source's metrics on 127.0.0.1:metrics_port, calling upstream_url for
        seconds at most rps calls a second, its logs in workdir."""


def missing_modules(modules: tuple[str, ...]) -> list[str]:
    missing = []
    for module in modules:
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:  # its parent package is missing
            found = False
        if not found:
            missing.append(module)
    return missing


@dataclass
class Process:
    """A child process, stopped by terminate, then kill."""

    process: subprocess.Popen

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass(frozen=True)
class ModuleApp:
    """An application run as `python -m module UPSTREAM PORT SECONDS --model M --rps R`."""

    extra: str
    module: str
    needs: tuple[str, ...]  # modules of the extra, found before anything starts
    client_timeout: float

    def check(self, option: str) -> None:
        missing = missing_modules(self.needs)
        if missing:
            raise UsageError(f"{option}: its live app needs {', '.join(missing)}; install the {self.extra} extra: "
                             f"pip install 'holystack[{self.extra}]'")

    def command(self, upstream_url: str, metrics_port: int, seconds: float, model: str, rps: float) -> list[str]:
        return [sys.executable, "-m", self.module, upstream_url, str(metrics_port), f"{seconds:g}",
                "--model", model, "--rps", f"{rps:g}"]

    def start(self, stack: Stack, upstream_url: str, metrics_port: int, rps: float, seconds: float,
              workdir: Path) -> Process:
        command = self.command(upstream_url, metrics_port, seconds, stack.models[0].name, rps)
        with (workdir / f"{self.module.rsplit('.', 1)[-1]}.log").open("w", encoding="utf-8") as log:
            return Process(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT))


OTEL_APP = ModuleApp("otel", otel_app.__name__,
                     ("openai", "opentelemetry.sdk.metrics", "opentelemetry.exporter.prometheus",
                      "opentelemetry.instrumentation.openai_v2"), otel_app.TIMEOUT_SECONDS)
# Source name -> its live app. litellm: the LiteLLM proxy in front of the fake upstream, with a
# client calling it, registers here once its launcher exists.
LIVE_APPS: dict[str, LiveApp] = {"otel-genai": OTEL_APP}


def live_app(source: str, option: str = "--source") -> LiveApp:
    """The live app of source, checked installed; one line when there is none or it is missing."""
    app = LIVE_APPS.get(source)
    if app is None:
        runs = ", ".join(["holystack", *sorted(LIVE_APPS)])
        raise UsageError(f"{option}: metrics.source {source} has no live app to run yet; `up` runs {runs}")
    app.check(f"{option} {source}")
    return app
