"""A fake of the paging and chat services Alertmanager notifies: it takes every POST on loopback,
keeps the JSON payload with its path, and answers 200 as Slack and webhook receivers do."""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, Callable

from .loopback import LoopbackServer


@dataclass(frozen=True)
class Notification:
    path: str
    payload: Any
    received: float


class _Handler(BaseHTTPRequestHandler):
    server: "CaptureServer"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = raw.decode("utf-8", "replace")
        self.server.keep(Notification(self.path, payload, time.monotonic()))
        self.send_response(200)
        self.send_header("content-type", "text/plain")
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


class CaptureServer(LoopbackServer):
    def __init__(self, on_notification: Callable[[Notification], None] | None = None):
        super().__init__(_Handler)
        self.notifications: list[Notification] = []
        self.on_notification = on_notification
        self._changed = threading.Condition()

    def keep(self, notification: Notification) -> None:
        with self._changed:
            self.notifications.append(notification)
            self._changed.notify_all()
        if self.on_notification:
            self.on_notification(notification)

    def wait_for(self, done: Callable[[list[Notification]], bool], timeout: float) -> bool:
        """Wait until done(notifications so far) holds, at most timeout seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not done(list(self.notifications)):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return True
