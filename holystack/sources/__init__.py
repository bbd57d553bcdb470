"""The metric sources holystack reads (see base.Source). To add one, write its module (a Source
subclass with its capabilities and reads, and its tests) and list its class in SOURCE_CLASSES."""
from __future__ import annotations

from ..contract import Contract
from .base import CAPABILITIES, GENERAL_OPTIONS, Match, Source
from .native import Holystack
from .otel_genai import OtelGenai

__all__ = ["CAPABILITIES", "DEFAULT_SOURCE", "GENERAL_OPTIONS", "SOURCES", "Match", "Source", "make_source", "source_names"]

SOURCE_CLASSES: tuple[type[Source], ...] = (Holystack, OtelGenai)
SOURCES: dict[str, type[Source]] = {cls.name: cls for cls in SOURCE_CLASSES}
DEFAULT_SOURCE = Holystack.name


def source_names() -> tuple[str, ...]:
    """The known source names (read at call time, so that a test may register one)."""
    return tuple(sorted(SOURCES))


def make_source(name: str, contract: Contract) -> Source:
    """The source called name over contract's prefix (validated by semantics before)."""
    return SOURCES[name](contract)
