"""`holystack up`: the rendered stack running on loopback, fed by `holystack simulate`.

Also used by the end-to-end tests: loopback_spec points a spec's addresses at local ports."""
from __future__ import annotations

import copy
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml

from ..pipeline import load_stack, render_to
from ..render.alertmanager import ALERTMANAGER_CONFIG, ALERTMANAGER_DIR
from ..render.prometheus import PROMETHEUS_CONFIG, PROMETHEUS_DIR, retention
from ..sources import DEFAULT_SOURCE
from ..spec import read_spec
from .apps import Running, live_app
from ..thresholds import declared
from .capture import CaptureServer, Notification
from .loopback import LOOPBACK
from .onto import spec_on_source
from .scenarios import TrafficProfile
from .servers import Server, free_port, start_alertmanager, start_prometheus
from .signals import wait_for_stop
from .traffic import simulate

FOREVER_SECONDS = 7 * 24 * 3600.0


@dataclass(frozen=True)
class Ports:
    prometheus: int
    alertmanager: int
    metrics: int

    @classmethod
    def free(cls) -> "Ports":
        return cls(free_port(), free_port(), free_port())


def loopback_spec(data: dict[str, Any], ports: Ports, capture_url: str | None = None) -> dict[str, Any]:
    """The spec with every address on 127.0.0.1: the first scrape job reads the simulator (the others
    are dropped, they would read it twice), Prometheus and Alertmanager on their ports. With
    capture_url, every receiver becomes a webhook to capture_url/<receiver name>; routes are kept."""
    spec = copy.deepcopy(data)
    first_job = spec["scrape"]["jobs"][0]
    first_job.update(targets=[f"{LOOPBACK}:{ports.metrics}"], scheme="http")
    spec["scrape"]["jobs"] = [first_job]
    spec["scrape"]["prometheus_address"] = f"{LOOPBACK}:{ports.prometheus}"
    spec["alerting"]["alertmanagers"] = [f"{LOOPBACK}:{ports.alertmanager}"]
    spec.setdefault("dashboards", {})["prometheus_url"] = f"http://{LOOPBACK}:{ports.prometheus}"
    spec.pop("remote_write", None)  # nothing leaves loopback
    if capture_url:
        spec["alerting"]["receivers"] = [{"name": r["name"], "webhook": {"url": f"{capture_url}/{r['name']}"}}
                                         for r in spec["alerting"]["receivers"]]
    return spec


# The clock of `up --fast` and the end-to-end tests: alerts fire within seconds instead of minutes.
FAST_SCRAPE = "1s"
FAST_RATE_WINDOW = "4s"  # RATE_WINDOW_MIN_SCRAPES scrapes
FAST_FOR = "3s"
FAST_KEEP_FIRING_FOR = "10s"  # a flapping ratio alert stays up through a few noisy evaluations
FAST_ALERTING = {"group_wait": "1s", "group_interval": "2s", "repeat_interval": "1h"}
FAST_RESEND_DELAY = "2s"  # Prometheus sends firing alerts again this often


# 20 attempts at least: a 4s window at 20 calls/s holds ~100, and a 20% failure scenario must not trip it
# while the window is still filling (3.5% of runs with 10, 0.1% with 20, by simulation).
FAST_BREAKER = {"window": FAST_RATE_WINDOW, "open_for": "2s", "min_calls": 20}


def fast_spec(data: dict[str, Any]) -> dict[str, Any]:
    """The spec on a fast clock: 1s scrapes and evaluations, 4s rate windows, 3s for:, 10s
    keep_firing_for, 1s group_wait.
    Thresholds, routes and everything else stay as they are."""
    spec = copy.deepcopy(data)
    scrape = spec["scrape"]
    scrape["interval"] = scrape["evaluation_interval"] = FAST_SCRAPE
    for job in scrape["jobs"]:
        job.pop("interval", None)
    spec["metrics"]["rate_window"] = FAST_RATE_WINDOW
    thresholds = spec.setdefault("thresholds", {})
    for threshold in declared():
        thresholds.setdefault(threshold.key, {})["for"] = FAST_FOR
        if "keep_firing_for" in threshold.default:
            thresholds[threshold.key]["keep_firing_for"] = FAST_KEEP_FIRING_FOR
    spec["alerting"].update(FAST_ALERTING)
    # The client's breakers on the same clock: a breaker open for 30s would leave 4s rate windows empty.
    spec.setdefault("resilience", {}).setdefault("breaker", {}).update(FAST_BREAKER)
    return spec


