"""The real Prometheus and Alertmanager, started on loopback with rendered configs, and stopped."""
from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..errors import UsageError
from ..render.prometheus import RETENTION_FLAG
from .loopback import LOOPBACK

# Debian ships Alertmanager as prometheus-alertmanager; upstream tarballs call it alertmanager.
BINARIES = {"prometheus": ("prometheus",), "alertmanager": ("prometheus-alertmanager", "alertmanager")}
PACKAGES = {"prometheus": "prometheus", "alertmanager": "prometheus-alertmanager"}
READY_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0


def find_binary(kind: str) -> str | None:
    return next((path for name in BINARIES[kind] if (path := shutil.which(name))), None)


def require_binary(kind: str) -> str:
    path = find_binary(kind)
    if path is None:
        raise UsageError(f"{kind} is not installed: apt-get install {PACKAGES[kind]} (scripts/setup does it)")
    return path


def free_port() -> int:
    """A port free on loopback now; the kernel picks it, as for port 0."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    """One running server process, its address, and the file its log goes to."""

    kind: str
    process: subprocess.Popen
    port: int
    log_path: Path
    log: IO[bytes]
    ready_path: str = "/-/ready"  # VictoriaMetrics' servers answer /health

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def wait_ready(self, timeout: float = READY_TIMEOUT_SECONDS) -> "Server":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise UsageError(f"{self.kind} exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}{self.ready_path}", timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise UsageError(f"{self.kind} was not ready within {timeout:g}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        self.log.flush()
        return "\n".join(self.log_path.read_text("utf-8", "replace").splitlines()[-lines:])

    def stop(self) -> None:
        end_process(self.process)
        self.log.close()


def end_process(process: subprocess.Popen[Any], timeout: float = STOP_TIMEOUT_SECONDS) -> None:
    """Stop a child process: terminate, and kill it if it has not exited within timeout."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _start(kind: str, args: list[str], port: int, workdir: Path) -> Server:
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / f"{kind}.log"
    log = log_path.open("wb")
    process = subprocess.Popen([require_binary(kind), *args], stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, cwd=workdir)
    return Server(kind, process, port, log_path, log)


def start_prometheus(config: Path, port: int, workdir: Path, resend_delay: str | None = None,
                     retention: str | None = None, extra: list[str] | None = None) -> Server:
    """Prometheus on 127.0.0.1:port with its TSDB in workdir; not ready until wait_ready().

    resend_delay: how soon a firing alert is sent again (default 1m). Alerts that fire before
    Prometheus has found its Alertmanagers are dropped until then. retention: how long it keeps
    samples (its own default is 15d, shorter than a 30-day SLO window)."""
    extra = list(extra or [])
    extra += [f"--rules.alert.resend-delay={resend_delay}"] if resend_delay else []
    extra += [f"{RETENTION_FLAG}={retention}"] if retention else []
    return _start("prometheus", [*extra,
        f"--config.file={config.resolve()}",
        f"--storage.tsdb.path={(workdir / 'prometheus-data').resolve()}",
        f"--web.listen-address={LOOPBACK}:{port}",
        "--log.level=warn",
    ], port, workdir)


def start_alertmanager(config: Path, port: int, workdir: Path) -> Server:
    """Alertmanager on 127.0.0.1:port, alone (no cluster gossip), with its state in workdir."""
    return _start("alertmanager", [
        f"--config.file={config.resolve()}",
        f"--storage.path={(workdir / 'alertmanager-data').resolve()}",
        f"--web.listen-address={LOOPBACK}:{port}",
        "--cluster.listen-address=",
        "--log.level=warn",
    ], port, workdir)
