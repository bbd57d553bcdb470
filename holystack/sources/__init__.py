"""The metric sources holystack reads (see base.Source). To add one, write its module (a Source
subclass with its capabilities and reads, and its tests) and list it in SOURCE_MODULES.

A source's module is imported when a spec names its source: a render loads its own source alone."""
from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from ..contract import Contract
from .base import CAPABILITIES, GENERAL_OPTIONS, Match, Source

__all__ = ["CAPABILITIES", "DEFAULT_SOURCE", "GENERAL_OPTIONS", "SOURCES", "Match", "Source", "all_sources",
           "make_source", "source_class", "source_names"]

# metrics.source name -> "module:Class" of its Source subclass in this package (its `name` is that name).
SOURCE_MODULES: dict[str, str] = {
    "holystack": "native:Holystack",
    "otel-genai": "otel_genai:OtelGenai",
    "litellm": "litellm:Litellm",
}
# The source classes loaded so far, by name; a test may register one here.
SOURCES: dict[str, type[Source]] = {}
DEFAULT_SOURCE = "holystack"


def source_names() -> tuple[str, ...]:
    """The known source names (read at call time, so that a test may register one)."""
    return tuple(sorted(SOURCE_MODULES.keys() | SOURCES.keys()))


def source_class(name: str) -> type[Source]:
    """The source called name, its module imported on first use; KeyError for an unknown name."""
    if name not in SOURCES:
        module, _, cls = SOURCE_MODULES[name].partition(":")
        SOURCES[name] = getattr(importlib.import_module(f".{module}", __name__), cls)
    return SOURCES[name]


def all_sources() -> dict[str, type[Source]]:
    """Every known source by name, each module imported (for what compares the sources)."""
    return {name: source_class(name) for name in source_names()}


def make_source(name: str, contract: Contract, metrics: Mapping[str, Any] | None = None) -> Source:
    """The source called name over contract's prefix, with the fields of metrics it reads (its
    options; validated by semantics before)."""
    cls = source_class(name)
    return cls(contract, {key: value for key, value in (metrics or {}).items() if key in cls.options})
