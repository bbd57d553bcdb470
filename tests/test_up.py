"""`holystack up` as the README runs it: the playground comes up, an alert reaches a receiver,
and Ctrl-C stops every server it started."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest

from .conftest import EXAMPLE
from .helpers import answers, read_until

pytestmark = pytest.mark.usefixtures("servers")
DEADLINE = 60.0


def test_up_runs_the_stack_and_ctrl_c_stops_it(tmp_path) -> None:
    process = subprocess.Popen([sys.executable, "-m", "holystack", "up", str(EXAMPLE), "--scenario", "rate-limit",
                                "--workdir", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        output = read_until(process, "-> oncall: firing HolySheepRateLimitRatioHigh", DEADLINE)
        assert "-> oncall: firing HolySheepRateLimitRatioHigh (critical)" in output, output
        prometheus = re.search(r"Prometheus\s+(http://127\.0\.0\.1:\d+)", output)[1]
        alertmanager = re.search(r"Alertmanager\s+(http://127\.0\.0\.1:\d+)", output)[1]
        assert answers(f"{prometheus}/-/ready") and answers(f"{alertmanager}/-/ready")
    finally:
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output + rest
    assert not answers(f"{prometheus}/-/ready") and not answers(f"{alertmanager}/-/ready")
    assert (tmp_path / "out" / "prometheus" / "prometheus.yml").is_file()
