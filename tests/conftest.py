"""Shared fixtures. Tests that need promtool or amtool fail, never skip, when they are missing."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "holysheep.yaml"
CASES = ROOT / "tests" / "cases"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true",
                     help="Rewrite tests/cases/*/expected from the current renderers.")


def _require(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is not installed; install the Debian package {package} (scripts/setup does)")
    return path


@pytest.fixture(scope="session")
def promtool() -> str:
    return _require("promtool", "prometheus")


@pytest.fixture(scope="session")
def amtool() -> str:
    return _require("amtool", "prometheus-alertmanager")


@pytest.fixture
def example_text() -> str:
    return EXAMPLE.read_text("utf-8")


@pytest.fixture(scope="session")
def servers() -> None:
    """The real Prometheus and Alertmanager servers, which the end-to-end tests start."""
    _require("prometheus", "prometheus")
    if shutil.which("prometheus-alertmanager") is None and shutil.which("alertmanager") is None:
        pytest.fail("alertmanager is not installed; install the Debian package prometheus-alertmanager")
