"""The pipeline, top to bottom: spec file -> checked data -> model -> files -> disk."""
from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

from .errors import OutputWarning
from .model import Stack
from .output import Drift, Files, drift, write_tree
from .render import render_stack
from .spec import read_stack


def load_stack(spec_path: Path) -> Stack:
    """Read, check and model a spec; raises SpecError with every problem."""
    return read_stack(spec_path)


def render_files(spec_path: Path) -> Files:
    return render_stack(load_stack(spec_path))


def render_to(spec_path: Path, out: Path, warn: Callable[[str], None] | None = None) -> Files:
    """Render the spec and replace out with the result, atomically. What went wrong after out was
    replaced (an old tree that could not be removed) goes to warn, else is an OutputWarning."""
    files = render_files(spec_path)
    for message in write_tree(files, out):
        if warn is not None:
            warn(message)
        else:
            warnings.warn(message, OutputWarning, stacklevel=2)
    return files


def check_drift(spec_path: Path, out: Path) -> Drift:
    """How out differs from what the spec renders now; writes nothing."""
    return drift(render_files(spec_path), out)
