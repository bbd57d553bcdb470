"""Golden files: each case's spec renders to exactly its expected files, newlines included.
Regenerate with: pytest tests/test_golden.py --update-golden"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from holystack import render_files
from holystack.output import write_tree

from .conftest import CASES, EXAMPLE

CASE_NAMES = sorted(p.name for p in CASES.iterdir() if (p / "spec.yaml").is_file())


def _expected(case: Path) -> dict[str, bytes]:
    root = case / "expected"
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name", CASE_NAMES)
def test_rendered_files_match_golden(name: str, request: pytest.FixtureRequest) -> None:
    case = CASES / name
    files = render_files(case / "spec.yaml")
    if request.config.getoption("--update-golden"):
        shutil.rmtree(case / "expected", ignore_errors=True)
        write_tree(files, case / "expected")
    expected = _expected(case)
    assert sorted(files) == sorted(expected), "the set of rendered files changed"
    for path, text in files.items():
        assert text.encode("utf-8") == expected[path], f"{name}: {path} differs from its golden file"


def test_there_are_golden_cases() -> None:
    assert {"holysheep", "acme-vi"} <= set(CASE_NAMES)


def test_the_holysheep_case_is_the_reference_spec() -> None:
    """Other tests run the reference spec through tests/cases/holysheep; they must be the same file."""
    assert (CASES / "holysheep" / "spec.yaml").read_bytes() == EXAMPLE.read_bytes()
