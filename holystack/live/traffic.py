"""`holystack simulate`: drive traffic through the real openai SDK and holystack's transport to the
fake upstream, serve /metrics."""
from __future__ import annotations

import dataclasses
import json
import math
import random
import socket
import threading
import time
from collections import Counter as Tally
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

from prometheus_client import CollectorRegistry

from ..errors import UsageError
from ..instrument import Instrument, http_client, serve
from ..instrument.core import status_of_error
from ..model import Fallback, Stack
from .loopback import LOOPBACK
from .scenarios import TrafficProfile
from .upstream import FakeUpstreamServer, Upstream, endpoint_kind

MAX_WORKERS = 512
STREAM_SHARE = 0.25  # share of chat and Responses calls made as streams (chat with a final usage chunk)
API_KEY = "sk-simulate"  # the fake checks no key; the SDK insists on one
MESSAGES = [{"role": "user", "content": "ping"}]


def openai_module() -> Any:
    try:
        import openai
    except ImportError:
        raise UsageError("simulate drives the official openai SDK: pip install 'holystack[simulate]'") from None
    return openai


def refused_port() -> int:
    """A loopback port nothing listens on: connections to it are refused."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def with_primary_fallback(stack: Stack) -> Stack:
    """primary-outage needs a chain from the first provider; the spec's own, else first -> second."""
    if len(stack.providers) < 2:
        raise UsageError("--scenario primary-outage: the spec needs a second provider to fall back to")
    first, second = stack.providers[0].name, stack.providers[1].name
    if stack.resilience.fallback_from(first) is not None:
        return stack
    chain = (*stack.resilience.fallbacks, Fallback(first, second, ()))
    return dataclasses.replace(stack, resilience=dataclasses.replace(stack.resilience, fallbacks=chain))


@dataclass(frozen=True)
class Route:
    """Where one simulated call goes."""

    provider: str
    endpoint: str
    model: str
    timeout: float


def routes(stack: Stack) -> list[Route]:
    """Every provider x endpoint x model the traffic spreads over. Models without an output price
    (embedding models) go to embeddings endpoints and the others elsewhere, when the spec has both."""
    embedding_models = {m.name for m in stack.models if m.prices.output == 0}
    found = []
    for provider in stack.providers:
        for endpoint in stack.endpoints:
            wants_embeddings = endpoint_kind(endpoint.path) == "embeddings"
            fitting = [m for m in stack.models if (m.name in embedding_models) == wants_embeddings] or stack.models
            found += [Route(provider.name, endpoint.path, m.name, provider.timeout.seconds) for m in fitting]
    return found


def parse_stream(payload: bytes) -> list[dict[str, Any]]:
    """The JSON chunks of a server-sent-events body."""
    chunks = []
    for line in payload.decode("utf-8").splitlines():
        if line.startswith("data: ") and line != "data: [DONE]":
            chunks.append(json.loads(line[6:]))
    return chunks


