"""The live applications of the metric sources: for `holystack up --source NAME`, what emits the
source's raw series on loopback, fed by the fake upstream, for the rendered Prometheus to scrape.

The holystack source needs none (simulate drives holystack.instrument). Another source registers
a LiveApp here under its name: check() says, in one line, what to install when its extra is
missing, prepare() fits the loopback spec to how it is scraped, and start() runs it until stop().
A source without one is refused by name (exit 2)."""
from __future__ import annotations

import importlib.util
import secrets
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..errors import UsageError
from ..model import Stack
from ..sources import DEFAULT_SOURCE
from ..sources.litellm import Litellm
from ..sources.otel_genai import OtelGenai
from . import litellm_proxy, otel_app
from .litellm_proxy import LitellmProxy
from .servers import end_process


class Running(Protocol):
    def stop(self) -> None: ...


class LiveApp(Protocol):
    extra: str
    client_timeout: float  # seconds: the fake upstream holds a timed-out call just past it

    def check(self, option: str) -> None:
        """A UsageError naming the extra when what the app needs is not installed."""

    def prepare(self, data: dict[str, Any], upstream_url: str, metrics_port: int, workdir: Path) -> dict[str, Any]:
        """The loopback spec as this app is scraped (its credentials written into workdir)."""

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
        end_process(self.process, timeout=20)


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

    def prepare(self, data: dict[str, Any], upstream_url: str, metrics_port: int, workdir: Path) -> dict[str, Any]:
        return data

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


@dataclass
class ProxyRun:
    """The LiteLLM proxy and a client calling it (the openai SDK, one call after another), until stop()."""

    proxy: LitellmProxy
    stack: Stack
    rps: float
    seconds: float
    client_timeout: float
    done: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def begin(self) -> "ProxyRun":
        from openai import OpenAI

        client = OpenAI(base_url=self.proxy.url + "/v1", api_key=self.proxy.key, max_retries=0,
                        timeout=self.client_timeout)
        model = self.stack.models[0].name
        end = time.monotonic() + self.seconds

        def call() -> None:
            while not self.done.is_set() and time.monotonic() < end:
                try:
                    client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
                except Exception:  # noqa: BLE001 - every failure is what the proxy counts
                    pass
                self.done.wait(1 / self.rps)

        self.thread = threading.Thread(target=call, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.done.set()
        if self.thread is not None:
            self.thread.join(self.client_timeout + 5)
        self.proxy.stop()


@dataclass(frozen=True)
class ProxyApp:
    """The LiteLLM proxy (extra litellm) in front of the fake upstream, on the port the first scrape
    job reads, its /metrics/ behind its master key (a file in workdir the job's authorization reads)."""

    extra: str = "litellm"
    client_timeout: float = otel_app.TIMEOUT_SECONDS

    def check(self, option: str) -> None:
        try:
            litellm_proxy.require_litellm()
        except UsageError as missing:
            raise UsageError(f"{option}: {missing}") from None
        if missing_modules(("openai",)):
            raise UsageError(f"{option}: its client needs the openai SDK; pip install 'holystack[simulate]'")

    def key_file(self, workdir: Path) -> Path:
        return LitellmProxy(workdir).key_file

    def prepare(self, data: dict[str, Any], upstream_url: str, metrics_port: int, workdir: Path) -> dict[str, Any]:
        key_file = self.key_file(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        key_file.write_text(f"sk-holystack-{secrets.token_hex(12)}\n", "utf-8")
        key_file.chmod(0o600)
        return litellm_proxy.scraped_with_key(litellm_proxy.on_upstream(data, upstream_url), key_file)

    def start(self, stack: Stack, upstream_url: str, metrics_port: int, rps: float, seconds: float,
              workdir: Path) -> ProxyRun:
        proxy = LitellmProxy(workdir, metrics_port, self.key_file(workdir).read_text("utf-8").strip())
        proxy.start(stack, upstream_url)
        return ProxyRun(proxy, stack, rps, seconds, self.client_timeout).begin()


# Source name -> its live app.
LIVE_APPS: dict[str, LiveApp] = {OtelGenai.name: OTEL_APP, Litellm.name: ProxyApp()}


def live_app(source: str, option: str = "--source") -> LiveApp:
    """The live app of source, checked installed; one line when there is none or it is missing."""
    app = LIVE_APPS.get(source)
    if app is None:
        runs = ", ".join([DEFAULT_SOURCE, *sorted(LIVE_APPS)])
        raise UsageError(f"{option}: metrics.source {source} has no live app to run yet; `up` runs {runs}")
    app.check(f"{option} {source}")
    return app
