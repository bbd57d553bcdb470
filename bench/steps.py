"""Counter-step benchmark (issue 22): what one evaluation of each step rule costs, before and after.

The scale benchmark's spec (5 providers x 8 endpoints x 60 models, 2,400 combinations) and raw
history at 15-second resolution (bench/scale.py), plus the target's `up` and
`process_start_time_seconds`, backfilled into a real Prometheus 2.42. Each step expression (calls,
failed calls, cost) is evaluated ROUNDS times in the rule holystack had before (a missing previous
sample adds the whole counter), in the first rule of issue 22 (the previous sample read by an instant
selector, which a failed scrape's staleness markers hide) and in today's (recording.counter_step: the
previous sample is the last real one over the bound), interleaved, at instants inside the history,
with stats=all. It prints the median evaluation time of each, today's ratio to the rule before, and
the samples each reads. Run it under `nice -n 10`:

    nice -n 10 .venv/bin/python bench/steps.py [--rounds N]
"""
from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scale import CALLS_PER_SECOND, RESOLUTION_SECONDS, failed_share, get, scale_spec  # noqa: E402

from holystack import contract as c  # noqa: E402
from holystack.live.backfill import Backfilled, Traffic, backfill_openmetrics, contract_lines, write_lines  # noqa: E402
from holystack.live.playground import Ports, write_spec  # noqa: E402
from holystack.model import Duration, Stack  # noqa: E402
from holystack.pipeline import load_stack  # noqa: E402
from holystack.promql import by, matcher, selector  # noqa: E402
from holystack.render import recording  # noqa: E402
from holystack.series import TOKEN_LABELS  # noqa: E402

HISTORY_SECONDS = 3600
ROUNDS = 41


def whole_counter_step(stack: Stack, counter: str, labels: tuple[str, ...]) -> str:
    """The step before issue 22."""
    lag, step = stack.slowest_scrape, stack.evaluation_interval
    now, before = f"{counter} offset {lag}", f"{counter} offset {Duration(lag.ms + step.ms)}"
    return f"sum {by(labels)} (({now} - {before}) >= 0 or {now})"


def instant_before_step(stack: Stack, counter: str, labels: tuple[str, ...]) -> str:
    """Today's step with the previous sample read by an instant selector (issue 22 before its gap fix)."""
    before = Duration(stack.slowest_scrape.ms + stack.evaluation_interval.ms)
    ranged = f"last_over_time({counter}[{recording.gap_bound(stack)}] offset {before})"
    return recording.counter_step(stack, counter, labels).replace(ranged, f"{counter} offset {before}")


def target_lines(lines: Iterator[str], target: dict[str, str], start: int, samples: int) -> Iterator[str]:
    """The contract's lines, then up and the process start time of the target (started before the history)."""
    labels = "{" + ",".join(f'{k}="{v}"' for k, v in target.items()) + "}"
    for line in lines:
        if line == "# EOF":
            break
        yield line
    for name, value in (("up", 1), (c.PROCESS_START, start - 86400)):
        yield f"# TYPE {name} gauge"
        for i in range(samples):
            yield f"{name}{labels} {value} {start + i * RESOLUTION_SECONDS}"
    yield "# EOF"


def expressions(stack: Stack) -> dict[str, str]:
    contract = stack.contract
    failed = selector(contract.calls.name, matcher(c.STATUS_CODE, c.FAILED, "=~"))
    return {"calls": (contract.calls.name, (c.ENDPOINT,)), "failed calls": (failed, (c.ENDPOINT,)),
            "cost (tokens)": (contract.tokens.name, TOKEN_LABELS)}


def evaluate(url: str, expr: str, at: float) -> tuple[float, int]:
    data = get(url, "/api/v1/query", query=expr, time=at, stats="all")
    stats = data["stats"]
    return stats["timings"]["execTotalTime"], stats["samples"]["totalQueryableSamples"]


def main() -> int:
    rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else ROUNDS
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="holystack-steps-"))
    try:
        ports = Ports.free()
        stack = load_stack(write_spec(scale_spec(ports), work / "scale.yaml"))
        target = {"job": stack.jobs[0].name, "instance": stack.jobs[0].targets[0]}
        start = (int(time.time()) - HISTORY_SECONDS) // RESOLUTION_SECONDS * RESOLUTION_SECONDS
        samples = HISTORY_SECONDS // RESOLUTION_SECONDS + 1
        lines = contract_lines(stack, start, samples, RESOLUTION_SECONDS,
                               Traffic(CALLS_PER_SECOND, failed_share, latency_buckets=False), target)
        history = write_lines(target_lines(lines, target, start, samples), work / "history.om")
        backfill_openmetrics(history, work / "prometheus-data")
        history.unlink()
        print(f"[{time.monotonic() - started:4.0f}s] backfilled {HISTORY_SECONDS // 60} min of "
              f"{len(stack.providers) * len(stack.endpoints) * len(stack.models)} combinations", flush=True)
        prometheus = Backfilled(work)
        prometheus.start()
        try:
            url = prometheus.url
            print(f"{'step':16} {'before ms':>10} {'instant ms':>10} {'after ms':>10} {'ratio':>6} "
                  f"{'samples before':>15} {'samples instant':>15} {'samples after':>14}")
            for name, (counter, labels) in expressions(stack).items():
                variants = {"old": whole_counter_step(stack, counter, labels),
                            "instant": instant_before_step(stack, counter, labels),
                            "new": recording.counter_step(stack, counter, labels)}
                times: dict[str, list[float]] = {key: [] for key in variants}
                read: dict[str, int] = {}
                for i in range(rounds):
                    at = start + 600 + (i * 61) % 2400  # instants inside the history, the same for all
                    order = list(variants)[i % 3:] + list(variants)[:i % 3]  # each variant first in turn
                    for key in order:
                        seconds, n = evaluate(url, variants[key], at)
                        times[key].append(seconds * 1000)
                        read[key] = n
                before, instant, after = (statistics.median(times[k]) for k in ("old", "instant", "new"))
                print(f"{name:16} {before:10.1f} {instant:10.1f} {after:10.1f} {after / before:6.2f} "
                      f"{read['old']:15,} {read['instant']:15,} {read['new']:14,}", flush=True)
        finally:
            prometheus.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"[{time.monotonic() - started:4.0f}s] done")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
