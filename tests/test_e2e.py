"""End to end, through the real servers: holystack simulate -> Prometheus (rendered rules) ->
Alertmanager (rendered routes) -> fake receivers on loopback. Each scenario gets fresh servers."""
from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from holystack.live.capture import CaptureServer, Notification
from holystack.live.playground import (DEFAULT_ENGINE, FAST_RATE_WINDOW, Ports, engine_spec, fast_spec, loopback_spec,
                                       start_engine, write_spec)
from holystack import load_stack
from holystack.model import Duration
from holystack.spec import read_spec

from .helpers import SIMULATE_START_DEADLINE, SIMULATE_STOP_DEADLINE, answers, prom_query, wait_until

SPEC = Path(__file__).parent / "e2e" / "spec.yaml"
BACKUP = "backup"
PREFIX = "E2E"
RPS = 20
# Seconds for an expected alert to reach its receiver: on idle cores it takes about 10 (rate windows,
# for:, group_wait); 45 was passed once with four xdist workers on two loaded cores. Within the
# simulator's 120 s of traffic (SIMULATE_SECONDS), which starts before the wait does; the waits end
# as soon as the alert arrives, so the bound costs only a failing run.
ALERT_DEADLINE = 90.0
SIMULATE_SECONDS = 120
QUIET_SECONDS = 14.0      # rate windows (4s) + for (3s) + group_wait (1s) + evaluation and send slack
# A share is checked against what the fake upstream draws for each attempt (independently, with the
# scenario's probability p): over the n attempts counted so far it is binomial, so it may stray by
# SHARE_SIGMAS standard errors, sqrt(p(1-p)/n), wherever the machine's speed puts n (one check in
# about 150,000 fails by chance). Attempts still in flight are not counted yet: the slowest kind
# (a timeout, held for the provider's timeout) trails by at most its share x timeout / traffic time.
SHARE_SIGMAS = 4.5
PROVIDER_TIMEOUT = Duration.parse(read_spec(SPEC)["providers"][0]["timeout"]).seconds
# The fake answers well inside each endpoint's p95 threshold outside the slow and timeouts scenarios,
# so an attempt slower than that is the loaded machine's doing, and LatencyP95High then tells the
# truth: it may come with any scenario when Prometheus' histogram holds such attempts.
LATENCY_THRESHOLDS = {e.path: stack.latency_p95_of(e) for stack in [load_stack(SPEC)] for e in stack.endpoints}
SLOW_MACHINE = "LatencyP95High"
# The same for logical calls: a loaded machine may make more than the latency SLO's budget of them
# slower than its threshold, and LatencyBudgetBurn tells the truth too.
LATENCY_SLO_THRESHOLDS = {e.path: e.latency_slo.threshold.seconds for e in load_stack(SPEC).endpoints
                          if e.latency_slo is not None}
SLOW_CALLS = "LatencyBudgetBurn"
SLACK_TITLE = re.compile(r"\[(FIRING|RESOLVED)(?::\d+)?\] (\S+)(?: \((\w+)\))?")

pytestmark = pytest.mark.usefixtures("servers")


@dataclass(frozen=True)
class Delivery:
    receiver: str
    status: str
    alertname: str
    severity: str


def deliveries(notifications: list[Notification]) -> set[Delivery]:
    """Who got what: webhook payloads carry labels; Slack messages carry holystack's title."""
    found = set()
    for n in notifications:
        receiver = n.path.strip("/")
        payload = n.payload
        if "alerts" in payload:
            for alert in payload["alerts"]:
                labels = alert["labels"]
                found.add(Delivery(receiver, alert["status"], labels["alertname"], labels.get("severity", "")))
        for attachment in payload.get("attachments", []):
            match = SLACK_TITLE.match(attachment["title"])
            assert match, f"slack title not holystack's: {attachment['title']!r}"
            found.add(Delivery(receiver, match[1].lower(), match[2], match[3] or ""))
    return found


