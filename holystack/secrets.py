"""Secrets are never written into generated files: inline secret fields are refused for their
*_file form, and so is every URL of the spec that carries a credential (user:password, a
credential-like query, fragment or ';' parameter, or a token in a known token-bearing path).
Messages name the field and what to use instead, and never repeat the secret.
`holystack validate` reads the same definitions to check alertmanager.yml."""
from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .errors import Finding
from .hygiene import spec_urls
from .shapes import indexed, section

# Inline secret field -> the *_file form to use instead, per integration.
INLINE_SECRETS: dict[str, dict[str, str]] = {
    "slack": {"api_url": "api_url_file"},
    "pagerduty": {"routing_key": "routing_key_file", "service_key": "routing_key_file"},
    "opsgenie": {"api_key": "api_key_file"},
    "email": {"auth_password": "auth_password_file"},
}
INLINE_SECRET_MESSAGE = "inline secrets are never written into generated files"
# Query, fragment and ';' parameter names that carry a credential: these names exactly
# (Azure Functions' code, Google's key, SAS sig, OAuth access_token, ...) ...
SECRET_PARAM_NAMES = frozenset({
    "code", "k", "key", "sig", "token", "apikey", "api_key", "api-key", "access_token", "accesstoken",
    "auth", "authorization", "secret", "password", "passwd", "pwd", "pass", "signature", "hmac",
    "client_secret", "private_token", "session", "sessionid", "jwt", "bearer", "credential",
    "credentials", "x-api-key", "routing_key", "integration_key", "webhook_token",
})
# ... and any name holding one of these.
SECRET_PARAM_PARTS = re.compile(r"token|secret|key|sig|passw|auth|credential|bearer", re.IGNORECASE)
# Hosts whose URL paths hold the token itself: host (or its domain) -> path prefix, "" for any path.
TOKEN_PATHS: dict[str, tuple[str, ...]] = {
    "hooks.slack.com": ("/services/", "/workflows/", "/triggers/"),
    "discord.com": ("/api/webhooks/",),
    "discordapp.com": ("/api/webhooks/",),
    "webhook.office.com": ("/webhookb2/",),
    "outlook.office.com": ("/webhook/",),
    "outlook.office365.com": ("/webhook/",),
    "events.pagerduty.com": ("/integration/",),
    "events.eu.pagerduty.com": ("/integration/",),
    "api.opsgenie.com": ("/v1/json/",),
    "api.eu.opsgenie.com": ("/v1/json/",),
    "api.telegram.org": ("/bot",),
}
# A path segment that looks like a generated token: long, letters and digits mixed.
TOKEN_SEGMENT_RE = re.compile(r"(?=[A-Za-z0-9_-]*[0-9])(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{24,}")
# Receiver URL fields and the *_file form that holds a whole URL with its secret, if any.
RECEIVER_URLS: dict[tuple[str, str], str | None] = {
    ("webhook", "url"): "webhook.url_file",
    ("opsgenie", "api_url"): None,  # the key belongs in opsgenie.api_key_file
}


def _param_is_secret(name: str) -> bool:
    name = name.strip().lower()
    return name in SECRET_PARAM_NAMES or bool(SECRET_PARAM_PARTS.search(name))


def _params(text: str) -> list[str]:
    """Parameter names of a query or fragment, split at '&' and ';'."""
    return [name for name, _ in parse_qsl(text.replace(";", "&"), keep_blank_values=True)]


def url_secret(url: str) -> str | None:
    """What kind of credential the URL carries, or None. Never the credential itself."""
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None:
        return "credentials (user:password)" if "@" in url else None
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return "credentials (user:password)"
    if any(_param_is_secret(name) for name in _params(parts.query)):
        return "a credential in its query"
    if any(_param_is_secret(name) for name in _params(parts.fragment)):
        return "a credential in its fragment"
    segments = parts.path.split("/")
    for segment in segments:
        if ";" in segment and any(_param_is_secret(name) for name in _params(segment.split(";", 1)[1])):
            return "a credential in a ';' parameter of its path"
    host = (parts.hostname or "").lower()
    for known, prefixes in TOKEN_PATHS.items():
        if (host == known or host.endswith("." + known)) and any(parts.path.startswith(p) for p in prefixes):
            return f"a token in its path ({known} URLs hold the secret in the path)"
    if any(TOKEN_SEGMENT_RE.fullmatch(segment.split(";", 1)[0]) for segment in segments):
        return "what looks like a token in its path"
    return None


def secret_problems(data: dict[str, Any]) -> list[Finding]:
    """Every inline secret of the spec, as (path, message). Items of the wrong shape are skipped
    one by one (shapes.py): the schema names them, and every other item is still checked."""
    return [finding for check in (_receivers, _spec_urls, _remote_write, _scrape_authorization) for finding in check(data)]


def secret_paths(findings: list[Finding]) -> set[tuple[Any, ...]]:
    """Integrations (and fields) refused for an inline secret; the schema's complaints about them
    add nothing, and would repeat the secret."""
    return {path[:4] for path, message in findings if message.startswith(INLINE_SECRET_MESSAGE)}


