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
from holystack.model import retention_needed
from holystack.pipeline import load_stack
from holystack.render.prometheus import RETENTION_FLAG
from holystack.validate import validate

from .conftest import EXAMPLE, Cases, copy_out



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
    assert ("20d is shorter than the 32d" in result.detail) if edit else ("states no" in result.detail)


def test_validate_reports_the_warning(tmp_path: Path, cases: Cases, monkeypatch: pytest.MonkeyPatch) -> None:
    out = copy_out(cases.rendered("holysheep"), tmp_path / "out")  # the reference spec's, shared
    readme = out / "README.md"
    readme.write_text(readme.read_text().replace("=32d", "=20d"))
    # The warnings are holystack's own checks: without promtool and amtool on PATH their checks skip
    # and the report comes without their runs.
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    report = validate(EXAMPLE, out)
    assert next(r for r in report.results if r.name.startswith("retention")).status == WARN
    # The other warning: the reference spec's typed HolySheep prices differ from genai-prices'.
    assert "2 warning(s)" in report.table()


def test_up_starts_prometheus_with_that_retention(shared_stack) -> None:
    """The shared live stack is started as `holystack up` starts it (playground.start_stack)."""
    with urllib.request.urlopen(f"{shared_stack.prometheus.url}/api/v1/status/flags", timeout=10) as response:
        flags = json.load(response)["data"]
    assert flags["storage.tsdb.retention.time"] == "32d"


def test_every_output_states_the_one_retention(tmp_path: Path) -> None:
    """OUT/README.md's flag, the Kubernetes Prometheus object and the check read model.retention_needed."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(EXAMPLE.read_text() + "\nkubernetes:\n  namespace: llm\n  prometheus: {}\n")
    out = tmp_path / "out"
    render_to(spec, out)
    needed = str(retention_needed(load_stack(spec).slo.period))
    assert needed == "32d"
    assert f"{RETENTION_FLAG}={needed}" in (out / "README.md").read_text()
    managed = yaml.safe_load((out / "kubernetes" / "prometheus-holysheep.yaml").read_text())
    assert managed["spec"]["retention"] == needed
    shorter = spec.read_text().replace("prometheus: {}", "prometheus: {retention: 31d}")
    spec.write_text(shorter)
    with pytest.raises(Exception, match="31d is shorter than the 32d"):
        load_stack(spec)