class Traffic:
    """Calls at a steady rate for a bounded time, each recorded through the Instrument."""

    def __init__(self, stack: Stack, scenario: TrafficProfile, rps: float, seed: int, instrument: Instrument):
        self.scenario, self.rps, self.instrument = scenario, rps, instrument
        self.rng = random.Random(seed)
        self.routes = routes(stack)
        self.timeout = max(route.timeout for route in self.routes)
        self.upstream = FakeUpstreamServer(Upstream(
            scenario, {e.path: stack.latency_p95_of(e) or 1.0 for e in stack.endpoints},
            client_timeout=min(route.timeout for route in self.routes), seed=seed, hang=self.timeout + 1.0))
        self.outcomes: Tally[str] = Tally()
        self.lock = threading.Lock()
        retry = stack.resilience.default.retry
        # A call may take every attempt's timeout and the waits between them.
        self.call_seconds = retry.max_attempts * self.timeout + retry.max_wait.seconds / 4 + 2
        self.clients: dict[str, Any] = {}

    def base_urls(self) -> dict[str, str]:
        """Each provider's prefix on the fake; the first provider's on a refused port in primary-outage."""
        port = self.upstream.server_address[1]
        urls = {name: f"http://{LOOPBACK}:{port}/{name}/v1" for name in self.instrument.providers}
        if self.scenario.primary_outage:
            first = self.routes[0].provider
            urls[first] = f"http://{LOOPBACK}:{refused_port()}/{first}/v1"
        return urls

    def open_clients(self, workers: int) -> None:
        """One openai client per provider, its http_client holystack's: every attempt is recorded,
        holystack retries and falls back (max_retries=0: the SDK does not retry on top)."""
        openai = openai_module()
        import httpx2  # openai's own HTTP library

        urls = self.base_urls()
        for name, url in urls.items():
            limits = httpx2.Limits(max_connections=workers, max_keepalive_connections=workers)
            self.clients[name] = openai.OpenAI(
                base_url=url, api_key=API_KEY, max_retries=0, timeout=self.instrument.timeouts[name],
                http_client=http_client(self.instrument, provider=name, base_urls=urls, limits=limits))

    def call(self, route: Route, stream: bool) -> None:
        client = self.clients[route.provider]
        kind = endpoint_kind(route.endpoint)
        status: int | str = 200
        try:
            if kind == "embeddings":
                client.embeddings.create(model=route.model, input="holystack")
            elif kind == "responses":
                if stream:
                    with client.responses.stream(model=route.model, input="ping") as events:
                        events.get_final_response()
                else:
                    client.responses.create(model=route.model, input="ping")
            elif stream:
                chunks = client.chat.completions.create(model=route.model, messages=MESSAGES, stream=True,
                                                        stream_options={"include_usage": True})
                with chunks:
                    for _ in chunks:
                        pass
            else:
                client.chat.completions.create(model=route.model, messages=MESSAGES)
        except Exception as error:  # recorded by the transport; the traffic goes on
            status = status_of_error(error)
        with self.lock:
            self.outcomes[str(status)] += 1

    def run(self, duration: float, stop: threading.Event) -> None:
        """Send calls at rps until duration passes or stop is set; wait for the calls in flight."""
        if not self.scenario.outage:
            self.upstream.start()
        else:
            self.upstream.server_close()  # the port is gone: connections are refused
        workers = min(MAX_WORKERS, max(8, math.ceil(self.rps * self.call_seconds)))
        self.open_clients(workers)
        started = time.monotonic()
        sent = 0
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="simulate")
        try:
            while not stop.is_set():
                elapsed = time.monotonic() - started
                if elapsed >= duration:
                    break
                due = int(elapsed * self.rps) + 1
                for _ in range(due - sent):
                    route = self.rng.choice(self.routes)
                    pool.submit(self.call, route, self.rng.random() < STREAM_SHARE)
                sent = max(sent, due)
                stop.wait(min(0.05, 1 / self.rps))
        finally:  # calls in flight end within their timeout; calls not yet started are dropped
            pool.shutdown(wait=True, cancel_futures=True)
            for client in self.clients.values():
                client.close()
        if not self.scenario.outage:
            self.upstream.stop()


def simulate(stack: Stack, scenario: TrafficProfile, duration: float, rps: float, metrics_port: int, seed: int,
             stop: threading.Event | None = None, report: Callable[[str], None] = print) -> Tally[str]:
    """Run one scenario: fake upstream, traffic through the instrumentation, /metrics on loopback."""
    openai_module()  # a clear error before anything starts
    if scenario.primary_outage:
        stack = with_primary_fallback(stack)
    registry = CollectorRegistry()
    instrument = Instrument.from_spec(stack, registry=registry)
    server, _ = serve(metrics_port, LOOPBACK, registry=registry)
    traffic = Traffic(stack, scenario, rps, seed, instrument)
    try:
        report(f"scenario {scenario.name}: {scenario.summary}")
        report(f"fake upstream http://{LOOPBACK}:{traffic.upstream.server_address[1]}, "
               f"metrics http://{LOOPBACK}:{server.server_address[1]}/metrics, {rps:g} calls/s for {duration:g}s")
        traffic.run(duration, stop or threading.Event())
    finally:
        server.shutdown()
        server.server_close()
    report("calls by status: " + ", ".join(f"{k} {v}" for k, v in sorted(traffic.outcomes.items())))
    return traffic.outcomes
