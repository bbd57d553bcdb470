"""Serving /metrics, in one process or across the workers of a multiprocess server.

Multiprocess mode (gunicorn, uvicorn --workers): set PROMETHEUS_MULTIPROC_DIR to an empty folder,
the same for every worker, before the application starts (so before prometheus_client is imported).
Each worker builds its own Instrument (registry=None) and records as usual; the values are written to
files in that folder. Serve /metrics from one place with ``serve(port)``, which then reads the files of
every worker, and tell prometheus_client when a worker exits, in gunicorn.conf.py:

    from holystack.instrument.serve import worker_exit
    child_exit = worker_exit
"""
from __future__ import annotations

import os
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, start_http_server

from ..defaults import DEFAULT_METRICS_PORT, LOOPBACK

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def is_multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def collecting_registry() -> CollectorRegistry:
    """The registry to expose: every worker's files in multiprocess mode, else the global REGISTRY."""
    if not is_multiprocess():
        return REGISTRY
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def serve(port: int = DEFAULT_METRICS_PORT, addr: str = LOOPBACK,
          registry: CollectorRegistry | None = None) -> Any:
    """Serve /metrics on addr:port in a daemon thread; returns (server, thread).

    addr defaults to loopback; pass "0.0.0.0" when Prometheus scrapes from another host."""
    return start_http_server(port, addr, registry=registry if registry is not None else collecting_registry())


def worker_exit(server: Any, worker: Any) -> None:
    """gunicorn child_exit hook: drop the live gauges of a worker that ended."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
