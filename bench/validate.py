"""validate benchmark. Prints, from one run with interleaved repetitions, for the reference spec:
- `promtool check rules` on the rendered rule files (the unit);
- `holystack validate --strict` (wall), as a ratio to that unit;
- the tool phase alone: the promtool and amtool commands validate runs, run the way validate runs
  them (side by side, one per core), so that the rest is holystack's own time;
- the CPU time (user + system, the tools included) of each, which other jobs on a shared machine
  inflate far less than wall time.

With --baseline DIR (an earlier holystack, e.g. `git archive main | tar -x -C /tmp/base`),
the same is measured for that checkout in the same run, each with the stack it renders itself.
Every command runs in a temporary folder: `python -m` puts its working folder first on the path.

Usage: .venv/bin/python bench/validate.py [--repeat 7] [--baseline DIR]"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from checkouts import Samples, children_cpu, own_templates, report_medians, timed

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
own = time.process_time()
rel = lambda prefix: sorted(p.removeprefix("prometheus/") for p in files if p.startswith(prefix))
rules, tests = rel("prometheus/rules/"), rel("prometheus/tests/")
started = time.perf_counter()
results = list(tools.tool_checks(out, rules, tests))
print(time.perf_counter() - started, own)
assert all(r.status == "pass" for r in results), results
"""


def tool_phase(env: dict[str, str], out: Path, cwd: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of the tool phase; its CPU is the process's less its own render's."""
    cpu = children_cpu()
    done = subprocess.run([sys.executable, "-c", TOOL_PHASE, str(out), str(EXAMPLE)], check=True,
                          capture_output=True, text=True, env=env, cwd=cwd)
    wall, own = (float(x) for x in done.stdout.split())
    return wall, children_cpu() - cpu - own


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--baseline", type=Path, help="an earlier checkout, measured in the same run")
    args = parser.parse_args()
    checkouts = {"this": ROOT, **({"baseline": args.baseline.resolve()} if args.baseline else {})}
    if args.baseline:
        own_templates(args.baseline.resolve())  # its own templates, not this checkout's (bench/checkouts.py)
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
        samples: Samples = {"promtool check rules": []}
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
    wall, cpu = report_medians(samples, args.repeat)
    for name in checkouts:
        run, tools = f"validate --strict ({name})", f"tool phase ({name})"
        print(f"{run} / promtool check rules = {wall[run] / wall['promtool check rules']:.0f}x wall, "
              f"{cpu[run] / cpu['promtool check rules']:.0f}x CPU  (goal <= 80x; <= 3 s wall)")
        print(f"  of which the promtool/amtool phase: {wall[tools]:.2f} s wall = {100 * wall[tools] / wall[run]:.0f}%, "
              f"{cpu[tools]:.2f} s CPU = {100 * cpu[tools] / cpu[run]:.0f}% of validate's")


if __name__ == "__main__":
    main()
