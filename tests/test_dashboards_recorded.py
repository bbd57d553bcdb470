"""Every dashboard query reads recorded series, with no exception."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from holystack import render_to
from holystack.checks import promql_ast as ast
from holystack.checks.dashboards_lint import substitute, targets
from holystack.contract import Contract

from .conftest import CASES



@pytest.mark.parametrize("spec", sorted(CASES.glob("*/spec.yaml")), ids=lambda p: p.parent.name)
def test_dashboards_read_only_recordings(spec: Path, tmp_path: Path) -> None:
    render_to(spec, tmp_path)
    raw_found = []
    for path in sorted((tmp_path / "grafana" / "dashboards").glob("*.json")):
        dashboard = json.loads(path.read_text())
        prefix = dashboard["templating"]["list"][1]["query"].split(":")[1].rsplit("_requests", 1)[0]
        contract = Contract(prefix)
        assert contract.series_names()  # the prefix was read
        for title, target in targets(dashboard):
            for name in ast.selector_names(ast.parse(substitute(target["expr"]))):
                if ":" not in name:
                    raw_found.append(f"{path.name}: {title}: {name}")
        for variable in dashboard["templating"]["list"]:
            if variable.get("type") == "query":
                assert ":" in variable["query"], variable["query"]
    assert raw_found == []
