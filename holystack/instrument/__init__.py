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

from ..defaults import DEFAULT_METRICS_PORT
from .core import Call, Instrument, status_label
from .serve import serve
from .usage import Usage, usage_from_body

__all__ = ["DEFAULT_METRICS_PORT", "Call", "Instrument", "Usage", "serve",
           "status_label", "usage_from_body"]
