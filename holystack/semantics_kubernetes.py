"""The spec's kubernetes: section, checked on the model (semantics.py runs it; a spec without the
section never loads this module or the API server's naming rules). Each check yields (spec path,
message), as the other semantic checks do."""
from __future__ import annotations

from collections.abc import Iterator

from . import kubenames
from .defaults import DEFAULT_SELECTOR_LABEL
from .errors import Finding, SpecPath, format_path
from .model import Kubernetes, Labels, Stack, monitor_name, remote_write_secret, retention_needed, scrape_secret


def kubernetes_problems(stack: Stack, kube: Kubernetes) -> Iterator[Finding]:
    """What OUT/kubernetes/ writes, by the API server's rules (kubenames.py): names, labels,
    annotation keys, Secret keys; monitors with distinct names; a managed Prometheus that keeps
    what the rules read."""
    yield from _kubernetes_names(kube)
    yield from _kubernetes_labels(stack, kube)
    yield from _secret_keys(stack, kube)
    seen: dict[str, str] = {}
    for index, job in enumerate(stack.jobs):
        name = monitor_name(stack.name, job.name)
        if name in seen:
            yield ("scrape", "jobs", index, "name"), (
                f"{job.name!r} and {seen[name]!r} give the same {kube.monitor_kind} {name!r}, so one would be lost; "
                "rename one")
        seen.setdefault(name, job.name)
    needed = retention_needed(stack.slo.period)
    if kube.prometheus is not None and kube.prometheus.retention.ms < needed.ms:
        yield ("kubernetes", "prometheus", "retention"), (
            f"{kube.prometheus.retention} is shorter than the {needed} the rules and dashboards need (the "
            f"{stack.slo.period} SLO windows, the cost dashboard's month, and a day's margin); "
            f"use at least {needed}, or leave retention out")


def _kubernetes_names(kube: Kubernetes) -> Iterator[Finding]:
    where = ("kubernetes",)
    labels = [(where + ("namespace",), kube.namespace)]
    labels += [(where + ("target_namespaces", i), n) for i, n in enumerate(kube.target_namespaces)]
    subdomains = [(where + ("alertmanager_secret",), kube.alertmanager_secret),
                  (where + ("credentials_secret",), kube.credentials_secret)]
    if kube.prometheus is not None:
        labels.append((where + ("prometheus", "name"), kube.prometheus.name))
        if kube.prometheus.service_account:
            subdomains.append((where + ("prometheus", "service_account"), kube.prometheus.service_account))
        if kube.prometheus.alertmanager_service:
            labels.append((where + ("prometheus", "alertmanager_service"), kube.prometheus.alertmanager_service))
    for path, value in labels:
        if problem := kubenames.dns_label_problem(value):
            yield path, problem
    for path, value in subdomains:
        if problem := kubenames.dns_subdomain_problem(value):
            yield path, problem
    if problem := kubenames.qualified_name_problem(kube.folder_annotation):
        yield where + ("folder_annotation",), problem.replace("label or annotation key", "annotation key")


def _kubernetes_labels(stack: Stack, kube: Kubernetes) -> Iterator[Finding]:
    where = ("kubernetes",)
    groups: list[tuple[SpecPath, Labels, str]] = [(where + ("labels",), kube.labels, ""),
                                                  (where + ("dashboard_label",), (kube.dashboard_label,), "")]
    for index, (job, selector) in enumerate(kube.selectors):
        if selector == ((DEFAULT_SELECTOR_LABEL, job),):  # the default: named where the job is
            groups.append((("scrape", "jobs", index, "name"), selector,
                           f"; the default selector {DEFAULT_SELECTOR_LABEL}: <job name> cannot hold it, so give "
                           f"kubernetes.selectors.{job}"))
        else:
            groups.append((where + ("selectors", job), selector, ""))
    for path, labels, hint in groups:
        for key, value in labels:
            if problem := kubenames.qualified_name_problem(key):
                yield path + (key,), problem
            elif problem := kubenames.label_value_problem(value):
                yield (path + (key,) if not hint else path), problem + hint


def _secret_keys(stack: Stack, kube: Kubernetes) -> Iterator[Finding]:
    """Each *_file becomes a key of a credentials Secret, named by the file's name: it must be a Secret
    key, and two files of one name would share one key (PagerDuty would read Slack's URL)."""
    files: list[tuple[SpecPath, str]] = []
    for r_index, receiver in enumerate(stack.alerting.receivers):
        for integration in receiver.integrations:
            for field, value in integration.fields:
                if field in kubenames.SECRET_FILE_FIELDS and isinstance(value, str):
                    files.append((("alerting", "receivers", r_index, integration.kind, field), value))
    yield from _distinct_keys(files, kube.credentials_secret, ())
    remote_files: list[tuple[SpecPath, str]] = []
    for index, remote in enumerate(stack.scale_out.remote_write):
        if remote.password_file:
            remote_files.append((("remote_write", index, "basic_auth", "password_file"), remote.password_file))
        if remote.bearer_token_file:
            remote_files.append((("remote_write", index, "bearer_token_file"), remote.bearer_token_file))
    if kube.prometheus is not None:
        yield from _distinct_keys(remote_files, remote_write_secret(stack.name),
                                  (kubenames.REMOTE_WRITE_USERNAME_KEY,))
    scrape_files = [(("scrape", "jobs", index, "authorization", "credentials_file"), job.authorization.credentials_file)
                    for index, job in enumerate(stack.jobs) if job.authorization is not None]
    yield from _distinct_keys(scrape_files, scrape_secret(stack.name), ())


def _distinct_keys(files: list[tuple[SpecPath, str]], secret: str, reserved: tuple[str, ...]) -> Iterator[Finding]:
    seen: dict[str, tuple[SpecPath, str]] = {}
    for path, file in files:
        key = kubenames.secret_key(file)
        if problem := kubenames.secret_key_problem(key):
            yield path, f"its file name becomes a key of the Secret {secret}, and {problem}; rename the file"
        elif key in reserved:
            yield path, (f"its file name {key!r} is the key of the Secret {secret} that holds the user name; "
                         "rename the file")
        elif key in seen and seen[key][1] != file:
            yield path, (f"its file name {key!r} is also the file name of {format_path(seen[key][0])}: both would be the "
                         f"one key {key!r} of the Secret {secret}, and one integration would read the other's "
                         "secret; give the files different names")
        else:
            seen.setdefault(key, (path, file))
