"""The metric sources holystack reads (see base.Source). To add one, write its module (a Source
subclass with its capabilities and reads, and its tests) and list its class in SOURCE_CLASSES."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..contract import Contract
from .base import CAPABILITIES, GENERAL_OPTIONS, Match, Source
from .litellm import Litellm
from .native import Holystack
from .otel_genai import OtelGenai

__all__ = ["CAPABILITIES", "DEFAULT_SOURCE", "GENERAL_OPTIONS", "SOURCES", "Match", "Source", "make_source", "source_names"]

SOURCE_CLASSES: tuple[type[Source], ...] = (Holystack, OtelGenai, Litellm)
SOURCES: dict[str, type[Source]] = {cls.name: cls for cls in SOURCE_CLASSES}
DEFAULT_SOURCE = Holystack.name


def source_names() -> tuple[str, ...]:
    """The known source names (read at call time, so that a test may register one)."""
    return tuple(sorted(SOURCES))


def make_source(name: str, contract: Contract, metrics: Mapping[str, Any] | None = None) -> Source:
    """The source called name over contract's prefix, with the fields of metrics it reads (its
    options; validated by semantics before)."""
    cls = SOURCES[name]
    return cls(contract, {key: value for key, value in (metrics or {}).items() if key in cls.options})