def write_spec(spec: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True), "utf-8")
    return path


@dataclass
class RunningStack:
    """Prometheus and Alertmanager running the stack rendered into workdir/out."""

    out: Path
    prometheus: Server
    alertmanager: Server

    def stop(self) -> None:
        for server in (self.prometheus, self.alertmanager):
            server.stop()


def _start_prometheus(spec_path: Path, out: Path, ports: Ports, workdir: Path, fast: bool) -> Server:
    """Prometheus on the rendered config, its TSDB in workdir, with the spec's retention and lookback."""
    stack = load_stack(spec_path)
    return start_prometheus(out / PROMETHEUS_DIR / PROMETHEUS_CONFIG, ports.prometheus, workdir,
                            FAST_RESEND_DELAY if fast else None, str(retention(stack)),
                            [f"--query.lookback-delta={stack.lookback}"])


def restart_prometheus(running: RunningStack, spec_path: Path, ports: Ports, workdir: Path,
                       while_down: Callable[[], None], fast: bool = True) -> None:
    """Stop Prometheus, call while_down (it returns when Prometheus may start again), and start it again
    on the same data directory."""
    running.prometheus.stop()
    while_down()
    running.prometheus = _start_prometheus(spec_path, running.out, ports, workdir, fast).wait_ready()


def app_serving() -> None:
    """The default of the engines' app_ready: the app already serves its metrics."""


def start_stack(spec_path: Path, ports: Ports, workdir: Path, fast: bool = True,
                app_ready: Callable[[], None] = app_serving) -> RunningStack:
    """Render spec_path into workdir/out and start the real servers on it; stop them with stop().
    app_ready returns once the app serves its metrics (an app starting meanwhile, as the stack
    renders and Alertmanager starts): nothing scrapes before it has returned."""
    out = workdir / "out"
    render_to(spec_path, out)
    # Alertmanager first and ready: Prometheus resends a lost alert only after a minute.
    alertmanager = start_alertmanager(out / ALERTMANAGER_DIR / ALERTMANAGER_CONFIG, ports.alertmanager, workdir)
    try:
        app_ready()
        alertmanager.wait_ready()
        prometheus = _start_prometheus(spec_path, out, ports, workdir, fast)
    except BaseException:
        alertmanager.stop()
        raise
    stack = RunningStack(out, prometheus, alertmanager)
    try:
        prometheus.wait_ready()
    except BaseException:
        stack.stop()
        raise
    return stack


def notification_line(notification: Notification) -> str:
    payload = notification.payload if isinstance(notification.payload, dict) else {}
    alerts = payload.get("alerts", [])
    names = ", ".join(sorted({f"{a['labels'].get('alertname')} ({a['labels'].get('severity', '-')})"
                              for a in alerts}))
    return f"-> {notification.path.lstrip('/')}: {payload.get('status', '?')} {names}"


def vm_spec(data: dict[str, Any]) -> dict[str, Any]:
    """The spec asking for the vmalert rule files too, which the VictoriaMetrics engine runs."""
    spec = copy.deepcopy(data)
    spec.setdefault("rulers", {})["vmalert"] = True
    return spec


def _start_vm(spec_path: Path, ports: Ports, workdir: Path, fast: bool,
              app_ready: Callable[[], None] = app_serving) -> Any:
    from .victoriametrics import start_vm_stack

    evaluation = str(load_stack(spec_path).evaluation_interval)
    return start_vm_stack(spec_path, ports.prometheus, ports.alertmanager, workdir, evaluation, fast, app_ready)


def _prometheus_lines(stack: Any) -> list[str]:
    return [f"Prometheus    {stack.prometheus.url}  (alerts: {stack.prometheus.url}/alerts)"]


def _vm_lines(stack: Any) -> list[str]:
    return [f"VictoriaMetrics {stack.prometheus.url}  (vmui: {stack.prometheus.url}/vmui)",
            f"vmagent       {stack.vmagent.url}/targets",
            f"vmalert       {stack.vmalert.url}  (alerts: {stack.vmalert.url}/vmalert/api/v1/alerts)"]


def _same(data: dict[str, Any]) -> dict[str, Any]:
    return data


