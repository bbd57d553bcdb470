"""validate benchmark. Prints, from one run with interleaved repetitions, for the reference spec:
- `promtool check rules` on the rendered rule files (the unit);
- `holystack validate --strict` (wall), as a ratio to that unit;
- the tool phase alone: the promtool and amtool commands validate runs, run the way validate runs
  them (side by side, one per core), so that the rest is holystack's own time.

With --baseline DIR (an earlier holystack, e.g. `git archive main | tar -x -C /tmp/base`),
the same is measured for that checkout in the same run, each with the stack it renders itself.
Every command runs in a temporary folder: `python -m` puts its working folder first on the path.

Usage: .venv/bin/python bench/validate.py [--repeat 7] [--baseline DIR]"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "holysheep.yaml"
# The tool phase of a checkout's validate, alone: its own runner on its own rendered folder.
TOOL_PHASE = """
import sys, time
from pathlib import Path
from holystack.pipeline import load_stack
from holystack.render import render_stack
from holystack.checks import tools
out = Path(sys.argv[1])
files = render_stack(load_stack(Path(sys.argv[2])))
rel = lambda prefix: sorted(p.removeprefix("prometheus/") for p in files if p.startswith(prefix))
rules, tests = rel("prometheus/rules/"), rel("prometheus/tests/")
started = time.perf_counter()
results = list(tools.tool_checks(out, rules, tests))
print(time.perf_counter() - started)
assert all(r.status == "pass" for r in results), results
"""


def timed(command: list[str], env: dict[str, str], cwd: Path | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env, cwd=cwd)
    return time.perf_counter() - started


def tool_phase(env: dict[str, str], out: Path, cwd: Path) -> float:
    done = subprocess.run([sys.executable, "-c", TOOL_PHASE, str(out), str(EXAMPLE)], check=True,
                          capture_output=True, text=True, env=env, cwd=cwd)
    return float(done.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--baseline", type=Path, help="an earlier checkout, measured in the same run")
    args = parser.parse_args()
    checkouts = {"this": ROOT, **({"baseline": args.baseline.resolve()} if args.baseline else {})}
    with tempfile.TemporaryDirectory() as tmp:
        envs, outs = {}, {}
        for name, root in checkouts.items():
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(root / "holystack")], check=True)
            envs[name] = {**os.environ, "PYTHONPATH": str(root)}
            outs[name] = Path(tmp) / name
            subprocess.run([sys.executable, "-m", "holystack", "render", str(EXAMPLE), "-o", str(outs[name])],
                           check=True, capture_output=True, env=envs[name], cwd=tmp)
        prometheus = outs["this"] / "prometheus"
        rules = sorted(str(p.relative_to(prometheus)) for p in (prometheus / "rules").glob("*.yml"))
        samples: dict[str, list[float]] = {"promtool check rules": []}
        for name in checkouts:
            samples[f"validate --strict ({name})"] = []
            samples[f"tool phase ({name})"] = []
        for _ in range(args.repeat):  # interleaved, so machine noise hits all alike
            samples["promtool check rules"].append(timed(["promtool", "check", "rules", *rules], dict(os.environ),
                                                         prometheus))
            for name in checkouts:
                samples[f"validate --strict ({name})"].append(timed(
                    [sys.executable, "-m", "holystack", "validate", str(EXAMPLE), "-o", str(outs[name]), "--strict"],
                    envs[name], Path(tmp)))
                samples[f"tool phase ({name})"].append(tool_phase(envs[name], outs[name], Path(tmp)))
    median = {name: statistics.median(values) for name, values in samples.items()}
    for name, value in median.items():
        print(f"{name:28s} median {value * 1000:9.1f} ms  (n={args.repeat})")
    unit = median["promtool check rules"]
    for name in checkouts:
        wall, tools = median[f"validate --strict ({name})"], median[f"tool phase ({name})"]
        print(f"validate --strict ({name}) / promtool check rules = {wall / unit:.0f}x  (goal <= 80x; <= 3 s wall)")
        print(f"  of which the promtool/amtool phase: {tools:.2f} s = {100 * tools / wall:.0f}% of validate's wall")


if __name__ == "__main__":
    main()
