"""OUT/kubernetes/ against real schemas, offline, and kustomize; the rule files for separate
rulers through promtool. Cases: every golden case whose spec has a kubernetes: section."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from holystack import load_stack, render_files
from holystack.durations import Duration
from holystack.errors import SpecError
from holystack.output import write_tree
from holystack.render.kubernetes import ALERTMANAGER_CONFIG_KEY, KUBERNETES_DIR, KUSTOMIZATION
from holystack.layout import AGENT_CONFIG, ALERTMANAGER_TEMPLATE, PROMETHEUS_CONFIG, PROMETHEUS_DIR
from holystack.render.prometheus import remote_series, rule_files
from holystack.render.rulers import (GROUP_PARAMS, MIMIR_DIR, THANOS_DIR, VMALERT, VMALERT_DIR, promtool_group,
                                     read_previous_evaluation)

from .conftest import CASES, Cases, copy_out
from .helpers import operator_model

K8S_CASES = sorted(p.name for p in CASES.iterdir()
                   if (p / "spec.yaml").is_file() and "kubernetes" in yaml.safe_load((p / "spec.yaml").read_text()))
KUBERNETES_VERSION = "1.30.0"
CORE_KINDS = {"ConfigMap", "Secret"}


class _KustomizeLoader(yaml.SafeLoader):
    """YAML 1.2 as kustomize writes it: a plain `=` (a matchType) is a string, not YAML 1.1's value tag."""


_KustomizeLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:value"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def _objects(case: str) -> dict[str, dict[str, Any]]:
    files = render_files(CASES / case / "spec.yaml")
    prefix = f"{KUBERNETES_DIR}/"
    return {path.removeprefix(prefix): yaml.safe_load(text) for path, text in files.items()
            if path.startswith(prefix) and not path.endswith(KUSTOMIZATION)}


def test_both_example_specs_have_a_kubernetes_case() -> None:
    assert {"holysheep-k8s", "acme-vi-k8s"} <= set(K8S_CASES)


@pytest.mark.parametrize("case", K8S_CASES)
def test_core_objects_validate_against_the_kubernetes_schema(case: str) -> None:
    core = {name: obj for name, obj in _objects(case).items() if obj["kind"] in CORE_KINDS}
    assert core, "no ConfigMap or Secret rendered"
    for name, obj in core.items():
        # strict: unknown fields are errors too. Raises ValidationError on any problem.
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("case", K8S_CASES)
def test_operator_objects_round_trip_through_the_crd_models(case: str) -> None:
    """The models ignore unknown fields: a misspelt or misplaced field vanishes from the dump."""
    objects = _objects(case)
    kinds = {obj["kind"] for obj in objects.values()}
    assert {"PrometheusRule", "Prometheus"} <= kinds and kinds & {"ServiceMonitor", "PodMonitor"}
    for name, obj in objects.items():
        if obj["kind"] in CORE_KINDS:
            continue
        model = operator_model(obj["kind"]).model_validate(obj)
        dumped = model.model_dump(by_alias=True, exclude_unset=True, mode="json")
        assert dumped == obj, f"{case}: {name} does not survive the {obj['kind']} model"


def test_a_misplaced_field_fails_the_round_trip() -> None:
    """The round trip can fail: a field the CRD does not have is dropped by the model."""
    obj = _objects("holysheep-k8s")["servicemonitor-holysheep-app.yaml"]
    obj["spec"]["endpoints"][0]["honor_labels"] = True  # the Prometheus spelling, not the CRD's
    model = operator_model("ServiceMonitor").model_validate(obj)
    dumped = model.model_dump(by_alias=True, exclude_unset=True, mode="json")
    assert dumped != obj


