"""OUT/kubernetes/: the stack as prometheus-operator objects (kube-prometheus-stack), with a
kustomization.yaml, so that `kubectl apply -k OUT/kubernetes` deploys it.

Every object is built from what the plain renderers produce (rule_files, alertmanager_config,
render_grafana): the rules, routes and dashboards are the same, only packaged differently."""
from __future__ import annotations

import copy
import posixpath
from typing import Any

from .. import contract as c
from ..matchers import parse_matcher
from ..kubenames import REMOTE_WRITE_USERNAME_KEY, SECRET_FILE_FIELDS, secret_key
from ..model import Kubernetes, Labels, Stack, k8s_name, monitor_name, remote_write_secret, scrape_secret
from ..output import Files, to_yaml
from .alertmanager import alertmanager_config, render_alertmanager
from .grafana import render_grafana
from ..layout import ALERTMANAGER_TEMPLATE, DASHBOARDS_DIR
from .prometheus import DEFAULT_SCRAPE_TIMEOUT, remote_write_configs, rule_files

KUBERNETES_DIR = "kubernetes"
KUSTOMIZATION = "kustomization.yaml"
MONITORING_V1 = "monitoring.coreos.com/v1"
MONITORING_V1ALPHA1 = "monitoring.coreos.com/v1alpha1"
# prometheus-operator mounts Alertmanager.spec.secrets here, and the config Secret's other keys
# (the templates) beside alertmanager.yaml; kube-prometheus-stack's default config reads *.tmpl there.
ALERTMANAGER_SECRETS_ROOT = "/etc/alertmanager/secrets"
ALERTMANAGER_CONFIG_ROOT = "/etc/alertmanager/config"
ALERTMANAGER_CONFIG_KEY = "alertmanager.yaml"
# The web port's name on the Alertmanager Service prometheus-operator creates.
ALERTMANAGER_PORT_NAME = "http-web"
# The target label prometheus-operator gives every ServiceMonitor and PodMonitor target: the port
# name. It is the contract's own label name, so it is dropped before the scrape (monitor_relabelings).
OPERATOR_PORT_LABEL = c.ENDPOINT
JOB_LABEL = "job"


def _metadata(stack: Stack, kube: Kubernetes, name: str, labels: Labels = (),
              annotations: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": kube.namespace,
                            "labels": {**dict(kube.labels), **dict(labels)}}
    if annotations:
        meta["annotations"] = annotations
    return meta


def _object(api: str, kind: str, metadata: dict[str, Any], **body: Any) -> dict[str, Any]:
    return {"apiVersion": api, "kind": kind, "metadata": metadata, **body}


# --- rules -------------------------------------------------------------------------------------

def _rule_groups(stack: Stack, groups: list[dict[str, Any]], kube: Kubernetes) -> list[dict[str, Any]]:
    """The plain rule groups; with an AlertmanagerConfig, every alert also carries the namespace
    label, which the operator's AlertmanagerConfig routes match on (matcherStrategy OnNamespace)."""
    if kube.alertmanager_kind != "AlertmanagerConfig":
        return groups
    groups = copy.deepcopy(groups)
    for group in groups:
        for rule in group["rules"]:
            if "alert" in rule:
                rule["labels"] = {**rule.get("labels", {}), "namespace": kube.namespace}
    return groups


def prometheus_rules(stack: Stack, kube: Kubernetes) -> dict[str, dict[str, Any]]:
    """One PrometheusRule per plain rule file, holding the same groups."""
    objects = {}
    for file_name, groups in rule_files(stack).items():
        name = k8s_name(posixpath.splitext(file_name)[0])
        objects[f"prometheusrule-{name}.yaml"] = _object(
            MONITORING_V1, "PrometheusRule", _metadata(stack, kube, name),
            spec={"groups": _rule_groups(stack, groups, kube)})
    return objects


# --- scraping ----------------------------------------------------------------------------------

def monitor_relabelings(job_name: str) -> list[dict[str, Any]]:
    """Relabelings that make an operator-discovered target look like the plain job: the spec's job
    name, and no `endpoint` target label. prometheus-operator sets endpoint=<port name> on every
    target; left there, it wins over the contract's endpoint label, which Prometheus then renames
    to exported_endpoint, and every rule, alert and panel silently stops matching."""
    return [{"action": "replace", "targetLabel": JOB_LABEL, "replacement": job_name},
            {"action": "labeldrop", "regex": OPERATOR_PORT_LABEL}]


