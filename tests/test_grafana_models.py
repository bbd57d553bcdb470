"""Every dashboard holystack writes goes through Grafana's own models (grafana-foundation-sdk,
a dev dependency: these tests fail, never skip, without it) and comes back whole."""
from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import yaml

from holystack.checks.grafana_models import (CHECK_NAME, SDK_PIN, differences, grafana_models_check,
                                             round_trip_findings, sdk_round_trip)
from holystack.checks.result import FAIL, PASS, SKIP
from holystack.render.grafana_schema import SCHEMA_VERSION
from holystack.layout import DASHBOARDS_DIR
from holystack.validate import Report

from .conftest import CASES, EXAMPLE, ROOT
from .helpers import rendered_files

SPECS = {"reference": EXAMPLE, **{p.name: p / "spec.yaml" for p in sorted(CASES.iterdir()) if (p / "spec.yaml").is_file()}}


def _rendered() -> dict[str, dict[str, Any]]:
    """Every dashboard of every spec as rendered now, and the same JSON inside the Kubernetes ConfigMaps."""
    found = {}
    for label, spec in SPECS.items():
        for path, text in rendered_files(spec).items():
            if path.startswith(f"{DASHBOARDS_DIR}/"):
                found[f"{label}: {path}"] = json.loads(text)
            elif path.startswith("kubernetes/configmap-") and path.endswith("-dashboard.yaml"):
                for name, data in yaml.safe_load(text)["data"].items():
                    found[f"{label}: {path} {name}"] = json.loads(data)
    return found


def _committed() -> dict[str, dict[str, Any]]:
    """The goldens of tests/cases and the committed example output, as they are on disk."""
    files = [*sorted(CASES.glob(f"*/expected/{DASHBOARDS_DIR}/*.json")), *sorted((ROOT / "out" / DASHBOARDS_DIR).glob("*.json"))]
    return {str(p.relative_to(ROOT)): json.loads(p.read_text("utf-8")) for p in files}


RENDERED = _rendered()
COMMITTED = _committed()


@pytest.fixture(scope="module")
def round_trip() -> Any:
    found = sdk_round_trip()
    if found is None:
        pytest.fail(f"grafana-foundation-sdk is not installed; pip install '{SDK_PIN}' (the dev extra has it)")
    return found


@pytest.mark.parametrize("name", sorted(RENDERED))
def test_every_rendered_dashboard_comes_back_whole(name: str, round_trip: Any) -> None:
    assert round_trip_findings(name, RENDERED[name], round_trip) == []
    assert RENDERED[name]["schemaVersion"] == SCHEMA_VERSION


@pytest.mark.parametrize("name", sorted(COMMITTED))
def test_every_committed_dashboard_comes_back_whole(name: str, round_trip: Any) -> None:
    assert round_trip_findings(name, COMMITTED[name], round_trip) == []
    assert COMMITTED[name]["schemaVersion"] == SCHEMA_VERSION


def test_the_dashboards_cover_every_section_and_panel_type() -> None:
    """The specs above render each optional part (budget, fallbacks, SLO dashboard, k8s packing)
    and every panel type holystack writes, so the round trip above sees them all."""
    types = {p["type"] for d in RENDERED.values() for p in d["panels"]}
    assert types == {"row", "stat", "timeseries", "bargauge", "table"}
    names = " ".join(RENDERED)
    assert all(f"-{slug}.json" in names for slug in ("overview", "cost", "slo")) and "configmap-" in names
    assert len(SPECS) >= 8 and len(COMMITTED) >= 20


def test_a_key_the_models_do_not_know_is_lost_and_found(round_trip: Any) -> None:
    dashboard = json.loads(json.dumps(RENDERED["reference: grafana/dashboards/holysheep-overview.json"]))
    dashboard["rows"] = []
    dashboard["panels"][1]["span"] = 6
    dashboard["panels"][1]["targets"][0]["step"] = 10
    assert sorted(round_trip_findings("d.json", dashboard, round_trip)) == [
        "d.json: /panels[1]/span is lost", "d.json: /panels[1]/targets[0]/step is lost", "d.json: /rows is lost"]


def test_a_null_the_schema_has_not_is_refused_or_lost(round_trip: Any) -> None:
    dashboard = json.loads(json.dumps(RENDERED["reference: grafana/dashboards/holysheep-overview.json"]))
    dashboard["panels"][1]["description"] = None
    assert round_trip_findings("d.json", dashboard, round_trip) == ["d.json: /panels[1]/description is lost"]
    dashboard["panels"][0]["datasource"] = None  # what grafanalib writes on a row panel
    [finding] = round_trip_findings("d.json", dashboard, round_trip)
    assert finding.startswith("d.json: Dashboard.from_json refuses it (TypeError: ")


def test_grafanalibs_own_json_does_not_pass(round_trip: Any) -> None:
    """Without the clean pass (grafana_schema), Grafana's models refuse grafanalib's JSON."""
    from grafanalib._gen import DashboardEncoder

    from holystack.pipeline import load_stack
    from holystack.render.grafana import dashboards

    raw = json.loads(json.dumps(dashboards(load_stack(EXAMPLE))["overview"].to_json_data(), cls=DashboardEncoder))
    assert "rows" in raw and raw["panels"][0]["datasource"] is None
    assert round_trip_findings("raw.json", raw, round_trip) != []