@pytest.mark.parametrize("case", K8S_CASES)
def test_prometheus_rules_hold_the_plain_rule_groups(case: str) -> None:
    stack = load_stack(CASES / case / "spec.yaml")
    objects = _objects(case)
    rules = [obj for obj in objects.values() if obj["kind"] == "PrometheusRule"]
    plain = [group for groups in rule_files(stack).values() for group in groups]
    shipped = [group for obj in rules for group in obj["spec"]["groups"]]
    kube = stack.scale_out.kubernetes
    for group in shipped:  # the AlertmanagerConfig's namespace matcher needs the label on alerts
        for rule in group["rules"]:
            if kube.alertmanager_kind == "AlertmanagerConfig" and "alert" in rule:
                assert rule["labels"].pop("namespace") == kube.namespace
    assert shipped == plain
    for obj in objects.values():
        assert obj["metadata"]["namespace"] == kube.namespace
        assert dict(kube.labels).items() <= obj["metadata"]["labels"].items()


@pytest.mark.parametrize("case", K8S_CASES)
def test_kustomize_builds_every_object(case: str, tmp_path: Path) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl is not installed; install the Debian package kubernetes-client (scripts/setup does)")
    out = tmp_path / "out"
    write_tree(render_files(CASES / case / "spec.yaml"), out)
    built = subprocess.run([kubectl, "kustomize", str(out / KUBERNETES_DIR)], capture_output=True, text=True,
                           timeout=120)
    assert built.returncode == 0, built.stderr
    documents = [d for d in yaml.load_all(built.stdout, Loader=_KustomizeLoader) if d]
    expected = _objects(case)
    assert sorted((d["kind"], d["metadata"]["name"]) for d in documents) == \
        sorted((o["kind"], o["metadata"]["name"]) for o in expected.values())
    namespace = load_stack(CASES / case / "spec.yaml").scale_out.kubernetes.namespace
    assert {d["metadata"]["namespace"] for d in documents} == {namespace}


@pytest.mark.parametrize("case", K8S_CASES)
def test_no_secret_value_is_inlined(case: str, tmp_path: Path, amtool: str) -> None:
    """Receivers read Secret keys; the alertmanager.yaml of the Secret form passes amtool and reads
    every credential from a mounted file."""
    stack = load_stack(CASES / case / "spec.yaml")
    kube = stack.scale_out.kubernetes
    for obj in _objects(case).values():
        if obj["kind"] == "AlertmanagerConfig":
            receivers = yaml.safe_dump(obj["spec"]["receivers"])
            assert kube.credentials_secret in receivers
        if obj["kind"] == "Secret":
            config_text = obj["stringData"][ALERTMANAGER_CONFIG_KEY]
            config = yaml.safe_load(config_text)
            assert ALERTMANAGER_TEMPLATE in obj["stringData"]
            files = [v for r in config["receivers"] for k, entries in r.items() if k.endswith("_configs")
                     for entry in entries for f, v in entry.items() if f.endswith("_file")]
            assert files and all(f.startswith(f"/etc/alertmanager/secrets/{kube.credentials_secret}/") for f in files)
            (tmp_path / "alertmanager.yaml").write_text(config_text)
            checked = subprocess.run([amtool, "check-config", str(tmp_path / "alertmanager.yaml")],
                                     capture_output=True, text=True, timeout=60)
            assert checked.returncode == 0, checked.stdout + checked.stderr


def _ruler_groups(case: str) -> list[tuple[str, dict[str, Any]]]:
    files = render_files(CASES / case / "spec.yaml")
    groups = []
    for path, text in sorted(files.items()):
        if path.split("/")[0] in (MIMIR_DIR, THANOS_DIR, VMALERT_DIR):
            document = yaml.safe_load(text)
            groups += [(path, group) for group in document["groups"]]
            if path.startswith(MIMIR_DIR):
                assert document["namespace"] == path.removeprefix(f"{MIMIR_DIR}/").removesuffix(".yaml")
    return groups


