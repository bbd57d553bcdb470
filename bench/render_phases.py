"""Where a cold render's CPU goes, phase by phase: the import floor (bench/render.py's), holystack's
own import (the CLI and all it loads), reading the spec, each renderer of holystack.render.RENDERERS,
and writing OUT. Each repetition is a fresh process (cold, as `holystack render` runs); the medians
of CPU time (time.process_time) are printed, with each phase's share of what lies above the floor.

It tells which phase to cut, not the ratio to the floor: bench/render.py measures that, over the
whole command. holystack's bytecode is compiled first, as in bench/render.py.

Usage: .venv/bin/python bench/render_phases.py [--repeat 9] [SPEC]"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "holysheep.yaml"
FLOOR = "import floor"

# Run in the measured process: prints {phase: CPU seconds} as JSON.
PHASES = f"""
import json, sys, time
from pathlib import Path
clock = time.process_time
times = {{}}
start = clock()
{"import yaml, jinja2, jsonschema, typer, grafanalib.core"}
times[{FLOOR!r}] = clock() - start
start = clock()
import holystack.cli
from holystack.output import with_manifest, write_tree
from holystack.render import RENDERERS
from holystack.spec import read_stack
times["holystack import"] = clock() - start
start = clock()
stack = read_stack(Path(sys.argv[1]))
times["read spec"] = clock() - start
files = {{}}
for renderer in RENDERERS:
    start = clock()
    files.update(renderer(stack))
    times[renderer.__name__] = clock() - start
start = clock()
write_tree(with_manifest(files), Path(sys.argv[2]))
times["write OUT"] = clock() - start
print(json.dumps(times))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("spec", type=Path, nargs="?", default=EXAMPLE)
    args = parser.parse_args()
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "holystack")], check=True)
    runs: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeat):
            done = subprocess.run([sys.executable, "-c", PHASES, str(args.spec.resolve()), str(Path(tmp) / "out")],
                                  check=True, capture_output=True, text=True, cwd=tmp)
            runs.append(json.loads(done.stdout))
    median = {phase: statistics.median(run[phase] for run in runs) for phase in runs[0]}
    above = sum(value for phase, value in median.items() if phase != FLOOR)
    print(f"{args.spec.name}: median CPU of {args.repeat} cold processes")
    for phase, value in median.items():
        share = "" if phase == FLOOR else f"  {value / above:6.1%} of what lies above the floor"
        print(f"  {phase:22s} {value * 1000:7.1f} ms{share}")
    print(f"  {'above the floor':22s} {above * 1000:7.1f} ms = {above / median[FLOOR]:.2f}x the floor")


if __name__ == "__main__":
    main()
