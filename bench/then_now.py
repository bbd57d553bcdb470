"""Then and now. Prints, from one run with interleaved repetitions, for an earlier checkout and this
one, each on its own reference spec (examples/holysheep.yaml as it was then: an old checkout may
refuse today's spec, which bench/validate.py and bench/render.py give both):
- `holystack validate --strict` against `promtool check rules` on the rule files it rendered;
- `holystack render` against the import floor (`import yaml, jinja2, jsonschema, typer, grafanalib.core`);
- medians of wall and CPU time (user + system, the tools included).
Both checkouts' bytecode is compiled first, as an install does.

Usage: .venv/bin/python bench/then_now.py --then DIR [--repeat 5]   (DIR: `git archive REV | tar -x -C DIR`)"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from checkouts import Samples, own_templates, report_medians, timed
from render import IMPORTS

ROOT = Path(__file__).resolve().parent.parent
SPEC = Path("examples") / "holysheep.yaml"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--then", type=Path, required=True, help="an earlier checkout")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    checkouts = {"then": args.then.resolve(), "now": ROOT}
    own_templates(checkouts["then"])
    samples: Samples = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        envs = {name: {**os.environ, "PYTHONPATH": str(root)} for name, root in checkouts.items()}
        for name, root in checkouts.items():
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(root / "holystack")], check=True)
            subprocess.run([sys.executable, "-m", "holystack", "render", str(root / SPEC), "-o", str(work / name)],
                           check=True, capture_output=True, env=envs[name], cwd=work)
        for _ in range(args.repeat):  # interleaved, so machine noise hits all alike
            for name, root in checkouts.items():
                out, env = work / name, envs[name]
                rules = sorted(str(p) for p in (out / "prometheus" / "rules").glob("*.yml"))
                measured = {
                    "promtool check rules": (["promtool", "check", "rules", *rules], dict(os.environ)),
                    "validate --strict": ([sys.executable, "-m", "holystack", "validate", str(root / SPEC), "-o",
                                           str(out), "--strict"], env),
                    "render": ([sys.executable, "-m", "holystack", "render", str(root / SPEC), "-o",
                                str(work / f"{name}-render")], env),
                    "import floor": ([sys.executable, "-c", IMPORTS], dict(os.environ)),
                }
                for what, (command, command_env) in measured.items():
                    samples.setdefault(f"{name}: {what}", []).append(timed(command, command_env, work))
    wall, _ = report_medians(samples, args.repeat)
    for name in checkouts:
        validate, unit = wall[f"{name}: validate --strict"], wall[f"{name}: promtool check rules"]
        render, floor = wall[f"{name}: render"], wall[f"{name}: import floor"]
        print(f"{name}: validate --strict {validate:.2f} s = {validate / unit:.0f}x promtool check rules (goal <= 80x, "
              f"<= 3 s); render = {render / floor:.2f}x the import floor (goal <= 1.3x)")


if __name__ == "__main__":
    main()
