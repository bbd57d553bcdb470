"""Read-only HTTP GETs with a bounded timeout (the standard library's urllib): JSON APIs and text."""
from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

DEFAULT_TIMEOUT_SECONDS = 10.0


class ApiError(Exception):
    """A server did not answer, or answered something else than the API promises; the message says which."""


@dataclass(frozen=True)
class Api:
    """One server's base URL (http://host:port, maybe with a path prefix) and the timeout of each request."""

    base: str
    timeout: float = DEFAULT_TIMEOUT_SECONDS

    def url(self, path: str, params: dict[str, str] | None = None) -> str:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        return f"{self.base.rstrip('/')}{path}{query}"

    def text(self, path: str, params: dict[str, str] | None = None) -> str:
        url = self.url(path, params)
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:
                return response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            body = exc.read().decode("utf-8", "replace")[:300].strip()
            raise ApiError(f"GET {url} answered HTTP {exc.code}: {body}") from None
        except (OSError, ValueError) as exc:  # refused, timed out, bad URL
            reason = getattr(exc, "reason", exc)
            raise ApiError(f"GET {url} failed: {reason}") from None

    def json(self, path: str, params: dict[str, str] | None = None) -> Any:
        text = self.text(path, params)
        try:
            return json.loads(text)
        except ValueError:
            raise ApiError(f"GET {self.url(path, params)} did not answer JSON: {text[:200]!r}") from None

    def data(self, path: str, params: dict[str, str] | None = None) -> Any:
        """The data of a Prometheus-style answer ({"status": "success", "data": ...})."""
        body = self.json(path, params)
        if not isinstance(body, dict) or body.get("status") != "success":
            raise ApiError(f"GET {self.url(path, params)} answered {str(body)[:300]}")
        return body.get("data")

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The vector an instant query returns."""
        return self.data("/api/v1/query", {"query": expr}).get("result") or []
