"""doctor benchmark. Starts the reference spec's stack on loopback (Prometheus, Alertmanager, fed by
simulate, on the fast clock, as `holystack up` does), waits until doctor finds it healthy, then runs
doctor ROUNDS times: prints the median wall time of one run and the HTTP requests one run makes.

Usage: .venv/bin/python bench/doctor.py [--rounds 11]"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from holystack.doctor import doctor
from holystack.doctor.http import Api
from holystack.live.capture import CaptureServer
from holystack.live.playground import Ports, fast_spec, loopback_spec, start_stack, write_spec
from holystack.spec import read_spec

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "holysheep.yaml"
HEALTHY_DEADLINE = 90.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=11)
    rounds = parser.parse_args().rounds
    requests = [0]
    text = Api.text

    def counted(self: Api, path: str, params: dict[str, str] | None = None) -> str:
        requests[0] += 1
        return text(self, path, params)
    Api.text = counted  # type: ignore[method-assign]
    capture = CaptureServer().start()
    with tempfile.TemporaryDirectory(prefix="holystack-bench-doctor-") as tmp:
        root, ports = Path(tmp), Ports.free()
        spec = write_spec(fast_spec(loopback_spec(read_spec(EXAMPLE), ports, capture.url)), root / "spec.yaml")
        simulator = subprocess.Popen([sys.executable, "-m", "holystack", "simulate", str(spec), "--scenario", "healthy",
                                      "--duration", "600s", "--rps", "10", "--metrics-port", str(ports.metrics)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        stack = start_stack(spec, ports, root / "work")
        try:
            run = lambda: doctor(spec, stack.out, stack.prometheus.url, stack.alertmanager.url, 10.0)  # noqa: E731
            deadline = time.monotonic() + HEALTHY_DEADLINE
            while run().failed and time.monotonic() < deadline:
                time.sleep(1)
            report = run()
            assert not report.failed, "\n".join(f.line() for f in report.findings)
            seconds = []
            for _ in range(rounds):
                requests[0] = 0
                started = time.perf_counter()
                run()
                seconds.append(time.perf_counter() - started)
            print(f"doctor on the reference spec ({len(report.healthy)} checks healthy): "
                  f"median {statistics.median(seconds) * 1000:.0f} ms per run over {rounds} runs, "
                  f"{requests[0]} HTTP requests per run")
        finally:
            stack.stop()
            simulator.terminate()
            simulator.wait(20)
            capture.stop()


if __name__ == "__main__":
    main()
