"""The Kubernetes API server's own naming rules (k8s.io/apimachinery/pkg/util/validation), so that
every name, label, annotation key and Secret key holystack writes into OUT/kubernetes/ is one the
API server accepts. Each function returns why a value breaks its rule, or None."""
from __future__ import annotations

import posixpath
import re

DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
LABEL_VALUE_MAX = 63
QUALIFIED_NAME_MAX = 63
_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_LABEL_RE = re.compile(_LABEL)
DNS1123_SUBDOMAIN_RE = re.compile(rf"{_LABEL}(\.{_LABEL})*")
# A label value, and the name part of a qualified name (label and annotation keys).
LABEL_VALUE_RE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
QUALIFIED_NAME_RE = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
# A key of a Secret's or ConfigMap's data (IsConfigMapKey).
SECRET_KEY_RE = re.compile(r"[-._a-zA-Z0-9]+")
SECRET_KEY_MAX = 253


def dns_label_problem(value: str) -> str | None:
    """A namespace or object name that must be an RFC 1123 label."""
    if len(value) > DNS1123_LABEL_MAX or not DNS1123_LABEL_RE.fullmatch(value):
        return (f"{value!r} is not a Kubernetes name (RFC 1123 label): lowercase letters, digits and '-', "
                f"starting and ending with a letter or digit, at most {DNS1123_LABEL_MAX} characters")
    return None


def dns_subdomain_problem(value: str) -> str | None:
    """An object name that must be an RFC 1123 subdomain (Secrets, ServiceAccounts)."""
    if len(value) > DNS1123_SUBDOMAIN_MAX or not DNS1123_SUBDOMAIN_RE.fullmatch(value):
        return (f"{value!r} is not a Kubernetes name (RFC 1123 subdomain): lowercase letters, digits, '-' and '.', "
                f"each dot-separated part starting and ending with a letter or digit, at most "
                f"{DNS1123_SUBDOMAIN_MAX} characters")
    return None


def label_value_problem(value: str) -> str | None:
    if len(value) > LABEL_VALUE_MAX or not LABEL_VALUE_RE.fullmatch(value):
        return (f"{value!r} is not a Kubernetes label value: at most {LABEL_VALUE_MAX} letters, digits, '-', '_' "
                "and '.', starting and ending with a letter or digit (or empty)")
    return None


def qualified_name_problem(key: str) -> str | None:
    """A label or annotation key: an optional DNS subdomain prefix and '/', then a name."""
    prefix, _, name = key.rpartition("/")
    if "/" in key and (not prefix or len(prefix) > DNS1123_SUBDOMAIN_MAX
                       or not DNS1123_SUBDOMAIN_RE.fullmatch(prefix)):
        return (f"{key!r} is not a Kubernetes label or annotation key: the prefix before '/' must be a DNS "
                "subdomain such as example.com")
    if len(name) > QUALIFIED_NAME_MAX or not QUALIFIED_NAME_RE.fullmatch(name):
        return (f"{key!r} is not a Kubernetes label or annotation key: an optional prefix/ and a name of at most "
                f"{QUALIFIED_NAME_MAX} letters, digits, '-', '_' and '.', starting and ending with a letter or digit")
    return None


def secret_key_problem(key: str) -> str | None:
    if len(key) > SECRET_KEY_MAX or not SECRET_KEY_RE.fullmatch(key) or key in (".", ".."):
        return (f"{key!r} is not a Kubernetes Secret key: letters, digits, '-', '_' and '.' only "
                "(not '.' or '..')")
    return None


# *_file fields of alertmanager.yml -> the AlertmanagerConfig field holding a Secret key reference;
# each file's content sits in the credentials Secret under secret_key(path).
SECRET_FILE_FIELDS = {"api_url_file": "apiURL", "routing_key_file": "routingKey", "api_key_file": "apiKey",
                      "auth_password_file": "authPassword", "url_file": "urlSecret"}
# The remote-write credentials Secret holds basic auth's user name under this key.
REMOTE_WRITE_USERNAME_KEY = "username"


def secret_key(path: str) -> str:
    """The key under which a *_file's content sits in a credentials Secret: the file's name."""
    return posixpath.basename(path)
