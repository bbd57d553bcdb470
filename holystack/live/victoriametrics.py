"""`up --engine victoriametrics`: the scale-out topology on loopback, from Debian's package
victoria-metrics (1.79): vmagent scrapes with the rendered scrape config and remote-writes to
VictoriaMetrics; vmalert evaluates the rendered vmalert rules against it, writes the recordings
back and notifies the real Alertmanager."""
from __future__ import annotations

import shutil
import subprocess
import threading
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..defaults import DEFAULT_LOOKBACK
from ..errors import UsageError
from ..pipeline import load_stack, render_to
from ..render.alertmanager import ALERTMANAGER_CONFIG, ALERTMANAGER_DIR
from ..layout import PROMETHEUS_CONFIG, PROMETHEUS_DIR
from ..render.prometheus import retention
from ..render.rulers import VMALERT_DIR
from .loopback import LOOPBACK
from .servers import Server, free_port, start_alertmanager

PACKAGE = "victoria-metrics"
VICTORIAMETRICS, VMAGENT, VMALERT = "victoria-metrics", "vmagent", "vmalert"
HEALTH_PATH = "/health"
SCRAPE_CONFIG = "vmagent-scrape.yml"
# Debian's vmagent 1.79 parses prometheus.yml strictly and refuses what only Prometheus reads.
PROMETHEUS_ONLY_KEYS = ("alerting", "rule_files", "remote_write")
PROMETHEUS_ONLY_GLOBAL_KEYS = ("evaluation_interval",)
# How soon written samples are visible to queries (VictoriaMetrics' default hides the last 30s).
FAST_LATENCY_OFFSET = "1s"
# vmalert writes its recordings back through VictoriaMetrics, and a rule reads another's (or its own
# previous) value from there: the month to date adds the cost step to its own value of the previous
# evaluation, one evaluation interval (1s on the fast clock) later. A sample's way back is vmalert's
# (vmagent's) flush, then VictoriaMetrics' in-memory buffer until a flush makes it searchable; at one
# interval each (1s + 1s against 1s) it often was not back in time, and the month to date added a step
# to its value of two evaluations before: that step was lost. So both flush at a tenth of the
# evaluation interval of the fast clock.
FAST_FLUSH_INTERVAL = "100ms"
# VictoriaMetrics 1.79 makes a new series searchable only ~10 s after its first sample, and buffers the
# samples of every series up to a second; recordings of recordings would wait for it at every level. On
# the fast clock a thread asks it to flush its in-memory buffers this often (/internal/force_flush), so
# alerts fire within seconds, as on Prometheus, and a recording is searchable by the next evaluation.
FORCE_FLUSH_PATH = "/internal/force_flush"
FORCE_FLUSH_SECONDS = 0.1
# Flags that doctor reads back from the servers' /flags.
RETENTION_FLAG = "-retentionPeriod"  # VictoriaMetrics: months of 31 days without a unit; 1 unless set
NOTIFIER_FLAG = "-notifier.url"      # vmalert: the Alertmanagers, comma-separated


