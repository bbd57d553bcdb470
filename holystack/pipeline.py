"""The pipeline, top to bottom: spec file -> checked data -> model -> files -> disk."""
from __future__ import annotations

from pathlib import Path

from .model import Stack, build_model
from .output import Drift, Files, display_name, drift, write_tree
from .render import render_stack
from .spec import read_spec


def load_stack(spec_path: Path) -> Stack:
    """Read, check and model a spec; raises SpecError with every problem."""
    return build_model(read_spec(spec_path), source_name=display_name(spec_path.name))


def render_files(spec_path: Path) -> Files:
    return render_stack(load_stack(spec_path))


def render_to(spec_path: Path, out: Path) -> Files:
    """Render the spec and replace out with the result, atomically."""
    files = render_files(spec_path)
    write_tree(files, out)
    return files


def check_drift(spec_path: Path, out: Path) -> Drift:
    """How out differs from what the spec renders now; writes nothing."""
    return drift(render_files(spec_path), out)