@pytest.mark.parametrize("case", K8S_CASES)
def test_every_ruler_group_passes_promtool(case: str, tmp_path: Path, promtool: str) -> None:
    groups = _ruler_groups(case)
    assert {path.split("/")[0] for path, _ in groups} >= {MIMIR_DIR, VMALERT_DIR}
    for index, (path, group) in enumerate(groups):
        one = tmp_path / f"{index}.yml"
        one.write_text(yaml.safe_dump({"groups": [promtool_group(group)]}))
        checked = subprocess.run([promtool, "check", "rules", str(one)], capture_output=True, text=True, timeout=60)
        assert checked.returncode == 0, f"{path} group {group['name']}: {checked.stdout}{checked.stderr}"


def test_vmalert_refuses_a_function_it_lacks_and_drops_keep_firing_for() -> None:
    stack = load_stack(CASES / "holysheep-k8s" / "spec.yaml")
    group = {"name": "g", "rules": [{"alert": "A", "expr": "histogram_count(rate(x[5m])) > 1",
                                     "keep_firing_for": "5m"}]}
    with pytest.raises(SpecError, match=r"rulers.vmalert: vmalert 1.79 has no histogram_count\(\)"):
        VMALERT.adapt(stack, "rulers.vmalert", [group])
    group["rules"][0]["expr"] = "sum(rate(x[5m])) > 1"
    (adapted,) = VMALERT.adapt(stack, "rulers.vmalert", [group])
    assert "keep_firing_for" not in adapted["rules"][0] and "keep_firing_for" in group["rules"][0]


def test_vmalert_reads_its_groups_earlier_recordings_from_the_previous_evaluation() -> None:
    """vmalert writes a result back after its rule: in a step and in a rule that adds to its own previous
    value, a read of what an earlier rule of the group records is half an interval back, every selector
    of it (label matchers and ranges kept, string literals untouched); their own series, other groups'
    and the rules that add nothing up (a ratio) are read as they are. Each evaluation is asked at its own
    time (nocache)."""
    step, total, month = "a:x:increase_step", "b:x:increase_step", "a:x:month_to_date"
    group = {"name": "g", "interval": "15s", "rules": [
        {"record": step, "expr": "sum(x)"},
        {"record": total, "expr": f'sum({step}{{k="}}{{"}}) + label_replace(y, "d", "{step}", "", "") + '
                                  f"sum_over_time({step}[1m]) + other:y:increase_step + {step}s:z"},
        {"record": month, "expr": f"last_over_time({month}[3h]) + {total} or {total}"},
        {"record": "a:x:ratio", "expr": f"{step} / {total}"},
        {"alert": "A", "expr": f"{month} > 1"}]}
    read_previous_evaluation(group, Duration.parse("15s"))
    assert [rule["expr"] for rule in group["rules"]] == [
        "sum(x)",
        f'sum({step}{{k="}}{{"}} offset 7s500ms) + label_replace(y, "d", "{step}", "", "") + '
        f"sum_over_time({step}[1m] offset 7s500ms) + other:y:increase_step + {step}s:z",
        f"last_over_time({month}[3h]) + {total} offset 7s500ms or {total} offset 7s500ms",
        f"{step} / {total}",
        f"{month} > 1"]
    stack = load_stack(CASES / "holysheep-k8s" / "spec.yaml")
    (adapted,) = VMALERT.adapt(stack, "rulers.vmalert", [{"name": "g", "interval": "1s", "rules": [
        {"record": step, "expr": "sum(x)"}, {"record": total, "expr": f"sum({step})"}]}])
    assert list(adapted) == ["name", "interval", GROUP_PARAMS, "rules"] and adapted[GROUP_PARAMS] == {"nocache": ["1"]}
    assert adapted["rules"][1]["expr"] == f"sum({step} offset 500ms)"
    with pytest.raises(ValueError, match="already read with an offset"):
        read_previous_evaluation({"rules": [{"record": step, "expr": "sum(x)"},
                                            {"record": total, "expr": f"{step} OFFSET 1m"}]}, Duration.parse("15s"))