def test_a_changed_value_and_a_shorter_list_are_differences() -> None:
    assert differences({"a": {"b": 1}}, {"a": {"b": 1.5}}) == ["/a/b changed from 1 to 1.5"]
    assert differences({"a": [1, 2]}, {"a": [1]}) == ["/a changed from [1, 2] to [1]"]
    assert differences({"a": True}, {"a": 1}) == ["/a changed from true to 1"]
    assert differences({"a": 1}, {"a": 1, "added": 0}) == []


def test_more_than_three_findings_are_counted(round_trip: Any) -> None:
    dashboard = json.loads(json.dumps(RENDERED["reference: grafana/dashboards/holysheep-overview.json"]))
    for panel in dashboard["panels"][:5]:
        panel["span"] = 6
    findings = round_trip_findings("d.json", dashboard, round_trip)
    assert len(findings) == 4 and findings[-1] == "d.json: ... 2 more"


def test_the_check_passes_names_the_sdk_and_fails_on_a_finding(round_trip: Any) -> None:
    dashboards = {n.rsplit("/", 1)[-1]: d for n, d in RENDERED.items() if n.startswith("reference: grafana/")}
    result = grafana_models_check(dashboards)
    assert (result.name, result.status, result.detail) == (
        CHECK_NAME, PASS, "3 dashboard(s) unchanged through grafana-foundation-sdk v0.0.21")
    broken = {**dashboards, "x.json": {**dashboards["holysheep-slo.json"], "style": "dark"}}
    failed = grafana_models_check(broken)
    assert failed.status == FAIL and failed.findings == ("x.json: /style is lost",)


def test_without_the_sdk_the_check_skips_and_strict_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in [m for m in sys.modules if m.startswith("grafana_foundation_sdk")] + ["grafana_foundation_sdk"]:
        monkeypatch.setitem(sys.modules, module, None)  # an import of it raises ImportError
    result = grafana_models_check({"a.json": {}})
    assert (result.status, result.detail) == (SKIP, f"grafana-foundation-sdk is not installed (pip install '{SDK_PIN}')")
    assert not Report([result], strict=False).failed and Report([result], strict=True).failed


def test_the_pin_is_the_dev_extras(round_trip: Any) -> None:
    import tomllib

    dev = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["optional-dependencies"]["dev"]
    assert SDK_PIN in dev
    # The package's metadata spells its version v0.0.21.
    assert SDK_PIN == f"grafana-foundation-sdk=={metadata.version('grafana-foundation-sdk').removeprefix('v')}"


def test_validate_runs_the_check_and_skips_it_without_the_sdk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from holystack.cli import app

    runner, out = CliRunner(), tmp_path / "out"
    runner.invoke(app, ["render", str(EXAMPLE), "-o", str(out)])
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # promtool and amtool skipped: fast

    def status() -> tuple[str, str]:
        report = json.loads(runner.invoke(app, ["validate", str(EXAMPLE), "-o", str(out), "--format", "json"]).stdout)
        [check] = [c for c in report["checks"] if c["name"] == CHECK_NAME]
        return check["status"], check["detail"]

    assert status() == (PASS, "3 dashboard(s) unchanged through grafana-foundation-sdk v0.0.21")
    for module in [m for m in sys.modules if m.startswith("grafana_foundation_sdk")] + ["grafana_foundation_sdk"]:
        monkeypatch.setitem(sys.modules, module, None)
    assert status() == (SKIP, f"grafana-foundation-sdk is not installed (pip install '{SDK_PIN}')")


def test_the_check_registers_only_the_plugins_its_dashboards_use_and_judges_alike() -> None:
    """validate registers the SDK plugins of the panel and datasource types the dashboards name
    (grafana_models._register_plugins), not all of them: each dashboard comes back through the SDK
    exactly as with every plugin registered, and the models of unused plugins are not loaded."""
    dashboards = sorted((ROOT / "out" / DASHBOARDS_DIR).glob("*.json"))
    program = ("import json, sys; from pathlib import Path; from holystack.checks.grafana_models import sdk_round_trip; "
               "ds = [json.loads(Path(p).read_text()) for p in sys.argv[2:]]; "
               "rt = sdk_round_trip(ds if sys.argv[1] == 'used' else None); "
               "print(json.dumps([rt(d) for d in ds])); "
               "print(sorted(m for m in sys.modules if m.startswith('grafana_foundation_sdk.models.')))")
    runs = {}
    for registered in ("used", "all"):
        done = subprocess.run([sys.executable, "-c", program, registered, *map(str, dashboards)], capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        runs[registered] = done.stdout.splitlines()
    assert runs["used"][0] == runs["all"][0]  # the same dashboards back, typed alike
    used, every = (eval(runs[k][1]) for k in ("used", "all"))  # noqa: S307 - our own print of a list
    assert "grafana_foundation_sdk.models.timeseries" in used and "grafana_foundation_sdk.models.prometheus" in used
    assert "grafana_foundation_sdk.models.elasticsearch" in every and "grafana_foundation_sdk.models.elasticsearch" not in used