@dataclass
class Live:
    stack: Any  # RunningStack, or RunningVmStack: out, prometheus (the query API), alertmanager
    capture: CaptureServer
    simulator: subprocess.Popen
    started: float

    def query(self, expr: str) -> list[dict]:
        return prom_query(self.stack.prometheus.url, expr)

    def counts(self, metric: str) -> dict[str, float]:
        """A counter's values by status_code at the last scrape: exact counts since the simulator
        started (no rate window, no extrapolation of series that began inside one)."""
        found: dict[str, float] = {}
        for result in self.query(f"sum by (status_code) ({metric})"):
            found[result["metric"].get("status_code", "")] = float(result["value"][1])
        return found

    def above(self, histogram: str, thresholds: dict[str, float]) -> float:
        """Observations of a histogram above their endpoint's threshold, from its exact buckets
        (the thresholds are bucket bounds of the spec's latency_buckets)."""
        buckets: dict[tuple[str, float], float] = {}
        for result in self.query(f"sum by (endpoint, le) ({histogram}_bucket)"):
            labels = result["metric"]
            buckets[labels["endpoint"], float(labels["le"])] = float(result["value"][1])
        return sum(buckets.get((path, math.inf), 0.0) - buckets.get((path, threshold), 0.0)
                   for path, threshold in thresholds.items())

    def slow_attempts(self) -> float:
        """Attempts slower than their endpoint's p95 threshold."""
        return self.above("e2e_request_duration_seconds", LATENCY_THRESHOLDS)

    def allowed(self, kinds: set[str]) -> set[str]:
        """The alert names the kinds allow, plus LatencyP95High when the machine made attempts slow,
        and LatencyBudgetBurn when it made logical calls slower than the latency SLO's threshold."""
        names = {PREFIX + k for k in kinds}
        if PREFIX + SLOW_MACHINE not in names and self.slow_attempts() > 0:
            names.add(PREFIX + SLOW_MACHINE)
        if PREFIX + SLOW_CALLS not in names and self.above("e2e_call_duration_seconds", LATENCY_SLO_THRESHOLDS) > 0:
            names.add(PREFIX + SLOW_CALLS)
        return names

    def alertmanager_alerts(self) -> set[str]:
        with urllib.request.urlopen(f"{self.stack.alertmanager.url}/api/v2/alerts", timeout=10) as response:
            return {alert["labels"]["alertname"] for alert in json.load(response)}

    def firing(self) -> set[Delivery]:
        return {d for d in deliveries(self.capture.notifications) if d.status == "firing"}


