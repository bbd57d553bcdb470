"""What the benches that time commands (and measure an earlier checkout, --baseline DIR) share.

A checkout keeps its templates at the top level (templates/, which pyproject ships as
holystack.templates); imported from PYTHONPATH, a baseline would read the installed holystack's
templates instead of its own (the editable finder maps holystack.templates to this checkout's), so
a template change would make it render other bytes."""
from __future__ import annotations

import os
import resource
import statistics
import subprocess
import time
from pathlib import Path

Samples = dict[str, list[tuple[float, float]]]  # name -> (wall, CPU) seconds of each repetition


def own_templates(root: Path) -> None:
    """Make a checkout's templates importable as holystack.templates from PYTHONPATH."""
    link = root / "holystack" / "templates"
    if not link.exists() and (root / "templates").is_dir():
        link.symlink_to(Path("..") / "templates")


def children_cpu() -> float:
    """User + system seconds of every finished child process (and the children they waited for)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> tuple[float, float]:
    """(wall, CPU) seconds of one command, its child processes included. Run in cwd (a temporary
    folder): `python -m` puts its working folder first on the path."""
    started, cpu = time.perf_counter(), children_cpu()
    subprocess.run(command, check=True, capture_output=True, env=env, cwd=cwd)
    return time.perf_counter() - started, children_cpu() - cpu


def report_medians(samples: Samples, repeat: int) -> tuple[dict[str, float], dict[str, float]]:
    """Print the load average and each name's median wall and CPU time; (wall, CPU) medians by name."""
    wall = {name: statistics.median(w for w, _ in values) for name, values in samples.items()}
    cpu = {name: statistics.median(c for _, c in values) for name, values in samples.items()}
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    width = max(map(len, wall))
    for name in wall:
        print(f"{name:{width}s} median {wall[name] * 1000:9.1f} ms wall  {cpu[name] * 1000:9.1f} ms CPU  (n={repeat})")
    return wall, cpu
