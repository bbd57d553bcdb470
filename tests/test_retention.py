"""validate warns when the retention the stack documents is shorter than its longest window; the
stack that `up` starts keeps that long."""
from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
import yaml

from holystack import render_to
from holystack.checks.result import PASS, WARN
from holystack.checks.retention import check_retention
from holystack.pipeline import load_stack
from holystack.render.prometheus import RETENTION_FLAG
from holystack.validate import validate

from .conftest import EXAMPLE



def _retention_result(out: Path):
    rules = {p.name: yaml.safe_load(p.read_text()) for p in (out / "prometheus" / "rules").glob("*.yml")}
    return check_retention(load_stack(EXAMPLE), out, rules)


def test_rendered_stack_documents_a_retention_that_covers_30_days(tmp_path: Path) -> None:
    render_to(EXAMPLE, tmp_path)
    result = _retention_result(tmp_path)
    assert result.status == PASS, result
    assert f"{RETENTION_FLAG}=32d" in (tmp_path / "README.md").read_text()


@pytest.mark.parametrize("edit", ["20d", None])
def test_validate_warns_when_retention_is_shorter_or_missing(tmp_path: Path, edit: str | None) -> None:
    render_to(EXAMPLE, tmp_path)
    readme = tmp_path / "README.md"
    text = readme.read_text()
    readme.write_text(text.replace("=32d", f"={edit}") if edit else text.replace(RETENTION_FLAG, "retention"))
    result = _retention_result(tmp_path)
    assert result.status == WARN
    assert ("20d is shorter than the 30d" in result.detail) if edit else ("states no" in result.detail)


def test_validate_reports_the_warning(tmp_path: Path) -> None:
    render_to(EXAMPLE, tmp_path)
    readme = tmp_path / "README.md"
    readme.write_text(readme.read_text().replace("=32d", "=20d"))
    report = validate(EXAMPLE, tmp_path)
    assert next(r for r in report.results if r.name.startswith("retention")).status == WARN
    assert "1 warning(s)" in report.table()


def test_up_starts_prometheus_with_that_retention(shared_stack) -> None:
    """The shared live stack is started as `holystack up` starts it (playground.start_stack)."""
    with urllib.request.urlopen(f"{shared_stack.prometheus.url}/api/v1/status/flags", timeout=10) as response:
        flags = json.load(response)["data"]
    assert flags["storage.tsdb.retention.time"] == "32d"
