"""holystack: one YAML spec becomes the whole, checked observability stack of an LLM API gateway.

Importing the package loads nothing: the generator's names below are imported on first use, so
that ``import holystack.instrument`` in an application stays as light as prometheus_client."""
from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

# Public name -> the module that defines it.
_PUBLIC = {
    "Contract": ".contract",
    "HolystackError": ".errors", "OutputError": ".errors", "Problem": ".errors", "SpecError": ".errors",
    "OutputWarning": ".errors", "UsageError": ".errors",
    "Stack": ".model",
    "check_drift": ".pipeline", "load_stack": ".pipeline", "render_files": ".pipeline", "render_to": ".pipeline",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'holystack' has no attribute {name!r}")
    value = getattr(import_module(_PUBLIC[name], __name__), name)
    globals()[name] = value
    return value