def require(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        raise UsageError(f"{binary} is not installed: apt-get install {PACKAGE} (scripts/setup does it)")
    return path


def scrape_only_config(prometheus_yml: Path, target: Path) -> Path:
    """The rendered prometheus.yml without what vmagent refuses: the same jobs, intervals and targets."""
    config = yaml.safe_load(prometheus_yml.read_text("utf-8"))
    for key in PROMETHEUS_ONLY_KEYS:
        config.pop(key, None)
    for key in PROMETHEUS_ONLY_GLOBAL_KEYS:
        config["global"].pop(key, None)
    target.write_text(yaml.safe_dump(config, sort_keys=False), "utf-8")
    return target


def _start(binary: str, args: list[str], port: int, workdir: Path) -> Server:
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / f"{binary}.log"
    log = log_path.open("wb")
    process = subprocess.Popen([require(binary), *args, f"-httpListenAddr={LOOPBACK}:{port}", "-loggerLevel=WARN"],
                               stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=workdir)
    return Server(binary, process, port, log_path, log, HEALTH_PATH)


def start_victoriametrics(port: int, workdir: Path, fast: bool, retention: str | None = None) -> Server:
    """retention: RETENTION_FLAG (VictoriaMetrics keeps one month of 31 days unless told)."""
    extra = [f"-search.latencyOffset={FAST_LATENCY_OFFSET}", "-search.disableCache"] if fast else []
    extra += [f"{RETENTION_FLAG}={retention}"] if retention else []
    return _start(VICTORIAMETRICS, [f"-storageDataPath={(workdir / 'vm-data').resolve()}", *extra], port, workdir)


def start_vmagent(scrape_config: Path, remote_write: str, port: int, workdir: Path) -> Server:
    return _start(VMAGENT, [f"-promscrape.config={scrape_config.resolve()}", f"-remoteWrite.url={remote_write}",
                            f"-remoteWrite.tmpDataPath={(workdir / 'vmagent-data').resolve()}",
                            f"-remoteWrite.flushInterval={FAST_FLUSH_INTERVAL}"], port, workdir)


def start_vmalert(rules: Path, victoriametrics: str, alertmanager: str, port: int, workdir: Path,
                  evaluation_interval: str, lookback: str = DEFAULT_LOOKBACK) -> Server:
    """vmalert; lookback is the spec's scrape.lookback: how far back its queries reach for a sample
    (-datasource.queryStep, vmalert's step, which VictoriaMetrics' instant queries look back)."""
    return _start(VMALERT, [f"-rule={rules.resolve()}/*.yml", f"-datasource.url={victoriametrics}",
                            f"-datasource.queryStep={lookback}",
                            f"-remoteWrite.url={victoriametrics}", f"-remoteWrite.flushInterval={FAST_FLUSH_INTERVAL}",
                            f"{NOTIFIER_FLAG}={alertmanager}", f"-evaluationInterval={evaluation_interval}",
                            f"-external.url=http://{LOOPBACK}:{port}"], port, workdir)


@dataclass
class RunningVmStack:
    """VictoriaMetrics, vmagent, vmalert and Alertmanager running the stack rendered into workdir/out.
    `prometheus` is VictoriaMetrics: it answers the Prometheus query API."""

    out: Path
    prometheus: Server
    vmagent: Server
    vmalert: Server
    alertmanager: Server
    flushing: threading.Event = field(default_factory=threading.Event)  # set: stop flushing
    # How to start vmagent and vmalert again (restart_scraping).
    restart: Callable[[], tuple[Server, Server]] | None = None

    def restart_scraping(self, while_down: Callable[[], None]) -> None:
        """Stop vmagent and vmalert (no scrapes, no evaluations: what a stopped Prometheus does), call
        while_down (it returns when they may start again), and start them again; VictoriaMetrics keeps
        its data."""
        assert self.restart is not None
        for server in (self.vmalert, self.vmagent):
            server.stop()
        while_down()
        self.vmagent, self.vmalert = self.restart()
        self.vmagent.wait_ready()
        self.vmalert.wait_ready()

    def flush_often(self) -> "RunningVmStack":
        """Make new series searchable within a second (the fast clock); stops with stop()."""
        def loop() -> None:
            while not self.flushing.wait(FORCE_FLUSH_SECONDS):
                try:
                    with urllib.request.urlopen(f"{self.prometheus.url}{FORCE_FLUSH_PATH}", timeout=5):
                        pass
                except OSError:
                    pass
        threading.Thread(target=loop, name="vm-force-flush", daemon=True).start()
        return self

    def stop(self) -> None:
        self.flushing.set()
        for server in (self.vmalert, self.vmagent, self.prometheus, self.alertmanager):
            server.stop()


def start_vm_stack(spec_path: Path, victoriametrics_port: int, alertmanager_port: int, workdir: Path,
                   evaluation_interval: str, fast: bool, app_ready: Callable[[], None]) -> RunningVmStack:
    """Render spec_path (which must ask for rulers.vmalert) into workdir/out and start the servers;
    stop them with stop(). Every server started is stopped if a later one fails. app_ready returns
    once the app serves its metrics: vmagent starts after it has returned."""
    out = workdir / "out"
    render_to(spec_path, out)
    if not (out / VMALERT_DIR).is_dir():
        raise UsageError(f"{spec_path}: the VictoriaMetrics engine needs rulers.vmalert: true")
    started: list[Server] = []
    try:
        alertmanager = start_alertmanager(out / ALERTMANAGER_DIR / ALERTMANAGER_CONFIG, alertmanager_port, workdir)
        started.append(alertmanager)
        # The retention the stack needs (one month of 31 days, VictoriaMetrics' default, is a day short).
        stack = load_stack(spec_path)
        victoriametrics = start_victoriametrics(victoriametrics_port, workdir, fast, str(retention(stack)))
        started.append(victoriametrics)
        app_ready()
        alertmanager.wait_ready()
        victoriametrics.wait_ready()
        scrape = scrape_only_config(out / PROMETHEUS_DIR / PROMETHEUS_CONFIG, workdir / SCRAPE_CONFIG)
        lookback = str(stack.lookback)

        def scraping() -> tuple[Server, Server]:
            agent = start_vmagent(scrape, f"{victoriametrics.url}/api/v1/write", free_port(), workdir)
            started.append(agent)
            ruler = start_vmalert(out / VMALERT_DIR, victoriametrics.url, alertmanager.url, free_port(), workdir,
                                  evaluation_interval, lookback)
            started.append(ruler)
            return agent, ruler
        vmagent, vmalert = scraping()
        vmagent.wait_ready()
        vmalert.wait_ready()
    except BaseException:
        for server in reversed(started):
            server.stop()
        raise
    stack = RunningVmStack(out, victoriametrics, vmagent, vmalert, alertmanager, restart=scraping)
    return stack.flush_often() if fast else stack
