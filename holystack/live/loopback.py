"""HTTP servers on loopback (defaults.LOOPBACK), the only address the live parts use."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ..defaults import LOOPBACK

__all__ = ["LOOPBACK", "LoopbackServer"]


class LoopbackServer(ThreadingHTTPServer):
    """An HTTP server on 127.0.0.1 and a port the kernel picks (or the one given), served from a daemon thread."""

    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler], port: int = 0):
        super().__init__((LOOPBACK, port), handler)

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> "LoopbackServer":
        threading.Thread(target=self.serve_forever, name=type(self).__name__, daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
