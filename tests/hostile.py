"""A hostile upstream on loopback: it reads each request as a real HTTP server does (http.server),
then writes whatever bytes it is given, status line and headers included, and ends the connection
by closing it or by a reset (RST). ``requests`` counts the requests it read, so a test can hold the
instrument's counts to what the upstream really saw."""
from __future__ import annotations

import gzip
import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from holystack.live.loopback import LoopbackServer

RESET = object()  # a piece of an answer: the connection is reset here (SO_LINGER 0, then close)


def hang(seconds: float) -> Callable[[], None]:
    """A piece of an answer: the upstream holds the connection this long before going on."""
    return lambda: time.sleep(seconds)


@dataclass
class Answer:
    """An HTTP answer built from parts a test or hypothesis picks; ``pieces`` are the bytes sent."""

    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    length: str = "exact"  # "exact", "none" (ends at close), "short" (claims more than is sent), "chunked"
    reset: bool = False  # end by a reset instead of a close

    def pieces(self) -> list[Any]:
        head = [f"HTTP/1.1 {self.status} Whatever".encode()]
        head += [f"{k}: {v}".encode("latin-1") for k, v in self.headers]
        body = self.body
        if self.length == "exact":
            head.append(f"content-length: {len(body)}".encode())
        elif self.length == "short":
            head.append(f"content-length: {len(body) + 1000}".encode())
        elif self.length == "chunked":
            head.append(b"transfer-encoding: chunked")
            body = (f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n") if body else b"0\r\n\r\n"
        head.append(b"connection: close")
        out: list[Any] = [b"\r\n".join(head) + b"\r\n\r\n", body]
        if self.reset:
            out.append(RESET)
        return out


def sse(events: Iterable[Any]) -> bytes:
    """Server-sent events, one data line per event (JSON unless already bytes), then [DONE]."""
    lines = [b"data: " + (e if isinstance(e, bytes) else json.dumps(e).encode()) + b"\n\n" for e in events]
    return b"".join(lines) + b"data: [DONE]\n\n"


def gzipped(body: bytes) -> bytes:
    return gzip.compress(body, mtime=0)


class _Handler(BaseHTTPRequestHandler):
    server: "HostileUpstream"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self.rfile.read(int(self.headers.get("content-length") or 0))
        with self.server.lock:
            self.server.requests += 1
        self.close_connection = True
        try:
            for piece in self.server.answer():
                if piece is RESET:
                    self.wfile.flush()
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                    return
                if callable(piece):
                    self.wfile.flush()
                    piece()
                    continue
                self.wfile.write(piece)
        except OSError:  # the client gave up first (its timeout): that is the test
            pass


class HostileUpstream(LoopbackServer):
    """Answers every request with answer()'s pieces: bytes to write, RESET, or a callable (a pause)."""

    def __init__(self, answer: Callable[[], list[Any]]):
        super().__init__(_Handler)
        self.answer = answer
        self.requests = 0
        self.lock = threading.Lock()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass
