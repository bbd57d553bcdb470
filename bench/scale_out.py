"""Scale-out render benchmark. Prints, from one run with interleaved repetitions, the in-process
render of the reference spec with and without its scale-out sections (tests/cases/holysheep-k8s:
Kubernetes objects, remote write, vmalert, Thanos and Mimir rule files): medians, file counts and
bytes, and their ratio. The caches of rule_files and render_grafana are cleared before each render,
so each one builds everything.

Usage: .venv/bin/python bench/scale_out.py [--repeat 15]"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from holystack.model import build_model
from holystack.render import render_stack
from holystack.render.grafana import render_grafana
from holystack.render.prometheus import rule_files
from holystack.spec import read_spec

ROOT = Path(__file__).resolve().parent.parent
SPECS = {"plain": ROOT / "examples" / "holysheep.yaml", "scale-out": ROOT / "tests" / "cases" / "holysheep-k8s" / "spec.yaml"}


def render_seconds(data: dict) -> tuple[float, int, int]:
    rule_files.cache_clear()
    render_grafana.cache_clear()
    started = time.perf_counter()
    files = render_stack(build_model(data, "spec.yaml"))
    return time.perf_counter() - started, len(files), sum(len(text.encode()) for text in files.values())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    repeat = parser.parse_args().repeat
    data = {name: read_spec(path) for name, path in SPECS.items()}
    times: dict[str, list[float]] = {name: [] for name in SPECS}
    sizes = {}
    for _ in range(repeat):
        for name in SPECS:
            seconds, count, size = render_seconds(data[name])
            times[name].append(seconds)
            sizes[name] = (count, size)
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name in SPECS:
        print(f"{name:10} {medians[name] * 1000:7.1f} ms median  {sizes[name][0]:3d} files  {sizes[name][1] / 1024:7.1f} KiB")
    print(f"ratio      {medians['scale-out'] / medians['plain']:.2f}x the time for "
          f"{sizes['scale-out'][1] / sizes['plain'][1]:.2f}x the bytes")


if __name__ == "__main__":
    main()
