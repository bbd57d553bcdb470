"""`holystack simulate`: drive traffic through holystack.instrument to the fake upstream, serve /metrics."""
from __future__ import annotations

import http.client
import json
import math
import random
import threading
import time
from collections import Counter as Tally
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

from prometheus_client import CollectorRegistry

from ..instrument import Instrument, serve
from ..instrument.core import status_of_error
from ..model import Stack
from .loopback import LOOPBACK
from .scenarios import Scenario
from .upstream import FakeUpstreamServer, Upstream, endpoint_kind

MAX_WORKERS = 512
STREAM_SHARE = 0.25  # share of chat calls made as streams with a final usage chunk


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

    def __init__(self, stack: Stack, scenario: Scenario, rps: float, seed: int, instrument: Instrument):
        self.scenario, self.rps, self.instrument = scenario, rps, instrument
        self.rng = random.Random(seed)
        self.routes = routes(stack)
        self.timeout = max(route.timeout for route in self.routes)
        self.upstream = FakeUpstreamServer(Upstream(
            scenario, {e.path: stack.latency_p95_of(e) or 1.0 for e in stack.endpoints},
            client_timeout=min(route.timeout for route in self.routes), seed=seed, hang=self.timeout + 1.0))
        self.outcomes: Tally[str] = Tally()
        self.lock = threading.Lock()

    def call(self, route: Route, stream: bool) -> None:
        host, port = self.upstream.server_address[:2]
        request: dict[str, Any] = {"model": route.model}
        kind = endpoint_kind(route.endpoint)
        if kind == "embeddings":
            request["input"] = "holystack"
        elif kind == "responses":
            request["input"] = "ping"
        else:
            request["messages"] = [{"role": "user", "content": "ping"}]
            if stream:
                request.update(stream=True, stream_options={"include_usage": True})
        status: int | str
        try:
            with self.instrument.track(provider=route.provider, endpoint=route.endpoint, model=route.model) as call:
                connection = http.client.HTTPConnection(host, port, timeout=route.timeout)
                try:
                    connection.request("POST", f"/{route.provider}/v1{route.endpoint}", json.dumps(request),
                                       {"content-type": "application/json"})
                    response = connection.getresponse()
                    payload = response.read()
                finally:
                    connection.close()
                headers = {name.lower(): value for name, value in response.getheaders()}
                body = parse_stream(payload) if stream and response.status == 200 else json.loads(payload or b"null")
                call.response(response.status, body, headers)
            status = response.status
        except Exception as error:  # recorded by track(); the traffic goes on
            status = status_of_error(error)
        with self.lock:
            self.outcomes[str(status)] += 1

    def run(self, duration: float, stop: threading.Event) -> None:
        """Send calls at rps until duration passes or stop is set; wait for the calls in flight."""
        if not self.scenario.outage:
            self.upstream.start()
        else:
            self.upstream.server_close()  # the port is gone: connections are refused
        workers = min(MAX_WORKERS, max(8, math.ceil(self.rps * (self.timeout + 2))))
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
        if not self.scenario.outage:
            self.upstream.stop()


def simulate(stack: Stack, scenario: Scenario, duration: float, rps: float, metrics_port: int, seed: int,
             stop: threading.Event | None = None, report: Callable[[str], None] = print) -> Tally[str]:
    """Run one scenario: fake upstream, traffic through the instrumentation, /metrics on loopback."""
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
