"""Helpers of the tests that talk to live servers over HTTP."""
from __future__ import annotations

import json
import select
import subprocess
import time
import urllib.parse
import urllib.request
from typing import Any, Callable


def wait_until(condition: Callable[[], Any], timeout: float, step: float = 0.25) -> bool:
    """Poll condition until it holds or timeout seconds pass; its last answer, as a bool."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return bool(condition())


def answers(url: str) -> bool:
    """Whether anything answers GET url."""
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except OSError:
        return False


def prom_query(prometheus_url: str, expr: str) -> list[dict]:
    """The result of an instant query against a live Prometheus."""
    url = f"{prometheus_url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=10) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    return body["data"]["result"]


def read_until(process: "subprocess.Popen[str]", text: str, timeout: float) -> str:
    """What process printed until a line holds text, or timeout seconds passed, or it closed stdout."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not any(text in line for line in lines):
        ready, _, _ = select.select([process.stdout], [], [], 1)
        if ready:
            line = process.stdout.readline()  # type: ignore[union-attr]
            if not line:
                break
            lines.append(line)
    return "".join(lines)
