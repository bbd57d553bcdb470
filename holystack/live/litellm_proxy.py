"""The real LiteLLM proxy (extra litellm), on 127.0.0.1 and an ephemeral port, in front of the
spec's providers: what metrics.source litellm reads, for the live tests and `up`.

    proxy = LitellmProxy(workdir)
    url = proxy.start(stack, upstream_url)   # or start(stack): each provider's own base_url
    ...                                      # the openai SDK at url + "/v1", api_key=proxy.key
    proxy.stop()

The config (proxy_config) has one model group per spec model, its deployments on the providers
that are no fallback's target, and one group per model a resilience.fallbacks chain names, on the
chain's target; the router's fallbacks are those chains, as LiteLLM's router config has them
({model group: [fallback model group]}). Every deployment is OpenAI-compatible (openai/<model>,
LiteLLM's api_provider "openai"), with the provider's timeout. No retries (router num_retries 0,
the SDK's max_retries 0): with num_retries, a call whose every retry fails is counted as one
deployment failure, not one per attempt (seen: 6 429s served, 4 counted), so the attempts would
read low; one attempt per call keeps every count exact.
callbacks: ["prometheus"] serves /metrics/, which asks for the master key (general_settings).
Started offline: LITELLM_LOCAL_MODEL_COST_MAP reads the model cost map LiteLLM ships instead of
fetching it, and telemetry is off."""
from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter as Tally
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

import yaml

from ..errors import UsageError
from ..model import Stack
from .loopback import LOOPBACK
from .servers import end_process, free_port

COMMAND = "litellm"
# Where scripts/setup puts the proxy (it requires openai<3, holystack's dev extra openai>=3).
SETUP_VENV = ".venv-litellm"
COMMAND_ENV = "HOLYSTACK_LITELLM"  # the litellm command to run, if not found otherwise
# The proxy imports its whole server (FastAPI, the router, every provider) before it listens: 10-35 s
# on 2 loaded cores here.
READY_TIMEOUT_SECONDS = 120.0
READY_PATH = "/health/liveliness"
METRICS_PATH = "/metrics/"  # the proxy redirects /metrics to it
API_KEY = "sk-holystack-upstream"  # what the deployments send the fake upstream, which checks no key
# LITELLM_LOG CRITICAL: the router logs every failed call with its traceback at ERROR, thousands of
# lines a minute in an outage, on the cores the proxy needs.
OFFLINE_ENV = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY": "False", "LITELLM_LOG": "CRITICAL",
               "NO_DOCS": "True"}


def litellm_command() -> str | None:
    """The proxy's command: $HOLYSTACK_LITELLM, else beside this Python, else on PATH, else the
    checkout's .venv-litellm (scripts/setup)."""
    candidates = [os.environ.get(COMMAND_ENV), str(Path(sys.executable).parent / COMMAND), shutil.which(COMMAND),
                  str(Path(__file__).resolve().parents[2] / SETUP_VENV / "bin" / COMMAND)]
    return next((c for c in candidates if c and Path(c).is_file() and os.access(c, os.X_OK)), None)


def require_litellm() -> str:
    command = litellm_command()
    if command is None:
        raise UsageError(f"the LiteLLM proxy is not installed: pip install 'holystack[litellm]' (in a venv of its own: "
                         f"it needs openai<3; scripts/setup makes {SETUP_VENV}), or set {COMMAND_ENV} to its command")
    return command


def upstream_base(upstream_url: str, provider: str) -> str:
    """A provider's prefix on holystack's fake upstream (as simulate and `holystack upstream` serve it)."""
    return f"{upstream_url.rstrip('/')}/{provider}/v1"


def on_upstream(data: dict[str, Any], upstream_url: str) -> dict[str, Any]:
    """The spec with every provider's base_url on the fake upstream (upstream_base), so that the
    source tells the providers apart by LiteLLM's api_base."""
    return {**data, "providers": [{**p, "base_url": upstream_base(upstream_url, p["name"])} for p in data["providers"]]}


def scraped_with_key(data: dict[str, Any], key_file: Path) -> dict[str, Any]:
    """The spec with its first scrape job reading the proxy's /metrics/ with the master key's file."""
    jobs = [{**data["scrape"]["jobs"][0], "metrics_path": METRICS_PATH,
             "authorization": {"credentials_file": str(key_file)}}, *data["scrape"]["jobs"][1:]]
    return {**data, "scrape": {**data["scrape"], "jobs": jobs}}


def model_groups(stack: Stack) -> list[tuple[str, str, str]]:
    """(model group, model sent, provider) of every deployment."""
    targets = {edge.target for edge in stack.resilience.fallbacks}
    primaries = [p.name for p in stack.providers if p.name not in targets] or [p.name for p in stack.providers]
    groups = [(m.name, m.name, p) for m in stack.models for p in primaries]
    for edge in stack.resilience.fallbacks:
        groups += [(target, target, edge.target) for _, target in edge.models
                   if (target, target, edge.target) not in groups]
    return groups


