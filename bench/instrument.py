"""Instrumentation benchmark. Prints the cost of one Instrument.record_call with a full usage body
(cached tokens included) and rate-limit headers, against the bare prometheus_client operations it
must perform with pre-bound labels: 1 counter inc, 1 histogram observe, 3 token counter incs,
4 gauge sets. Medians of interleaved rounds, in one run.

Usage: .venv/bin/python bench/instrument.py [--calls 2000] [--rounds 51]"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from prometheus_client import CollectorRegistry

from holystack.instrument import Instrument

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "holysheep.yaml"
BODY = {"id": "chatcmpl-1", "object": "chat.completion", "model": "deepseek-v3.2-2025-09-29",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "pong"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500,
                  "prompt_tokens_details": {"cached_tokens": 800}, "completion_tokens_details": {"reasoning_tokens": 0}}}
HEADERS = {"x-ratelimit-limit-requests": "10000", "x-ratelimit-remaining-requests": "9999",
           "x-ratelimit-limit-tokens": "5000000", "x-ratelimit-remaining-tokens": "4998500",
           "x-ratelimit-reset-requests": "6ms", "content-type": "application/json"}


def per_call_record(instrument: Instrument, calls: int) -> float:
    record = instrument.record_call
    started = time.perf_counter()
    for _ in range(calls):  # keywords written out, as an application's call site has them
        record(provider="holysheep", endpoint="/chat/completions", model="deepseek-v3.2", status=200, seconds=0.42,
               body=BODY, headers=HEADERS)
    return (time.perf_counter() - started) / calls


def per_call_bare(instrument: Instrument, calls: int) -> float:
    """The same metric updates on children bound beforehand: the floor record_call stands on."""
    p, e, m = "holysheep", "/chat/completions", "deepseek-v3.2"
    request = instrument.requests.labels(p, e, m, "200")
    duration = instrument.duration.labels(p, e, m)
    prompt, completion, cached = (instrument.tokens.labels(p, m, t) for t in ("prompt", "completion", "cached_prompt"))
    gauges = [instrument.gauges[kind].labels(p, m, resource)
              for kind in ("remaining", "limit") for resource in ("requests", "tokens")]
    g1, g2, g3, g4 = gauges
    started = time.perf_counter()
    for _ in range(calls):
        request.inc()
        duration.observe(0.42)
        prompt.inc(1200)
        completion.inc(300)
        cached.inc(800)
        g1.set(9999)
        g2.set(4998500)
        g3.set(10000)
        g4.set(5000000)
    return (time.perf_counter() - started) / calls


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000, help="calls per round")
    parser.add_argument("--rounds", type=int, default=51)
    args = parser.parse_args()
    instrument = Instrument.from_spec(EXAMPLE, registry=CollectorRegistry())
    per_call_record(instrument, 1000)  # warm the bound-children caches, as a running service has
    record, bare = [], []
    for _ in range(args.rounds):  # interleaved, so machine noise hits both alike
        record.append(per_call_record(instrument, args.calls))
        bare.append(per_call_bare(instrument, args.calls))
    r, b = statistics.median(record), statistics.median(bare)
    print(f"record_call (usage body + headers)  median {r * 1e6:6.2f} us  (rounds={args.rounds}, calls={args.calls})")
    print(f"bare prometheus_client operations   median {b * 1e6:6.2f} us")
    print(f"record_call / bare = {r / b:.2f}x  (goal <= 1.5x)")


if __name__ == "__main__":
    main()
