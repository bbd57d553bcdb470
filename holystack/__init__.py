"""holystack: one YAML spec becomes the whole, checked observability stack of an LLM API gateway."""
from .contract import Contract
from .errors import HolystackError, OutputError, Problem, SpecError, UsageError
from .model import Stack
from .pipeline import check_drift, load_stack, render_files, render_to

__all__ = ["Contract", "HolystackError", "OutputError", "Problem", "SpecError", "Stack", "UsageError",
           "check_drift", "load_stack", "render_files", "render_to"]
__version__ = "0.1.0"
