"""Render benchmark. Prints, from one run with interleaved repetitions:
- the cold render of the reference spec as a ratio to a bare import of its dependencies;
- the render of a generated 300-model x 30-endpoint spec as a ratio to the reference;
- the rule count of both specs (rules must grow with models + endpoints, not their product);
- each median in CPU time too (user + system), which other jobs on a shared machine inflate less.

holystack's bytecode is compiled first, as `pip install` does for an installed package and as it
did for the dependencies the floor imports: an editable checkout with PYTHONDONTWRITEBYTECODE set
would otherwise recompile every module on every run.

With --baseline DIR (a checkout of an earlier holystack, e.g. from `git archive`), its renders
are measured in the same run, interleaved with this checkout's. A checkout keeps its templates at
the top level (templates/, which pyproject ships as holystack.templates); imported from
PYTHONPATH, the baseline would read the installed holystack's templates instead of its own, so the
bench links DIR/holystack/templates to DIR/templates first.

Usage: .venv/bin/python bench/render.py [--repeat 9] [--baseline DIR]"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml
from checkouts import Samples, own_templates, report_medians, timed

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "holysheep.yaml"
# The floor (issue 18): the dependencies every render needs; promql_parser and re2 are only validate's.
IMPORTS = "import yaml, jinja2, jsonschema, typer, grafanalib.core"


def big_spec(models: int, endpoints: int) -> dict:
    spec = yaml.safe_load(EXAMPLE.read_text())
    spec["models"] = [{"name": f"vendor-{i % 7}/model-{i}.v1", "prices": {"input": 1 + i % 5, "output": 2 + i % 3,
                                                                        "cached_input": 0.5}} for i in range(models)]
    spec["endpoints"] = [{"path": f"/v1/endpoint-{i}", "latency_p95": f"{1 + i % 9}s", "availability": 99.5}
                         for i in range(endpoints)]
    return spec


def rule_count(out: Path) -> int:
    return sum(len(g["rules"]) for f in (out / "prometheus" / "rules").glob("*.yml")
               for g in yaml.safe_load(f.read_text())["groups"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--baseline", type=Path, help="an earlier checkout, measured in the same run")
    args = parser.parse_args()
    checkouts = {"": ROOT, **({" (baseline)": args.baseline.resolve()} if args.baseline else {})}
    if args.baseline:
        own_templates(args.baseline.resolve())
    envs = {}
    for name, root in checkouts.items():
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(root / "holystack")], check=True)
        envs[name] = {**os.environ, "PYTHONPATH": str(root)}
    holystack = [sys.executable, "-m", "holystack", "render"]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        big = work / "big.yaml"
        big.write_text(yaml.safe_dump(big_spec(300, 30), sort_keys=False))
        commands: dict[str, tuple[list[str], dict[str, str] | None]] = {
            "import floor": ([sys.executable, "-c", IMPORTS], None)}
        for name, env in envs.items():
            commands[f"render example{name}"] = ([*holystack, str(EXAMPLE), "-o", str(work / f"example{name}")], env)
            commands[f"render 300x30{name}"] = ([*holystack, str(big), "-o", str(work / f"big{name}")], env)
        samples: Samples = {name: [] for name in commands}
        for _ in range(args.repeat):  # interleaved, so machine noise hits all alike
            for name, (command, env) in commands.items():
                samples[name].append(timed(command, env, work))
        median, cpu = report_medians(samples, args.repeat)
        for name in envs:
            example, large = f"render example{name}", f"render 300x30{name}"
            print(f"{example} / import floor = {median[example] / median['import floor']:.2f}x wall, "
                  f"{cpu[example] / cpu['import floor']:.2f}x CPU  (goal <= 1.3x)")
            print(f"{large} / {example} = {median[large] / median[example]:.2f}x wall, "
                  f"{cpu[large] / cpu[example]:.2f}x CPU  (goal <= 3x)")
        small, large = rule_count(work / "example"), rule_count(work / "big")
        print(f"rules: example {small} (5 models, 2 endpoints); 300x30 spec {large} "
              f"(models + endpoints = 330, models x endpoints = 9000)")


if __name__ == "__main__":
    main()
