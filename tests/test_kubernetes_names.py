"""OUT/kubernetes/ as the API server and Go's YAML read it: scalars Go would re-type are quoted,
long names stay distinct, every name and label holystack derives passes kubenames.py; and the
Grafana provisioning files escape '$'."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from holystack import load_stack, render_files
from holystack import kubenames
from holystack.output import to_yaml, write_tree
from holystack.render.kubernetes import KUBERNETES_DIR

from .conftest import EXAMPLE
from .test_kubernetes import _KustomizeLoader


def _kubectl() -> str:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl is not installed; install the Debian package kubernetes-client (scripts/setup does)")
    return kubectl


def _spec(tmp_path: Path, extra: str, text: str | None = None) -> Path:
    spec = tmp_path / "spec.yaml"
    spec.write_text((text or EXAMPLE.read_text()) + extra)
    return spec


@pytest.mark.parametrize("namespace", ["1e3", "0o17", "y", "n", "0x1f", "123", "on", "1-2", "true"])
def test_a_namespace_go_would_retype_is_quoted_and_kustomize_keeps_it(namespace: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_tree(render_files(_spec(tmp_path, f"\nkubernetes:\n  namespace: \"{namespace}\"\n  prometheus: {{}}\n")), out)
    built = subprocess.run([_kubectl(), "kustomize", str(out / KUBERNETES_DIR)], capture_output=True, text=True,
                           timeout=120)
    assert built.returncode == 0, built.stderr
    documents = [d for d in yaml.load_all(built.stdout, Loader=_KustomizeLoader) if d]
    assert documents and {d["metadata"]["namespace"] for d in documents} == {namespace}


@pytest.mark.parametrize("value", ["1e3", "1E3", "0o17", "0b101", "y", "N", "~", "Off", "1_000", ".5", "-.inf",
                                   "190:20:30", "2026-12-01"])
def test_every_scalar_go_could_retype_is_written_quoted(value: str) -> None:
    line = to_yaml({"k": value}, "s.yaml").splitlines()[1]
    assert line == f'k: "{value}"'


def test_plain_strings_stay_plain() -> None:
    assert to_yaml({"k": ["holysheep", "v1.2.3", "1.2.3", "a1e3", "yes-no"]}, "s.yaml").splitlines()[2:] == [
        "  - holysheep", "  - v1.2.3", "  - 1.2.3", "  - a1e3", "  - yes-no"]


def test_long_job_names_give_distinct_monitors(tmp_path: Path) -> None:
    """Two job names that share their first 63 characters: two monitors, each a valid name, the same
    on every render."""
    long = "holysheep-" + "a" * 60
    jobs = (f"    - name: {long}-one\n      targets: [\"a:1\"]\n    - name: {long}-two\n      targets: [\"b:1\"]\n")
    text = EXAMPLE.read_text().replace("      interval: 10s\n", "      interval: 10s\n" + jobs, 1)
    spec = _spec(tmp_path, "\nkubernetes:\n  namespace: llm\n  selectors:\n"
                           f"    {long}-one: {{app: one}}\n    {long}-two: {{app: two}}\n", text)
    files = render_files(spec)
    monitors = sorted(p for p in files if p.startswith(f"{KUBERNETES_DIR}/servicemonitor-"))
    assert len(monitors) == 3
    names = [yaml.safe_load(files[p])["metadata"]["name"] for p in monitors]
    assert len(set(names)) == 3 and all(kubenames.dns_label_problem(n) is None for n in names)
    assert render_files(spec) == files
    stack = load_stack(spec)
    assert len({kubenames.secret_key(n) for n in names}) == 3 and stack.jobs[1].name.endswith("-one")


def test_every_name_label_and_key_written_passes_the_api_server_rules() -> None:
    from .conftest import CASES

    for case in ("holysheep-k8s", "acme-vi-k8s"):
        for path, text in render_files(CASES / case / "spec.yaml").items():
            if not path.startswith(f"{KUBERNETES_DIR}/") or path.endswith("kustomization.yaml"):
                continue
            meta = yaml.safe_load(text)["metadata"]
            assert kubenames.dns_subdomain_problem(meta["name"]) is None
            assert kubenames.dns_label_problem(meta["namespace"]) is None
            for key, value in meta.get("labels", {}).items():
                assert kubenames.qualified_name_problem(key) is None and kubenames.label_value_problem(value) is None
            for key in meta.get("annotations", {}):
                assert kubenames.qualified_name_problem(key) is None
            for key in {**yaml.safe_load(text).get("data", {}), **yaml.safe_load(text).get("stringData", {})}:
                assert kubenames.secret_key_problem(key) is None


def test_grafana_provisioning_escapes_dollar(tmp_path: Path) -> None:
    """Grafana expands $VAR and ${VAR} in provisioning files; '$$' is its escape for a literal '$'."""
    text = EXAMPLE.read_text().replace("datasource: Prometheus", "datasource: Prom $HOME ${USER}") \
        .replace("folder: HolySheep", "folder: Team $A")
    files = render_files(_spec(tmp_path, "", text))
    provisioning = {p: yaml.safe_load(t) for p, t in files.items() if "/provisioning/" in p}
    (datasources,) = [d for p, d in provisioning.items() if "/datasources/" in p]
    (providers,) = [d for p, d in provisioning.items() if "/dashboards/" in p]
    assert datasources["datasources"][0]["name"] == "Prom $$HOME $${USER}"
    assert providers["providers"][0]["folder"] == "Team $$A"
    # What Grafana reads after its expansion ($$ -> $) is the spec's name; the dashboards bind the data
    # source by its provisioned uid, so the name (and its dollars) never reaches them.
    assert re.sub(r"\$\$", "$", datasources["datasources"][0]["name"]) == "Prom $HOME ${USER}"
    dashboard = next(t for p, t in files.items() if p.endswith(".json"))
    assert f'"value": "{datasources["datasources"][0]["uid"]}"' in dashboard and "$HOME" not in dashboard
