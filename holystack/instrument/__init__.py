"""Instrumentation that emits exactly holystack's metric contract (extra ``holystack[instrument]``).

    from holystack.instrument import Instrument, serve
    instrument = Instrument.from_spec("holystack.yaml")
    serve(9464)                                   # /metrics on 127.0.0.1:9464
    with instrument.track(provider="holysheep", endpoint="/chat/completions", model="gpt-4.1") as call:
        response = client.post(...)
        call.response(response.status_code, response.json(), response.headers)

Multiprocess servers (gunicorn, uvicorn --workers): see ``holystack.instrument.multiprocess``.
"""
from __future__ import annotations

from .core import DEFAULT_METRICS_PORT, Call, Instrument, status_label
from .serve import serve
from .usage import Usage, ratelimits_from_headers, usage_from_body

__all__ = ["DEFAULT_METRICS_PORT", "Call", "Instrument", "Usage", "ratelimits_from_headers", "serve",
           "status_label", "usage_from_body"]