def with_backup(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec with a second provider the first falls back to."""
    first = spec["providers"][0]
    spec["providers"].append({**first, "name": BACKUP})
    spec["resilience"] = {"fallbacks": [{"from": first["name"], "to": BACKUP}]}
    return spec


@contextmanager
def live(tmp_path: Path, scenario: str, engine: str = DEFAULT_ENGINE,
         change: Callable[[dict[str, Any]], dict[str, Any]] = lambda spec: spec) -> Iterator[Live]:
    """Fresh simulator, Prometheus (or vmagent, VictoriaMetrics and vmalert) and Alertmanager for one
    scenario; everything is stopped after. change edits the spec first."""
    capture = CaptureServer().start()
    ports = Ports.free()
    slack_url = tmp_path / "slack-url"
    slack_url.write_text(f"{capture.url}/chat\n")
    spec = fast_spec(loopback_spec(change(read_spec(SPEC)), ports))
    for receiver in spec["alerting"]["receivers"]:
        if "webhook" in receiver:
            receiver["webhook"]["url"] = f"{capture.url}/{receiver['name']}"
        if "slack" in receiver:
            receiver["slack"]["api_url_file"] = str(slack_url)
    spec_path = write_spec(engine_spec(engine, spec), tmp_path / "e2e.yaml")
    simulator = subprocess.Popen(
        [sys.executable, "-m", "holystack", "simulate", str(spec_path), "--scenario", scenario,
         "--duration", f"{SIMULATE_SECONDS}s", "--rps", str(RPS), "--metrics-port", str(ports.metrics), "--seed", "7"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    stack = None

    def simulator_serves() -> None:  # while the stack renders and Alertmanager starts
        assert wait_until(lambda: answers(f"http://127.0.0.1:{ports.metrics}/metrics"), SIMULATE_START_DEADLINE), \
            "simulate did not serve /metrics"

    try:
        stack = start_engine(engine, spec_path, ports, tmp_path / "work", True, simulator_serves)
        yield Live(stack, capture, simulator, time.monotonic())
    finally:
        if stack is not None:
            stack.stop()
        simulator.terminate()
        try:
            output, _ = simulator.communicate(timeout=SIMULATE_STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            simulator.kill()
            output, _ = simulator.communicate()
        capture.stop()
    assert simulator.returncode == 0, output


# scenario -> (the alert kind, severity and receiver expected; the kinds that may come with it; the
# status whose share Prometheus must see, and that share). LatencyBudgetBurn reads the user's wait
# (P_call_duration_seconds): retries, their waits (retry-after, backoff) and timeouts make the logical
# calls slower than /chat/completions' 400ms threshold, so it may come with every failing scenario.
SCENARIOS = {
    # The transport retries 429s, 5xx and timeouts: a fifth of the attempts retried is RetryRatioHigh.
    "rate-limit": (("RateLimitRatioHigh", "critical", "pager"),
                   {"SuccessRatioLow", "RetryRatioHigh", "LatencyBudgetBurn"}, ("429", 0.2)),
    "server-errors": (("ServerErrorRatioHigh", "critical", "pager"),
                      {"SuccessRatioLow", "RetryRatioHigh", "LatencyBudgetBurn"}, ("5..", 0.2)),
    # A timed-out call's latency is the client's timeout: a fifth of them lifts p95 above the threshold.
    "timeouts": (("TimeoutRatioHigh", "warning", "chat"),
                 {"SuccessRatioLow", "LatencyP95High", "RetryRatioHigh", "LatencyBudgetBurn"}, ("timeout", 0.2)),
    # Half the calls take 1.5x latency_p95 (600ms, above the 400ms latency SLO threshold): 50x the
    # 1% latency budget, so every pair of the latency SLO fires, the fast ones paging; p95 goes up too.
    "slow": (("LatencyBudgetBurn", "critical", "pager"), {"LatencyP95High"}, None),
    # With the upstream gone, the breaker opens too, and the refused connections were retried first.
    "outage": (("SuccessRatioLow", "critical", "pager"), {"CircuitBreakerOpen", "RetryRatioHigh", "LatencyBudgetBurn"},
               ("error", 1.0)),
}


def check_share(run: Live, status: str, expected: float) -> None:
    """The share of attempts with a status (a regex) in Prometheus' exact counts is the share the
    fake upstream drew, within the binomial tolerance of their number (see SHARE_SIGMAS)."""
    counts = run.counts("e2e_requests_total")
    attempts = sum(counts.values())
    assert attempts > 0, counts
    measured = sum(v for code, v in counts.items() if re.fullmatch(status, code)) / attempts
    traffic_seconds = time.monotonic() - run.started  # the simulator's traffic began before run.started
    in_flight = expected * PROVIDER_TIMEOUT / traffic_seconds if status == "timeout" else 0.0
    tolerance = SHARE_SIGMAS * math.sqrt(expected * (1 - expected) / attempts)
    assert expected - tolerance - in_flight <= measured <= expected + tolerance, (measured, counts, tolerance)


def check_scenario(run: Live, scenario: str, more_companions: frozenset[str] = frozenset()) -> None:
    """The scenario's alert reaches the receiver its severity routes to, with only its companions."""
    (kind, severity, receiver), companions, share = SCENARIOS[scenario]
    companions = companions | more_companions
    expected = Delivery(receiver, "firing", PREFIX + kind, severity)
    arrived = run.capture.wait_for(lambda n: expected in deliveries(n), ALERT_DEADLINE)
    firing = run.firing()
    assert arrived, f"{expected} did not arrive within {ALERT_DEADLINE}s; got {sorted(map(str, firing))}"
    allowed = run.allowed({kind, *companions})
    assert {d.alertname for d in firing} <= allowed, f"unexpected alerts: {firing}"
    if share:
        check_share(run, *share)
    # Severity routing: a critical alert never lands on the chat receiver, a warning never pages.
    assert all((d.receiver == "pager") == (d.severity == "critical") for d in firing), firing


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_scenario_alert_reaches_its_receiver(tmp_path: Path, scenario: str) -> None:
    with live(tmp_path, scenario) as run:
        check_scenario(run, scenario)


def test_primary_outage_falls_back_and_delivers_its_alerts(tmp_path: Path) -> None:
    """The first provider refuses connections: calls succeed through the backup, the breaker opens
    (CircuitBreakerOpen pages) and the fallback is reported (FallbackActive, a warning)."""
    with live(tmp_path, "primary-outage", change=with_backup) as run:
        expected = {Delivery("pager", "firing", PREFIX + "CircuitBreakerOpen", "critical"),
                    Delivery("chat", "firing", PREFIX + "FallbackActive", "warning")}
        arrived = run.capture.wait_for(lambda n: expected <= deliveries(n), ALERT_DEADLINE)
        firing = run.firing()
        assert arrived, f"{expected} did not all arrive within {ALERT_DEADLINE}s; got {sorted(map(str, firing))}"
        # Retrying refused connections before falling back is what the retry ratio reports.
        # SuccessRatioLow and ErrorBudgetBurn read logical calls: the users saw none fail.
        # The retries' waits before the fallback are in the users' wait: LatencyBudgetBurn may come too.
        allowed = run.allowed({"CircuitBreakerOpen", "FallbackActive", "RetryRatioHigh", "LatencyBudgetBurn"})
        assert {d.alertname for d in firing} <= allowed, f"unexpected alerts: {firing}"
        calls = run.counts("e2e_calls_total")
        succeeded = sum(v for code, v in calls.items() if code.startswith("2"))
        assert succeeded > 0.95 * sum(calls.values()), calls


def test_healthy_traffic_sends_nothing_but_watchdog(tmp_path: Path) -> None:
    with live(tmp_path, "healthy") as run:
        assert wait_until(lambda: PREFIX + "Watchdog" in run.alertmanager_alerts(), 30), "no Watchdog"
        # Enough traffic seen, however long the machine takes to send it, then the quiet time.
        assert wait_until(lambda: sum(run.counts("e2e_requests_total").values()) >= 50, ALERT_DEADLINE), \
            "the healthy traffic did not reach Prometheus"
        time.sleep(max(0.0, QUIET_SECONDS - (time.monotonic() - run.started)))
        allowed = run.allowed({"Watchdog"})
        alerts = run.alertmanager_alerts()
        assert PREFIX + "Watchdog" in alerts and alerts <= allowed, alerts
        sent = deliveries(run.capture.notifications)
        assert {d.alertname for d in sent} <= allowed - {PREFIX + "Watchdog"}, sent


def test_watchdog_reaches_the_configured_dead_mans_switch(tmp_path: Path) -> None:
    def with_deadman(spec: dict[str, Any]) -> dict[str, Any]:
        # A webhook receiver: live() points it at the capture server, at /deadman.
        spec["alerting"]["receivers"].append({"name": "deadman", "webhook": {"url": "http://deadman.invalid/"}})
        spec["alerting"]["watchdog"] = {"receiver": "deadman", "repeat_interval": "2s"}
        return spec

    with live(tmp_path, "healthy", change=with_deadman) as run:
        heartbeat = Delivery("deadman", "firing", PREFIX + "Watchdog", "none")
        first = run.capture.wait_for(lambda n: heartbeat in deliveries(n), ALERT_DEADLINE)
        assert first, f"the Watchdog did not reach the dead man's switch; got {deliveries(run.capture.notifications)}"
        # A heartbeat, not a single notice: it is repeated at repeat_interval.
        assert wait_until(lambda: sum(n.path.strip("/") == "deadman" for n in run.capture.notifications) >= 2, 20)
        assert {d.receiver for d in deliveries(run.capture.notifications)} == {"deadman"}


# Panels that may stay empty in the mixed scenario, with the reason. None today: the mixed
# scenario has 429s, 5xx and timeouts, cached prompts and rate-limit headers.
EMPTY_IN_MIXED: dict[str, str] = {}


def substitute(expr: str, panel: dict) -> str:
    """Grafana's variables as Grafana would fill them with All selected on the fast clock."""
    expr = re.sub(r'=~"\$(provider|endpoint|model)"', '=~".*"', expr)
    return (expr.replace("$__rate_interval", FAST_RATE_WINDOW).replace("$__interval", panel.get("interval") or "2s")
            .replace("$__range", "1m"))


def check_dashboards_have_data(run: Live) -> None:
    """Every target of every rendered dashboard, its variables filled as Grafana would, returns data."""
    targets = []
    for path in sorted((run.stack.out / "grafana" / "dashboards").glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                if panel["title"] not in EMPTY_IN_MIXED:
                    targets.append((f"{path.name}: {panel['title']} [{target.get('refId')}]",
                                    substitute(target["expr"], panel)))
    assert len(targets) >= 15
    empty: list[str] = []

    def all_have_data() -> bool:
        empty[:] = [name for name, expr in targets if not run.query(expr)]
        return not empty

    assert wait_until(all_have_data, 40, step=2), f"no data for: {empty}"


def test_every_dashboard_target_has_data_in_mixed(tmp_path: Path) -> None:
    with live(tmp_path, "mixed") as run:
        check_dashboards_have_data(run)