def router_fallbacks(stack: Stack) -> list[dict[str, list[str]]]:
    chains: dict[str, list[str]] = {}
    for edge in stack.resilience.fallbacks:
        for model, target in edge.models:
            chains.setdefault(model, []).append(target)
    return [{model: targets} for model, targets in chains.items()]


def proxy_config(stack: Stack, master_key: str, upstream_url: str | None = None) -> dict[str, Any]:
    """The proxy's config.yaml: deployments on upstream_url's provider prefixes (upstream_base), or
    on each provider's base_url."""
    providers = {p.name: p for p in stack.providers}
    model_list = []
    for group, model, provider in model_groups(stack):
        spec_provider = providers[provider]
        base = upstream_base(upstream_url, provider) if upstream_url else spec_provider.base_url
        if base is None:
            raise UsageError(f"providers: {provider} has no base_url for the LiteLLM proxy to call; give one")
        model_list.append({"model_name": group, "litellm_params": {
            "model": f"openai/{model}", "api_base": base, "api_key": API_KEY, "max_retries": 0,
            "timeout": spec_provider.timeout.seconds}})
    router: dict[str, Any] = {"num_retries": 0}
    if stack.resilience.fallbacks:
        router["fallbacks"] = router_fallbacks(stack)
    return {"model_list": model_list,
            "litellm_settings": {"callbacks": ["prometheus"], "telemetry": False, "suppress_debug_info": True},
            "router_settings": router,
            "general_settings": {"master_key": master_key}}


class LitellmProxy:
    """One proxy process; its master key in key_file (what a scrape job's authorization reads)."""

    def __init__(self, workdir: Path, port: int | None = None, key: str | None = None):
        self.workdir = workdir
        self.port = port or free_port()
        self.key = key or f"sk-holystack-{secrets.token_hex(12)}"
        self.key_file = workdir / "litellm-master-key"
        self.config_path = workdir / "litellm-config.yaml"
        self.log_path = workdir / "litellm.log"
        self.process: subprocess.Popen | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def metrics_url(self) -> str:
        return self.url + METRICS_PATH

    def start(self, stack: Stack, upstream_url: str | None = None, timeout: float = READY_TIMEOUT_SECONDS) -> str:
        """Write the config, start the proxy, wait (at most timeout) until it answers; its URL."""
        command = require_litellm()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.key_file.write_text(self.key + "\n", "utf-8")
        self.key_file.chmod(0o600)
        self.config_path.write_text(yaml.safe_dump(proxy_config(stack, self.key, upstream_url), sort_keys=False), "utf-8")
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [command, "--config", str(self.config_path), "--port", str(self.port), "--host", LOOPBACK],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.workdir,
            env={**os.environ, **OFFLINE_ENV})
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self.url

    def _wait_ready(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise UsageError(f"the LiteLLM proxy exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + READY_PATH, timeout=2) as response:
                    if response.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.25)
        raise UsageError(f"the LiteLLM proxy was not ready within {timeout:g}s:\n{self.log_tail()}")

    def scrape(self, with_key: bool = True) -> tuple[int, str]:
        """GET /metrics/ (with the master key, or without): (status, body)."""
        request = urllib.request.Request(self.metrics_url, headers={"Authorization": f"Bearer {self.key}"} if with_key else {})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read().decode("utf-8")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode("utf-8", "replace")

    def log_tail(self, lines: int = 30) -> str:
        if self._log is not None and not self._log.closed:
            self._log.flush()
        if not self.log_path.is_file():
            return ""
        return "\n".join(self.log_path.read_text("utf-8", "replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is not None:
            end_process(self.process)
        if self._log is not None:
            self._log.close()


def send_calls(url: str, key: str, stack: Stack, rps: float, seconds: float, stop: threading.Event | None = None,
               workers: int = 16) -> Tally[str]:
    """Calls through the proxy with the official openai SDK (no SDK retries) at rps for seconds or
    until stop is set: chat for the spec's models with an output price, embeddings for the others,
    in turn. Returns the outcomes by the status the client saw ("error" without one)."""
    import openai

    client = openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=30)
    models = list(stack.models)
    outcomes: Tally[str] = Tally()
    lock = threading.Lock()
    stop = stop or threading.Event()

    def call(number: int) -> None:
        model = models[number % len(models)]
        try:
            if model.prices.output == 0:
                client.embeddings.create(model=model.name, input="holystack")
            else:
                client.chat.completions.create(model=model.name, messages=[{"role": "user", "content": "ping"}])
            status = "200"
        except openai.APIStatusError as error:
            status = str(error.status_code)
        except openai.APIError:
            status = "error"
        with lock:
            outcomes[status] += 1

    started, sent = time.monotonic(), 0
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="litellm-calls")
    try:
        while not stop.is_set() and (elapsed := time.monotonic() - started) < seconds:
            due = int(elapsed * rps) + 1
            for number in range(sent, due):
                pool.submit(call, number)
            sent = max(sent, due)
            stop.wait(min(0.05, 1 / rps))
    finally:  # calls in flight end within their timeout; calls not yet started are dropped
        pool.shutdown(wait=True, cancel_futures=True)
        client.close()
    return outcomes