def monitors(stack: Stack, kube: Kubernetes) -> dict[str, dict[str, Any]]:
    """A ServiceMonitor or PodMonitor per scrape job: its interval, path, scheme and selector, and its
    authorization from the Secret scrape_secret (key = the credentials file's name)."""
    objects = {}
    for job in stack.jobs:
        name = monitor_name(stack.name, job.name)
        endpoint: dict[str, Any] = {"port": kube.port, "path": job.metrics_path, "scheme": job.scheme,
                                    "interval": str(job.interval)}
        if job.interval.ms < DEFAULT_SCRAPE_TIMEOUT.ms:
            endpoint["scrapeTimeout"] = str(job.interval)
        if job.authorization is not None:
            endpoint["authorization"] = {"type": job.authorization.type, "credentials": {
                "name": scrape_secret(stack.name), "key": secret_key(job.authorization.credentials_file)}}
        endpoint["relabelings"] = monitor_relabelings(job.name)
        key = "endpoints" if kube.monitor_kind == "ServiceMonitor" else "podMetricsEndpoints"
        spec: dict[str, Any] = {"selector": {"matchLabels": dict(kube.selector_of(job.name))}}
        if kube.target_namespaces:
            spec["namespaceSelector"] = {"matchNames": list(kube.target_namespaces)}
        spec[key] = [endpoint]
        objects[f"{kube.monitor_kind.lower()}-{name}.yaml"] = _object(
            MONITORING_V1, kube.monitor_kind, _metadata(stack, kube, name), spec=spec)
    return objects


# --- alerting ----------------------------------------------------------------------------------

CAMEL_EXCEPTIONS = {"api_url": "apiURL", "require_tls": "requireTLS", "source_matchers": "sourceMatch",
                    "target_matchers": "targetMatch"}


def _camel(key: str) -> str:
    if key in CAMEL_EXCEPTIONS:
        return CAMEL_EXCEPTIONS[key]
    head, *rest = key.split("_")
    return head + "".join(part.title() for part in rest)


def _matcher(text: str) -> dict[str, str]:
    found = parse_matcher(text)
    if found is None:  # semantics refuses such matchers before rendering
        raise ValueError(f"not a matcher: {text}")
    return {"name": found.name, "value": found.value, "matchType": found.operator}


