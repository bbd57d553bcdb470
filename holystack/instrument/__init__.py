"""Instrumentation that emits exactly holystack's metric contract (extra ``holystack[instrument]``).

    from openai import OpenAI
    from holystack.instrument import Instrument, http_client, serve
    instrument = Instrument.from_spec("holystack.yaml")
    serve(9464)                                   # /metrics on 127.0.0.1:9464
    client = OpenAI(base_url=..., http_client=http_client(instrument, provider="holysheep"), max_retries=0)

Or record calls made some other way with ``instrument.record_call(...)`` / ``instrument.track(...)``.
Importing this package loads no generator code (no jinja2, grafanalib, jsonschema, typer), nor
httpx/httpx2 until a client is asked for. Multiprocess servers: see ``holystack.instrument.serve``.
"""
from __future__ import annotations

from ..defaults import DEFAULT_METRICS_PORT
from .core import Call, CallRow, Instrument, Sink, status_label, status_of_error
from .serve import serve
from .transport import async_http_client, http_client, instrumented_transport
from .usage import Usage, usage_from_body

__all__ = ["DEFAULT_METRICS_PORT", "Call", "CallRow", "Instrument", "Sink", "Usage", "async_http_client",
           "http_client", "instrumented_transport", "serve", "status_label", "status_of_error", "usage_from_body"]