@dataclass(frozen=True)
class Engine:
    """One way to run the rendered stack: what it needs of the spec, how it starts (the running
    stack has out, prometheus (the query API), alertmanager and stop()), and the lines `up` prints."""

    spec: Callable[[dict[str, Any]], dict[str, Any]]
    start: Callable[[Path, Ports, Path, bool, Callable[[], None]], Any]
    lines: Callable[[Any], list[str]]


# The engines of `up --engine` and the end-to-end tests, the first the default: one entry each.
ENGINES: dict[str, Engine] = {
    "prometheus": Engine(_same, start_stack, _prometheus_lines),
    # vmagent, VictoriaMetrics and vmalert, on the vmalert rule files.
    "victoriametrics": Engine(vm_spec, _start_vm, _vm_lines),
}
DEFAULT_ENGINE = next(iter(ENGINES))


def engine_spec(engine: str, data: dict[str, Any]) -> dict[str, Any]:
    """The spec with what engine needs of it (the VictoriaMetrics engine: the vmalert rule files)."""
    return ENGINES[engine].spec(data)


def start_engine(engine: str, spec_path: Path, ports: Ports, workdir: Path, fast: bool,
                 app_ready: Callable[[], None] = app_serving) -> Any:
    """The stack spec_path renders, running on engine; stop it with stop(). app_ready: as start_stack's."""
    return ENGINES[engine].start(spec_path, ports, workdir, fast, app_ready)


def up(spec_path: Path, scenario: TrafficProfile, rps: float, seed: int, fast: bool, workdir: Path,
       stop: threading.Event, say: Callable[[str], None], engine: str = DEFAULT_ENGINE, source: str | None = None) -> None:
    """Run the playground until stop is set: on the spec's metric source, or moved onto source."""
    from .upstream import FakeUpstreamServer, Upstream

    ports = Ports.free()
    capture = CaptureServer(lambda n: say(notification_line(n))).start()
    upstream = None
    try:
        data = read_spec(spec_path)
        if source is not None:
            data, changes = spec_on_source(data, source)
            for change in changes:
                say(f"spec on {source}: {change}")
        name = (data.get("metrics") or {}).get("source", DEFAULT_SOURCE)
        app = None if name == DEFAULT_SOURCE else live_app(name)
        spec = loopback_spec(data, ports, capture.url)
        if app is not None:  # the app's upstream first: the spec may name its address
            original = load_stack(spec_path)
            thresholds = {e.path: original.latency_p95_of(e) or 1.0 for e in original.endpoints}
            upstream = FakeUpstreamServer(Upstream(scenario, thresholds, app.client_timeout, seed)).start()
            spec = app.prepare(spec, upstream.url, ports.metrics, workdir)
        spec = engine_spec(engine, spec)
        local = write_spec(fast_spec(spec) if fast else spec, workdir / spec_path.name)
        apps: list[Running] = []

        def app_starts() -> None:  # while the stack renders and Alertmanager starts; before anything scrapes
            assert app is not None and upstream is not None
            apps.append(app.start(load_stack(local), upstream.url, ports.metrics, rps, FOREVER_SECONDS, workdir))

        def stop_app() -> None:
            while apps:
                apps.pop().stop()

        try:
            stack = start_engine(engine, local, ports, workdir, fast, app_serving if app is None else app_starts)
        except BaseException:
            stop_app()
            raise
        try:
            say(f"rendered {local} into {stack.out}")
            for line in ENGINES[engine].lines(stack):
                say(line)
            say(f"Alertmanager  {stack.alertmanager.url}")
            say(f"metrics       http://{LOOPBACK}:{ports.metrics}{load_stack(local).jobs[0].metrics_path}")
            say(f"receivers     every receiver is a webhook to {capture.url}; notifications are printed here")
            say(f"dashboards    {stack.out / 'grafana'} (mount into Grafana; its data source is the query URL above)")
            if app is None:
                say("Ctrl-C stops everything.")
                simulate(load_stack(local), scenario, FOREVER_SECONDS, rps, ports.metrics, seed, stop, report=say)
            else:
                assert upstream is not None
                say(f"app           {name}'s live app calling the fake upstream {upstream.url} ({scenario.name}), "
                    f"logs in {workdir}")
                say("Ctrl-C stops everything.")
                wait_for_stop(stop)
        finally:
            stop_app()
            stack.stop()
    finally:
        if upstream is not None:
            upstream.stop()
        capture.stop()
