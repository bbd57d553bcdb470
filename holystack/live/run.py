"""The live commands' glue: argument checks, the stop on signals, and what they print."""
from __future__ import annotations

import sys
import threading
from pathlib import Path

from ..durations import parse_ms
from ..errors import UsageError
from ..pipeline import load_stack
from .scenarios import SCENARIOS, TrafficProfile
from .signals import stop_on_signals, wait_for_stop
from .traffic import simulate

MAX_RPS = 1000.0


def scenario_named(name: str) -> TrafficProfile:
    if name not in SCENARIOS:
        raise UsageError(f"--scenario: {name!r} is not a scenario; pick one of {', '.join(SCENARIOS)}")
    return SCENARIOS[name]


def duration_seconds(option: str, text: str) -> float:
    try:
        seconds = parse_ms(text) / 1000
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None
    if seconds <= 0:
        raise UsageError(f"{option}: must be longer than 0s")
    return seconds


def check_rps(rps: float) -> float:
    if not 0 < rps <= MAX_RPS:
        raise UsageError(f"--rps: {rps:g} is outside (0, {MAX_RPS:g}]; the fake upstream runs on this machine")
    return rps


def check_port(option: str, port: int) -> int:
    if not 0 <= port <= 65535:
        raise UsageError(f"{option}: {port} is not a TCP port (0-65535, 0 for any free one)")
    return port


def run_simulate(spec: Path, scenario: str, duration: str, rps: float, metrics_port: int, seed: int) -> None:
    chosen = scenario_named(scenario)
    seconds = duration_seconds("--duration", duration)
    check_rps(rps)
    check_port("--metrics-port", metrics_port)
    stack = load_stack(spec)
    try:
        simulate(stack, chosen, seconds, rps, metrics_port, seed, stop_on_signals(), report=_say)
    except OSError as exc:
        raise UsageError(f"--metrics-port: cannot serve on 127.0.0.1:{metrics_port}: {exc.strerror}") from None


def run_upstream(scenario: str, port: int, seed: int, latency: str, timeout: str) -> None:
    """Serve the fake upstream until Ctrl-C or SIGTERM; its URL first, what it served at the end."""
    from .upstream import FakeUpstreamServer, Upstream

    chosen = scenario_named(scenario)
    check_port("--port", port)
    threshold = duration_seconds("--latency", latency)
    client_timeout = duration_seconds("--timeout", timeout)
    stop = stop_on_signals()
    try:
        server = FakeUpstreamServer(Upstream(chosen, {"": threshold}, client_timeout, seed), port).start()
    except OSError as exc:
        raise UsageError(f"--port: cannot serve on 127.0.0.1:{port}: {exc.strerror}") from None
    _say(server.url)
    try:
        wait_for_stop(stop)
    finally:
        server.stop()
    served = ", ".join(f"{status}: {count}" for status, count in sorted(server.upstream.statuses.items()))
    _say(f"served {server.upstream.served} calls ({served or 'none'})")


_SAY_LOCK = threading.Lock()


def _say(line: str) -> None:
    """One whole line at a time: servers and traffic report from several threads."""
    with _SAY_LOCK:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def run_up(spec: Path, scenario: str, rps: float, seed: int, fast: bool, workdir: Path | None,
           engine: str = "prometheus", source: str | None = None) -> None:
    import tempfile

    from ..sources import DEFAULT_SOURCE
    from .apps import live_app
    from .onto import spec_on_source
    from .playground import ENGINES, up

    if engine not in ENGINES:
        raise UsageError(f"--engine: {engine!r} is not an engine; pick one of {', '.join(ENGINES)}")
    chosen = scenario_named(scenario)
    check_rps(rps)
    stack = load_stack(spec)  # a bad spec is refused before anything starts
    if source is not None:  # and so is one that cannot move onto the source
        import yaml

        from ..spec import check_spec_text, read_spec

        check_spec_text(yaml.safe_dump(spec_on_source(read_spec(spec), source)[0]), f"{spec} on {source}")
    name = source or stack.source.name
    if name != DEFAULT_SOURCE:
        live_app(name)  # no live app, or its extra missing: refused before anything starts
    stop = stop_on_signals()
    if workdir is not None:
        up(spec, chosen, rps, seed, fast, workdir, stop, _say, engine, source)
        return
    with tempfile.TemporaryDirectory(prefix="holystack-up-") as tmp:
        up(spec, chosen, rps, seed, fast, Path(tmp), stop, _say, engine, source)