def _convert(node: Any, kube: Kubernetes) -> Any:
    """An alertmanager.yml node as AlertmanagerConfig spec: camelCase keys, matcher objects, Secret
    key references for *_file fields, headers as key/value lists."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for k, v in node.items():
            if k in SECRET_FILE_FIELDS:
                out[SECRET_FILE_FIELDS[k]] = {"name": kube.credentials_secret, "key": secret_key(v)}
            elif k == "headers":
                out["headers"] = [{"key": hk, "value": hv} for hk, hv in v.items()]
            elif k in ("matchers", "source_matchers", "target_matchers"):
                out[_camel(k)] = [_matcher(m) for m in v]
            else:
                out[_camel(k)] = _convert(v, kube)
        return out
    if isinstance(node, list):
        return [_convert(item, kube) for item in node]
    return node


def alertmanager_objects(stack: Stack, kube: Kubernetes) -> dict[str, dict[str, Any]]:
    """The routing as an AlertmanagerConfig (plus its templates' ConfigMap), or as the config Secret."""
    config = alertmanager_config(stack)
    template = next(text for path, text in render_alertmanager(stack).items() if path.endswith(f"/{ALERTMANAGER_TEMPLATE}"))
    if kube.alertmanager_kind == "AlertmanagerConfig":
        spec = {key: _convert(config[key], kube) for key in ("route", "receivers")}
        spec["inhibitRules"] = _convert(config["inhibit_rules"], kube)
        name = k8s_name(stack.name)
        templates = k8s_name(stack.name, "alertmanager-templates")
        return {
            f"alertmanagerconfig-{name}.yaml": _object(MONITORING_V1ALPHA1, "AlertmanagerConfig",
                                                       _metadata(stack, kube, name), spec=spec),
            f"configmap-{templates}.yaml": _object("v1", "ConfigMap", _metadata(stack, kube, templates),
                                                   data={ALERTMANAGER_TEMPLATE: template}),
        }
    secret_config = _secret_config(config, kube)
    return {f"secret-{kube.alertmanager_secret}.yaml": _object(
        "v1", "Secret", _metadata(stack, kube, kube.alertmanager_secret), type="Opaque",
        stringData={ALERTMANAGER_CONFIG_KEY: to_yaml(secret_config, stack.source_name), ALERTMANAGER_TEMPLATE: template})}


def _secret_config(config: dict[str, Any], kube: Kubernetes) -> dict[str, Any]:
    """alertmanager.yml as prometheus-operator mounts it: templates beside it, every *_file read from
    the credentials Secret, which Alertmanager.spec.secrets mounts under /etc/alertmanager/secrets."""
    config = copy.deepcopy(config)
    config["templates"] = [f"{ALERTMANAGER_CONFIG_ROOT}/*.tmpl"]
    for receiver in config["receivers"]:
        for key, entries in receiver.items():
            for entry in entries if isinstance(entries, list) else ():
                for field in SECRET_FILE_FIELDS:
                    if field in entry:
                        entry[field] = f"{ALERTMANAGER_SECRETS_ROOT}/{kube.credentials_secret}/{secret_key(entry[field])}"
    return config


# --- dashboards --------------------------------------------------------------------------------

def dashboard_configmaps(stack: Stack, kube: Kubernetes) -> dict[str, dict[str, Any]]:
    """Each dashboard's JSON in a ConfigMap the Grafana sidecar loads, into the spec's folder."""
    prefix = f"{DASHBOARDS_DIR}/"
    objects = {}
    for path, text in sorted(render_grafana(stack).items()):
        if not path.startswith(prefix):
            continue
        file_name = path.removeprefix(prefix)
        name = k8s_name(posixpath.splitext(file_name)[0], "dashboard")
        objects[f"configmap-{name}.yaml"] = _object(
            "v1", "ConfigMap",
            _metadata(stack, kube, name, (kube.dashboard_label,), {kube.folder_annotation: stack.dashboards.folder}),
            data={file_name: text})
    return objects


# --- Prometheus --------------------------------------------------------------------------------

def _remote_write(stack: Stack, kube: Kubernetes) -> list[dict[str, Any]]:
    """The spec's remote_write for the Prometheus object: credentials from the Prometheus' credentials
    Secret (key = the *_file's name; basic auth's user name under the key `username`)."""
    secret = remote_write_secret(stack.name)
    out = []
    for remote, plain in zip(stack.scale_out.remote_write, remote_write_configs(stack)):
        entry: dict[str, Any] = {"url": remote.url}
        if remote.name:
            entry["name"] = remote.name
        if remote.password_file:
            entry["basicAuth"] = {"username": {"name": secret, "key": REMOTE_WRITE_USERNAME_KEY},
                                  "password": {"name": secret, "key": secret_key(remote.password_file)}}
        if remote.bearer_token_file:
            entry["authorization"] = {"type": "Bearer",
                                      "credentials": {"name": secret, "key": secret_key(remote.bearer_token_file)}}
        if remote.headers:
            entry["headers"] = dict(remote.headers)
        if remote.queue_config:
            entry["queueConfig"] = {_camel(k): v for k, v in plain["queue_config"].items()}
        if "write_relabel_configs" in plain:
            entry["writeRelabelConfigs"] = [_convert(r, kube) for r in plain["write_relabel_configs"]]
        out.append(entry)
    return out


def prometheus_object(stack: Stack, kube: Kubernetes) -> dict[str, dict[str, Any]]:
    managed = kube.prometheus
    if managed is None:
        return {}
    selector = {"matchLabels": dict(kube.labels)}
    spec: dict[str, Any] = {
        "replicas": managed.replicas, "retention": str(managed.retention),
        "scrapeInterval": str(stack.scrape_interval), "evaluationInterval": str(stack.evaluation_interval),
        "ruleSelector": selector, "serviceMonitorSelector": selector, "podMonitorSelector": selector,
    }
    if managed.service_account:
        spec["serviceAccountName"] = managed.service_account
    if managed.alertmanager_service:
        spec["alerting"] = {"alertmanagers": [{"namespace": kube.namespace, "name": managed.alertmanager_service,
                                               "port": ALERTMANAGER_PORT_NAME}]}
    if stack.scale_out.remote_write:
        spec["remoteWrite"] = _remote_write(stack, kube)
    name = k8s_name(managed.name)
    return {f"prometheus-{name}.yaml": _object(MONITORING_V1, "Prometheus", _metadata(stack, kube, name), spec=spec)}


# --- the folder --------------------------------------------------------------------------------

def kubernetes_objects(stack: Stack) -> dict[str, dict[str, Any]]:
    """File name (under OUT/kubernetes/) -> object; empty without a kubernetes: section."""
    kube = stack.scale_out.kubernetes
    if kube is None:
        return {}
    objects: dict[str, dict[str, Any]] = {}
    for part in (prometheus_rules, monitors, alertmanager_objects, dashboard_configmaps, prometheus_object):
        for file_name, document in part(stack, kube).items():
            if file_name in objects:
                raise ValueError(f"two Kubernetes objects would be written to {file_name}")
            objects[file_name] = document
    return objects


def render_kubernetes(stack: Stack) -> Files:
    objects = kubernetes_objects(stack)
    if not objects:
        return {}
    kube = stack.scale_out.kubernetes
    assert kube is not None
    files = {f"{KUBERNETES_DIR}/{name}": to_yaml(document, stack.source_name) for name, document in objects.items()}
    kustomization = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                     "namespace": kube.namespace, "resources": sorted(objects)}
    files[f"{KUBERNETES_DIR}/{KUSTOMIZATION}"] = to_yaml(kustomization, stack.source_name)
    return files
