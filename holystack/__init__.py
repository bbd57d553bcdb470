"""holystack: one YAML spec becomes the whole, checked observability stack of an LLM API gateway."""
from __future__ import annotations

from typing import Any

# Names resolved on first use (PEP 562), so that `import holystack.instrument` loads no generator code.
_LAZY = {"Contract": "contract", "HolystackError": "errors", "OutputError": "errors", "Problem": "errors",
         "SpecError": "errors", "UsageError": "errors", "Stack": "model", "check_drift": "pipeline",
         "load_stack": "pipeline", "render_files": "pipeline", "render_to": "pipeline"}

__all__ = sorted(_LAZY)
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'holystack' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value
