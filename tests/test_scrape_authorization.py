"""scrape.jobs[].authorization: the Authorization header of a scrape (LiteLLM's /metrics/ asks for
its master key), always from a file, in prometheus.yml and in the Kubernetes monitors. The bad
specs (inline credentials, Basic, no file, two files of one name) are in tests/bad_specs/."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from holystack import render_files
from holystack.pipeline import render_stack
from holystack.checks.result import FAIL, PASS
from holystack.checks.tools import absent_credentials, check_config
from holystack.model import build_model, scrape_secret
from holystack.output import write_tree
from holystack.render.kubernetes import KUBERNETES_DIR, monitors
from holystack.layout import PROMETHEUS_CONFIG, PROMETHEUS_DIR
from holystack.render.prometheus import prometheus_config
from holystack.spec import check_spec_text

from .conftest import EXAMPLE
from .helpers import operator_model

KEY_FILE = "/etc/prometheus/litellm/master-key"


def _spec(authorization: dict[str, Any], kubernetes: dict[str, Any] | None = None) -> dict[str, Any]:
    data = yaml.safe_load(EXAMPLE.read_text("utf-8"))
    data["scrape"]["jobs"][0].update(metrics_path="/metrics/", authorization=authorization)
    if kubernetes is not None:
        data["kubernetes"] = kubernetes
    return data


def _stack(data: dict[str, Any]) -> Any:
    return build_model(check_spec_text(yaml.safe_dump(data)), "holysheep.yaml")


def test_prometheus_yml_reads_the_credentials_from_the_file() -> None:
    (job,) = [j for j in prometheus_config(_stack(_spec({"credentials_file": KEY_FILE})))["scrape_configs"]
              if j["job_name"] == "holysheep-app"]
    assert job["authorization"] == {"type": "Bearer", "credentials_file": KEY_FILE}
    (other,) = [j for j in prometheus_config(_stack(_spec({"type": "Token", "credentials_file": KEY_FILE})))[
        "scrape_configs"] if j["job_name"] == "holysheep-app"]
    assert other["authorization"]["type"] == "Token"


def test_a_job_without_authorization_sends_none() -> None:
    data = yaml.safe_load(EXAMPLE.read_text("utf-8"))
    assert all("authorization" not in job for job in prometheus_config(_stack(data))["scrape_configs"])


def test_promtool_checks_the_config_with_the_file_and_syntax_only_without(tmp_path: Path, promtool: str) -> None:
    """promtool refuses a credentials file it cannot stat; validate's config check (check_config)
    checks the syntax only then, and says which file it did not find. With the file present it is
    the full check, which fails on a missing file."""
    key = tmp_path / "master-key"
    key.write_text("sk-holystack-test\n")
    for file, syntax_only in ((str(key), False), (KEY_FILE, True)):
        stack = _stack(_spec({"credentials_file": file}))
        out = tmp_path / f"out-{syntax_only}"
        write_tree(render_stack(stack), out)
        assert f"credentials_file: {file}" in (out / PROMETHEUS_DIR / PROMETHEUS_CONFIG).read_text()
        absent = absent_credentials(stack, out)
        assert absent == ((KEY_FILE,) if syntax_only else ())
        row = check_config("promtool check config", ["check", "config"], PROMETHEUS_CONFIG, out / PROMETHEUS_DIR, absent)
        assert row.status == PASS, row
        assert ("--syntax-only" in row.detail) == syntax_only and (KEY_FILE in row.detail) == syntax_only
    refused = check_config("promtool check config", ["check", "config"], PROMETHEUS_CONFIG, out / PROMETHEUS_DIR, ())
    assert refused.status == FAIL and any(KEY_FILE in line for line in refused.findings)


@pytest.mark.parametrize(("kind", "key"), [("ServiceMonitor", "endpoints"), ("PodMonitor", "podMetricsEndpoints")])
def test_monitors_read_the_credentials_from_a_secret(kind: str, key: str) -> None:
    stack = _stack(_spec({"credentials_file": KEY_FILE}, {"namespace": "llm", "monitor": kind}))
    objects = monitors(stack, stack.scale_out.kubernetes)
    (monitor,) = [o for o in objects.values() if o["metadata"]["name"] == "holysheep-app"]
    (endpoint,) = monitor["spec"][key]
    assert endpoint["authorization"] == {"type": "Bearer",
                                         "credentials": {"name": scrape_secret("holysheep"), "key": "master-key"}}
    assert endpoint["path"] == "/metrics/"
    model = operator_model(kind).model_validate(monitor)
    assert model.model_dump(by_alias=True, exclude_unset=True, mode="json") == monitor


def test_no_credential_is_written_anywhere(tmp_path: Path) -> None:
    """Only the file's path and the Secret's key reach OUT, never a credential (there is none in the
    spec to write: inline credentials are refused)."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(_spec({"credentials_file": KEY_FILE}, {"namespace": "llm"})))
    files = render_files(spec)
    monitors_text = [text for path, text in files.items() if path.startswith(f"{KUBERNETES_DIR}/servicemonitor-")]
    assert monitors_text and all("credentialsFile" not in text and KEY_FILE not in text for text in monitors_text)
    assert all("credentials:" not in text or "key: master-key" in text for text in monitors_text)
