"""`holystack up --source`: the playground on another metric source, fed by that source's live app
(otel-genai: the openai SDK with opentelemetry-instrumentation-openai-v2 and the Prometheus exporter;
litellm: the real LiteLLM proxy, with the openai SDK calling it) in front of the fake upstream,
scraped by the real Prometheus; and the refusals, each one line, exit 2, before anything starts.
The otel extra must be installed (the otel_extra fixture fails its test otherwise), and the LiteLLM proxy
(`up` fails, not skips, without it)."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from holystack import load_stack
from holystack.errors import UsageError
from holystack.live.apps import OTEL_APP, live_app
from holystack.sources import source_names

from .conftest import EXAMPLE
from .helpers import PROXY_UP_STOP_SECONDS, answers, prom_query, read_until

DEADLINE = 90.0
LITELLM_DEADLINE = 240.0  # the proxy imports its whole server before it listens (up to 120 s here)


def up(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> "subprocess.Popen[str]":
    return subprocess.Popen([sys.executable, "-m", "holystack", "up", str(EXAMPLE), *args, "--workdir", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})


@pytest.mark.usefixtures("servers", "otel_extra")
def test_up_on_otel_genai_runs_its_app_and_ctrl_c_stops_it(tmp_path: Path) -> None:
    process = up(tmp_path, "--source", "otel-genai", "--scenario", "rate-limit")
    output = ""
    try:
        output = read_until(process, "-> oncall: firing HolySheepRateLimitRatioHigh", DEADLINE)
        assert "-> oncall: firing HolySheepRateLimitRatioHigh (critical)" in output, output
        assert "spec on otel-genai: metrics.latency_buckets: dropped" in output, output
        prometheus = re.search(r"Prometheus\s+(http://127\.0\.0\.1:\d+)", output)[1]
        metrics = re.search(r"metrics\s+(http://127\.0\.0\.1:\d+)/metrics", output)[1]
        # What fired was read from the app's OpenTelemetry series, not from holystack's contract.
        assert prom_query(prometheus, 'gen_ai_client_operation_duration_seconds_count{error_type=~".*RateLimitError.*"}')
        assert not prom_query(prometheus, "holysheep_requests_total")
    finally:
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=40)
    assert process.returncode == 0, output + rest
    assert not answers(f"{prometheus}/-/ready") and not answers(f"{metrics}/metrics")
    assert load_stack(tmp_path / EXAMPLE.name).source.name == "otel-genai"  # the spec up rendered


def test_up_on_an_unknown_source_is_refused(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "holystack", "up", str(EXAMPLE), "--source", "nope",
                           "--workdir", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"--source: 'nope' is not a metric source; pick one of {', '.join(source_names())}" in done.stderr
    assert "Traceback" not in done.stderr and not any(tmp_path.iterdir())


def test_up_on_otel_genai_without_the_extra_names_it(tmp_path: Path) -> None:
    # A regular package called opentelemetry first on the path hides the installed one's modules.
    shadow = tmp_path / "shadow" / "opentelemetry"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("", "utf-8")
    work = tmp_path / "work"
    work.mkdir()
    process = up(work, "--source", "otel-genai", env={"PYTHONPATH": str(shadow.parent)})
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 2, out
    assert out.strip().splitlines()[-1].endswith("install the otel extra: pip install 'holystack[otel]'"), out
    assert "Traceback" not in out and not any(work.iterdir())


def test_a_source_without_a_live_app_is_refused_by_name() -> None:
    with pytest.raises(UsageError, match=r"--source: metrics.source made-up has no live app to run yet; "
                                         r"`up` runs holystack, litellm, otel-genai$"):
        live_app("made-up")
    assert live_app("otel-genai") is OTEL_APP


@pytest.mark.usefixtures("servers")
def test_up_on_litellm_runs_the_proxy_and_ctrl_c_stops_it(tmp_path: Path) -> None:
    process = up(tmp_path, "--source", "litellm", "--scenario", "rate-limit")
    output = ""
    try:
        output = read_until(process, "-> oncall: firing HolySheepRateLimitRatioHigh", LITELLM_DEADLINE)
        assert "-> oncall: firing HolySheepRateLimitRatioHigh (critical)" in output, output
        prometheus = re.search(r"Prometheus\s+(http://127\.0\.0\.1:\d+)", output)[1]
        metrics = re.search(r"metrics\s+(http://127\.0\.0\.1:\d+)/metrics/", output)[1]
        # Read from the proxy's own series, scraped with its master key from a file.
        assert prom_query(prometheus, 'litellm_deployment_failure_responses_total{exception_status="429"}')
        assert not prom_query(prometheus, "holysheep_requests_total")
    finally:
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=PROXY_UP_STOP_SECONDS)
    assert process.returncode == 0, output + rest
    assert not answers(f"{prometheus}/-/ready") and not answers(f"{metrics}/health/liveliness")
    stack = load_stack(tmp_path / EXAMPLE.name)
    assert stack.source.name == "litellm" and stack.jobs[0].authorization is not None
