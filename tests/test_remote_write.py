"""remote_write as Prometheus defines it: what the spec accepts at its bounds loads in the real
promtool, and each refusal that mirrors one of Prometheus' own is one promtool makes too."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from holystack import render_to
from holystack.layout import AGENT_CONFIG, PROMETHEUS_CONFIG, PROMETHEUS_DIR

from .conftest import EXAMPLE, ROOT

BAD = ROOT / "tests" / "bad_specs"
AT_THE_BOUNDS = """
remote_write:
  - name: mimir
    url: https://mimir.example.com/api/v1/push?tenant=a%20b
    headers: {X-Scope-OrgID: holysheep, X-Custom_Header.1: "v"}
    queue_config: {capacity: 9223372036854775807, max_shards: 9223372036854775807, min_shards: 1,
                   max_samples_per_send: 9223372036854775807, batch_send_deadline: 30d, min_backoff: 1ms,
                   max_backoff: 30d}
  - name: backup
    url: https://xn--mnchen-3ya.example.com/api/v1/push
"""
# Bad specs whose remote_write Prometheus itself refuses (the rest are holystack's stricter rules:
# inline credentials, a space, header names that are no HTTP token, durations beyond 30d).
PROMTOOL_REFUSES = ("remote-write-header-content-type", "remote-write-header-user-agent",
                    "remote-write-capacity-2-63", "remote-write-capacity-1e20", "remote-write-url-bad-escape",
                    "remote-write-duplicate-name", "remote-write-deadline-300y")


def _check(promtool: str, folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool, "check", "config", *args], cwd=folder, capture_output=True, text=True, timeout=120)


def test_remote_write_at_its_bounds_loads_in_promtool(tmp_path: Path, promtool: str) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(EXAMPLE.read_text() + AT_THE_BOUNDS)
    out = tmp_path / "out"
    render_to(spec, out)
    folder = out / PROMETHEUS_DIR
    for args in ([PROMETHEUS_CONFIG], ["--agent", AGENT_CONFIG]):
        checked = _check(promtool, folder, *args)
        assert checked.returncode == 0, checked.stdout + checked.stderr
    remote = yaml.safe_load((folder / PROMETHEUS_CONFIG).read_text())["remote_write"]
    assert remote[0]["queue_config"]["capacity"] == 2**63 - 1


@pytest.mark.parametrize("name", PROMTOOL_REFUSES)
def test_what_the_spec_refuses_promtool_refuses_too(name: str, tmp_path: Path, promtool: str) -> None:
    """The bad spec's remote_write, written as it stands into a prometheus.yml: promtool fails it."""
    remote = yaml.safe_load((BAD / f"{name}.yaml").read_text())["remote_write"]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump({"remote_write": remote}))
    checked = _check(promtool, tmp_path, "prometheus.yml")
    assert checked.returncode != 0, checked.stdout