def _receivers(data: dict[str, Any]) -> Iterator[Finding]:
    for index, receiver in indexed(section(data, "alerting").get("receivers")):
        where = ("alerting", "receivers", index)
        for integration, fields in INLINE_SECRETS.items():
            part = receiver.get(integration)
            for field, file_form in fields.items():
                if isinstance(part, dict) and field in part:
                    yield where + (integration, field), (
                        f"{INLINE_SECRET_MESSAGE}; put the value in a file "
                        f"readable by Alertmanager and set {integration}.{file_form} to its path")
        webhook = receiver.get("webhook")
        if isinstance(webhook, dict) and ("url" in webhook) == ("url_file" in webhook):
            yield where + ("webhook",), "give exactly one of url or url_file"
        for (integration, field), file_form in RECEIVER_URLS.items():
            url = section(receiver, integration).get(field)
            if isinstance(url, str) and (kind := url_secret(url)):
                instead = (f"put the whole URL in a file and set {file_form} to its path" if file_form
                           else f"put the key in a file and set {integration}.api_key_file; "
                                f"{integration}.{field} takes the bare API URL")
                yield where + (integration, field), f"{INLINE_SECRET_MESSAGE}: the URL carries {kind}; {instead}"


def _spec_urls(data: dict[str, Any]) -> Iterator[Finding]:
    """Every URL field but the receivers' (_receivers names their file forms): hygiene.spec_urls."""
    for path, url, _ in spec_urls(data):
        if path[-2:] in RECEIVER_URLS or not (kind := url_secret(url)):
            continue
        instead = ("give it without the credential and set remote_write[{}].basic_auth.password_file or "
                   "bearer_token_file".format(path[1]) if path[0] == "remote_write" else
                   "give it without the credential and configure that where the URL is used")
        yield path, (f"{INLINE_SECRET_MESSAGE}: the URL carries {kind}; holystack writes this URL into "
                     f"generated files, so {instead}")


def config_secrets(config: dict[str, Any]) -> list[str]:
    """Inline secrets in a rendered alertmanager.yml, one line each (never the secret)."""
    findings = []
    for receiver in config.get("receivers") or []:
        name = receiver.get("name")
        for integration, fields in INLINE_SECRETS.items():
            for entry in receiver.get(f"{integration}_configs") or []:
                findings += [f"receiver {name}: inline {integration}.{field}; use {form}"
                             for field, form in fields.items() if field in entry]
        for (integration, field), _ in RECEIVER_URLS.items():
            for entry in receiver.get(f"{integration}_configs") or []:
                url = entry.get(field)
                if isinstance(url, str) and (kind := url_secret(url)):
                    findings.append(f"receiver {name}: {integration}.{field} carries {kind}")
    return findings


# Inline remote-write credentials -> the file form to use.
REMOTE_WRITE_SECRETS = {("basic_auth", "password"): "basic_auth.password_file", ("bearer_token",): "bearer_token_file"}


def _remote_write(data: dict[str, Any]) -> Iterator[Finding]:
    for index, remote in indexed(data.get("remote_write")):
        where = ("remote_write", index)
        basic_auth = remote.get("basic_auth") if isinstance(remote.get("basic_auth"), dict) else None
        for path, file_form in REMOTE_WRITE_SECRETS.items():
            node: Any = remote
            for key in path[:-1]:
                node = node.get(key) if isinstance(node, dict) else None
            if isinstance(node, dict) and path[-1] in node:
                yield where + path, (f"{INLINE_SECRET_MESSAGE}; put the value in a file readable by Prometheus "
                                     f"and set remote_write[{index}].{file_form} to its path")
        if basic_auth is not None and "password_file" not in basic_auth and "password" not in basic_auth:
            yield where + ("basic_auth", "password_file"), "is required with basic_auth: the file holding the password"
        if basic_auth is not None and ("bearer_token_file" in remote or "bearer_token" in remote):
            yield where + ("basic_auth",), "give either basic_auth or bearer_token_file, not both"
        headers = remote.get("headers") if isinstance(remote.get("headers"), dict) else {}
        for header in headers:
            if _param_is_secret(str(header)):
                yield where + ("headers", header), (f"{INLINE_SECRET_MESSAGE}; the header {header} carries a credential: "
                                                    "use bearer_token_file or basic_auth.password_file")




def _scrape_authorization(data: dict[str, Any]) -> Iterator[Finding]:
    """A scrape job's credentials only as a file (LiteLLM's master key, for its /metrics/)."""
    for index, job in indexed(section(data, "scrape").get("jobs")):
        authorization = job.get("authorization")
        if isinstance(authorization, dict) and "credentials" in authorization:
            yield ("scrape", "jobs", index, "authorization", "credentials"), (
                f"{INLINE_SECRET_MESSAGE}; put the value in a file readable by Prometheus and set "
                f"scrape.jobs[{index}].authorization.credentials_file to its path")
