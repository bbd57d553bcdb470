"""Transport benchmark, in one run:

1. The cost holystack's transport adds to one call, as a ratio to the same client on the bare transport:
   an in-process inner transport answering a canned chat completion (plain and streamed), so that
   the ratio is the transport's own cost and not the network's; then the openai and anthropic SDKs
   against the fake upstream on loopback, as an application sees it (goal <= 1.10x for plain calls).
   holystack records every attempt and each logical call, P_call_duration_seconds included.
   Medians of interleaved rounds.
2. One SSE line of --line-mb MB arriving in 64 KiB reads, holystack against the bare transport
   (stream parsing must stay linear in the bytes: the ratio must not grow with the size).
3. The import time of holystack.instrument against `import prometheus_client, httpx` (goal <= 1.3x):
   medians of interleaved cold subprocesses, each timing only its import statement, bytecode compiled
   first as an install does.

Usage: .venv/bin/python bench/transport.py [--calls 300] [--rounds 21] [--imports 21] [--line-mb 32] [--calls-only]"""
from __future__ import annotations

import argparse
import compileall
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx2
from prometheus_client import CollectorRegistry

import holystack
from holystack.instrument import Instrument
from holystack.instrument.transport import instrumented_transport

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "holysheep.yaml"
URL = "http://upstream.test/v1/chat/completions"
REQUEST = {"model": "deepseek-v3.2", "messages": [{"role": "user", "content": "ping"}]}
USAGE = {"prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500,
         "prompt_tokens_details": {"cached_tokens": 800}}
BODY = json.dumps({"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "deepseek-v3.2-2025",
                   "choices": [{"index": 0, "message": {"role": "assistant", "content": "pong"},
                                "finish_reason": "stop"}], "usage": USAGE}).encode()