@pytest.mark.parametrize("case", K8S_CASES)
def test_remote_write_configs_pass_promtool(case: str, tmp_path: Path, promtool: str) -> None:
    """prometheus.yml with remote_write, and the agent-mode config, load in the real promtool; only
    the contract, the recordings and up are sent; credentials are files."""
    out = tmp_path / "out"
    write_tree(render_files(CASES / case / "spec.yaml"), out)
    folder = out / PROMETHEUS_DIR
    for args in (["check", "config", PROMETHEUS_CONFIG], ["check", "config", "--agent", AGENT_CONFIG]):
        checked = subprocess.run([promtool, *args], cwd=folder, capture_output=True, text=True, timeout=120)
        assert checked.returncode == 0, checked.stdout + checked.stderr
    stack = load_stack(CASES / case / "spec.yaml")
    for path in (PROMETHEUS_CONFIG, AGENT_CONFIG):
        config = yaml.safe_load((folder / path).read_text())
        (remote,) = config["remote_write"]
        kept = remote["write_relabel_configs"][0]["regex"].split("|")
        assert set(kept) == set(remote_series(stack)) and "up" in kept
        assert stack.contract.requests.name in kept
        assert "password" not in remote.get("basic_auth", {}) and "credentials" not in remote.get("authorization", {})
    agent = yaml.safe_load((folder / AGENT_CONFIG).read_text())
    assert "rule_files" not in agent and "alerting" not in agent


def test_every_receiver_kind_round_trips_as_an_alertmanager_config() -> None:
    """acme-vi's email, opsgenie and webhook receivers (holysheep-k8s has pagerduty, slack and
    webhook) as an AlertmanagerConfig: the CRD model keeps every field."""
    from holystack.model import build_model
    from holystack.render.kubernetes import alertmanager_objects
    from holystack.spec import check_spec_text

    data = yaml.safe_load((CASES / "acme-vi-k8s" / "spec.yaml").read_text())
    data["kubernetes"]["alertmanager"] = "AlertmanagerConfig"
    stack = build_model(check_spec_text(yaml.safe_dump(data)), "acme.yaml")
    objects = alertmanager_objects(stack, stack.scale_out.kubernetes)
    (config,) = [o for o in objects.values() if o["kind"] == "AlertmanagerConfig"]
    kinds = {key for receiver in config["spec"]["receivers"] for key in receiver if key.endswith("Configs")}
    assert kinds == {"emailConfigs", "opsgenieConfigs", "webhookConfigs"}
    model = operator_model("AlertmanagerConfig").model_validate(config)
    assert model.model_dump(by_alias=True, exclude_unset=True, mode="json") == config
    for obj in objects.values():
        if obj["kind"] == "ConfigMap":
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_validate_runs_promtool_on_the_scale_out_outputs(tmp_path: Path, promtool: str, cases: Cases) -> None:
    """holystack validate checks the agent config and every ruler's files, and fails on a broken one."""
    from holystack.checks.result import FAIL, PASS
    from holystack.validate import validate

    case = "holysheep-k8s"
    rows = {r.name: r.status for r in cases.validated(case).results}  # validate --strict, once per session
    scale_out = {"promtool check config --agent", "promtool check rules (vmalert)", "promtool check rules (thanos)",
                 "promtool check rules (mimir)"}
    assert {rows[name] for name in scale_out} == {PASS}
    out = copy_out(cases.rendered(case), tmp_path / "out")
    mimir = out / MIMIR_DIR / "holysheep.yaml"
    mimir.write_text(mimir.read_text().replace("expr: sum by", "expr: sum by by", 1))
    rows = {r.name: r.status for r in validate(CASES / case / "spec.yaml", out, strict=True).results}
    assert rows["promtool check rules (mimir)"] == FAIL


@pytest.mark.parametrize("case", K8S_CASES)
def test_every_object_fits_kubectl_apply(case: str) -> None:
    """Client-side `kubectl apply` copies each object into an annotation limited to 256 KiB."""
    files = render_files(CASES / case / "spec.yaml")
    sizes = {path: len(text.encode()) for path, text in files.items() if path.startswith(f"{KUBERNETES_DIR}/")}
    assert max(sizes.values()) < 256 * 1024, sizes
