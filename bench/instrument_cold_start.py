"""Cold start of the README's instrumentation one-liner, in one run of interleaved cold subprocesses:

- floor: `import prometheus_client, httpx`;
- one-liner: `from holystack.instrument import Instrument, http_client`, `Instrument.from_spec(spec)` of
  the reference spec and `http_client(instrument, provider="holysheep")` (what an application runs
  before its first call; the openai SDK's own import is the application's and not counted);
- the same with the generator loaded as well (`import holystack.pipeline` first): what from_spec
  cost when it went through the pipeline, for comparison in the same run.

Each subprocess times only its statements (the interpreter's own start is the same for all).
holystack's bytecode is compiled first, as an install does.

Usage: .venv/bin/python bench/instrument_cold_start.py [--runs 15]"""
from __future__ import annotations

import argparse
import compileall
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "holysheep.yaml"
FLOOR = "import prometheus_client, httpx"
ONE_LINER = ("from holystack.instrument import Instrument, http_client; "
             f"instrument = Instrument.from_spec({str(EXAMPLE)!r}); "
             "http_client(instrument, provider='holysheep')")
STATEMENTS = {
    "import prometheus_client, httpx": FLOOR,
    "one-liner": ONE_LINER,
    "one-liner + generator": "import holystack.pipeline; " + ONE_LINER,
}


def seconds(statement: str) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return float(done.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15, help="cold subprocesses per statement")
    args = parser.parse_args()
    compileall.compile_dir(str(ROOT / "holystack"), quiet=1)
    samples: dict[str, list[float]] = {name: [] for name in STATEMENTS}
    for _ in range(args.runs):  # interleaved, so machine noise hits all alike
        for name, statement in STATEMENTS.items():
            samples[name].append(seconds(statement))
    median = {name: statistics.median(values) for name, values in samples.items()}
    floor = median["import prometheus_client, httpx"]
    for name, value in median.items():
        print(f"{name:32s} median {value * 1e3:7.1f} ms  {value / floor:5.2f}x the floor  (n={args.runs})")


if __name__ == "__main__":
    main()