CHUNKS = [{"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
           "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]} for piece in "pong pong"]
STREAM = b"".join(f"data: {json.dumps(c)}\n\n".encode() for c in CHUNKS + [
    {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [], "usage": USAGE}]) \
    + b"data: [DONE]\n\n"
HEADERS = {"x-ratelimit-limit-requests": "10000", "x-ratelimit-remaining-requests": "9999",
           "x-ratelimit-limit-tokens": "5000000", "x-ratelimit-remaining-tokens": "4998500",
           "x-request-id": "req_1"}


def canned(request: httpx2.Request) -> httpx2.Response:
    stream = b'"stream": true' in request.content or b'"stream":true' in request.content
    content_type = "text/event-stream" if stream else "application/json"
    return httpx2.Response(200, headers={**HEADERS, "content-type": content_type}, content=STREAM if stream else BODY)


def per_call(client: httpx2.Client, calls: int, stream: bool) -> float:
    body = {**REQUEST, "stream": True} if stream else REQUEST
    started = time.perf_counter()
    for _ in range(calls):
        if stream:
            with client.stream("POST", URL, json=body) as answer:
                for _ in answer.iter_lines():
                    pass
        else:
            client.post(URL, json=body).json()
    return (time.perf_counter() - started) / calls


def transport_cost(calls: int, rounds: int) -> None:
    instrument = Instrument.from_spec(EXAMPLE, registry=CollectorRegistry())
    bare = httpx2.Client(transport=httpx2.MockTransport(canned))
    wrapped = httpx2.Client(transport=instrumented_transport(instrument, "holysheep", library="httpx2",
                                                inner=httpx2.MockTransport(canned)))
    for stream in (False, True):
        per_call(wrapped, 100, stream)  # warm caches, as a running service has them
        per_call(bare, 100, stream)
        times: dict[str, list[float]] = {"bare": [], "holystack": []}
        for _ in range(rounds):  # interleaved, so machine noise hits both alike
            times["holystack"].append(per_call(wrapped, calls, stream))
            times["bare"].append(per_call(bare, calls, stream))
        h, b = statistics.median(times["holystack"]), statistics.median(times["bare"])
        kind = "SSE stream (4 events)" if stream else "plain JSON"
        print(f"{kind:22} bare transport {b * 1e6:7.1f} us  holystack {h * 1e6:7.1f} us  "
              f"added {(h - b) * 1e6:6.1f} us  ratio {h / b:.2f}x")


def long_line(megabytes: int, rounds: int) -> None:
    """One data: line of megabytes MB (a huge event), read as a network delivers it (64 KiB at a
    time) and split into lines as an SSE reader does."""
    event = b"data: " + json.dumps({**CHUNKS[0], "pad": "x" * (megabytes << 20)}).encode() + b"\n\ndata: [DONE]\n\n"
    step = 64 * 1024

    def answer(request: httpx2.Request) -> httpx2.Response:
        pieces = (event[i:i + step] for i in range(0, len(event), step))
        return httpx2.Response(200, headers={**HEADERS, "content-type": "text/event-stream"}, content=pieces)

    instrument = Instrument.from_spec(EXAMPLE, registry=CollectorRegistry())
    bare = httpx2.Client(transport=httpx2.MockTransport(answer))
    wrapped = httpx2.Client(transport=instrumented_transport(instrument, "holysheep", library="httpx2",
                                                             inner=httpx2.MockTransport(answer)))
    times: dict[str, list[float]] = {"bare": [], "holystack": []}
    for _ in range(rounds):
        for name, client in (("holystack", wrapped), ("bare", bare)):
            started = time.perf_counter()
            with client.stream("POST", URL, json={**REQUEST, "stream": True}) as response:
                for _ in response.iter_lines():  # as an SSE reader (the SDK's) splits them
                    pass
            times[name].append(time.perf_counter() - started)
    h, b = statistics.median(times["holystack"]), statistics.median(times["bare"])
    print(f"{f'one {megabytes} MB SSE line':22} bare transport {b:7.3f} s   holystack {h:7.3f} s   "
          f"ratio {h / b:.2f}x (rounds={rounds})")


def sdk_cost(calls: int, rounds: int) -> None:
    """Plain calls of the openai and anthropic SDKs against the fake upstream on loopback: the SDK on
    its own transport against the same SDK with holystack's http_client (every attempt, and the
    logical call in P_calls_total and P_call_duration_seconds), interleaved in one run."""
    import anthropic
    import openai

    from holystack.instrument import http_client
    from holystack.live.scenarios import SCENARIOS
    from holystack.live.upstream import FakeUpstreamServer, Upstream

    server = FakeUpstreamServer(Upstream(SCENARIOS["healthy"], {"": 0.0}, client_timeout=5.0)).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/holysheep"
        instrument = Instrument.from_spec(EXAMPLE, registry=CollectorRegistry())
        sdks = {
            "openai SDK": (lambda **kw: openai.OpenAI(base_url=url + "/v1", api_key="sk", max_retries=0, **kw),
                           lambda client: client.chat.completions.create(model="deepseek-v3.2",
                                                                         messages=REQUEST["messages"])),
            "anthropic SDK": (lambda **kw: anthropic.Anthropic(base_url=url, api_key="sk", max_retries=0, **kw),
                              lambda client: client.messages.create(model="claude-sonnet-4.5", max_tokens=16,
                                                                    messages=REQUEST["messages"])),
        }
        for name, (make, create) in sdks.items():
            bare, wrapped = make(), make(http_client=http_client(instrument, provider="holysheep"))

            def run(client: object, n: int) -> float:
                started = time.perf_counter()
                for _ in range(n):
                    create(client)
                return (time.perf_counter() - started) / n

            run(bare, 20), run(wrapped, 20)
            times: dict[str, list[float]] = {"bare": [], "holystack": []}
            for _ in range(rounds):
                times["holystack"].append(run(wrapped, calls))
                times["bare"].append(run(bare, calls))
            h, b = statistics.median(times["holystack"]), statistics.median(times["bare"])
            print(f"{name + ', loopback':22} bare transport {b * 1e6:7.1f} us  holystack {h * 1e6:7.1f} us  "
                  f"added {(h - b) * 1e6:6.1f} us  ratio {h / b:.2f}x (goal <= 1.10x)")
    finally:
        server.stop()


def import_seconds(statement: str) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(done.stdout)


def import_cost(runs: int) -> None:
    compileall.compile_dir(str(Path(holystack.__file__).parent), quiet=1)
    ours, floor = [], []
    for _ in range(runs):
        ours.append(import_seconds("import holystack.instrument"))
        floor.append(import_seconds("import prometheus_client, httpx"))
    o, f = statistics.median(ours), statistics.median(floor)
    print(f"import holystack.instrument {o * 1e3:6.1f} ms  import prometheus_client, httpx {f * 1e3:6.1f} ms  "
          f"ratio {o / f:.2f}x (goal <= 1.3x, runs={runs})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300, help="calls per round")
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--imports", type=int, default=21, help="cold subprocesses per import statement")
    parser.add_argument("--line-mb", type=int, default=32, help="size of the one long SSE line, in MB")
    parser.add_argument("--calls-only", action="store_true", help="only the per-call costs (1.)")
    args = parser.parse_args()
    transport_cost(args.calls, args.rounds)
    sdk_cost(max(1, args.calls // 10), args.rounds)
    if not args.calls_only:
        long_line(args.line_mb, 3)
        import_cost(args.imports)


if __name__ == "__main__":
    main()
