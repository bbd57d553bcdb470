"""`holystack doctor`: the running stack (Prometheus, Alertmanager) checked against the spec and OUT,
through their HTTP APIs only, read-only, with bounded timeouts."""
from __future__ import annotations

from .finding import Finding, Report
from .run import doctor

__all__ = ["Finding", "Report", "doctor"]
