"""History for a real Prometheus without waiting for it: raw contract counters, as the stack's metric
source emits them, written as OpenMetrics and loaded with `promtool tsdb create-blocks-from
openmetrics`, then the recording rules evaluated over that history with `promtool tsdb
create-blocks-from rules`, level by level (promtool cannot backfill a rule that reads another rule
being backfilled). Used by the scale test and bench/scale.py."""
from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .. import contract as c
from ..checks import promql_ast as ast
from ..model import Stack
from ..promql import number, quote
from .servers import Server, free_port, start_prometheus

PROMTOOL_TIMEOUT_SECONDS = 900
# promtool's range queries over hours of history at scale: through a source's relabelling (otel-genai's
# label_replace per provider, endpoint and model) on loaded cores they outlast Prometheus' 2m default.
QUERY_TIMEOUT = "15m"
OK_STATUS, FAILED_STATUS = "200", "503"
BACKFILL_RULES, BACKFILL_BLOCKS = "backfill-rules.yml", "backfill-blocks"


@dataclass(frozen=True)
class Traffic:
    """Calls per second of each provider x endpoint x model, and the failed share as a function of
    the time in seconds since the start (failure episodes)."""

    calls_per_second: float = 0.5
    failed_share: Callable[[float], float] = lambda t: 0.01
    latency_buckets: bool = True
    tokens_per_call: tuple[int, int, int] = (1200, 300, 400)  # prompt, completion, cached_prompt


def _labels(values: dict[str, str]) -> str:
    return "{" + ",".join(f"{k}={quote(v)}" for k, v in values.items()) + "}"


# A series as coefficients over a few basis counters (OK, FAILED, ALL below): every series of the
# traffic is a linear combination of them. A source that sums or copies series (Source.emitted)
# reads the coefficients as a promtool values string and sums or copies them alike, so its raw
# series come back as coefficients too, however it combines them.
Series = list[tuple[str, tuple[float, ...]]]
OK, FAILED, ALL = (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)


def scaled(basis: tuple[float, ...], times: float) -> tuple[float, ...]:
    return tuple(times * b for b in basis)


def contract_series(stack: Stack, traffic: Traffic, target: dict[str, str]) -> Series:
    """The contract counters of the traffic in promtool notation, each over the basis (OK, FAILED,
    ALL): the successful attempts, the failed ones and all calls of one combination so far."""
    p = stack.contract
    calls = [(pr.name, e.path, m.name) for pr in stack.providers for e in stack.endpoints for m in stack.models]
    statuses = ((OK_STATUS, OK), (FAILED_STATUS, FAILED))
    out: Series = []
    for provider, endpoint, model in calls:
        for status, basis in statuses:
            out.append((p.requests.name + _labels({c.PROVIDER: provider, c.ENDPOINT: endpoint, c.MODEL: model,
                                                   c.STATUS_CODE: status, **target}), basis))
    # The logical calls: no retries here, so each attempt is a call, summed over the providers.
    providers = len(stack.providers)
    for endpoint in stack.endpoints:
        for model in stack.models:
            for status, basis in statuses:
                out.append((p.calls.name + _labels({c.ENDPOINT: endpoint.path, c.MODEL: model.name,
                                                    c.STATUS_CODE: status, **target}), scaled(basis, providers)))
    if traffic.latency_buckets:
        bounds = [repr(float(b)) for b in stack.latency_buckets] + ["+Inf"]
        for provider, endpoint, model in calls:
            for index, bound in enumerate(bounds):
                # Half the calls in the fourth bucket, the rest in the sixth: a p95 to compute.
                share = 0.0 if index < 3 else 0.5 if index < 5 else 1.0
                out.append((f"{p.duration.name}_bucket" + _labels({c.PROVIDER: provider, c.ENDPOINT: endpoint,
                                                                   c.MODEL: model, c.LE: bound, **target}),
                            scaled(ALL, share)))
    endpoints = len(stack.endpoints)
    for provider in stack.providers:
        for model in stack.models:
            for token_type, per_call in zip(c.TOKEN_TYPES, traffic.tokens_per_call):
                out.append((p.tokens.name + _labels({c.PROVIDER: provider.name, c.MODEL: model.name,
                                                     c.TOKEN_TYPE: token_type, **target}),
                            scaled(ALL, endpoints * per_call)))
    return out


def emitted_series(stack: Stack, series: Series) -> Series:
    """series as the stack's metric source emits the same traffic (Source.emitted), still over the basis."""
    raw = stack.source.emitted(stack, [(text, " ".join(number(v) for v in basis)) for text, basis in series])
    return [(text, tuple(float(v) for v in values.split())) for text, values in raw]


def basis_values(traffic: Traffic, samples: int, resolution: int) -> list[tuple[float, float, float]]:
    """(OK, FAILED, ALL) of one combination at each of samples samples every resolution seconds:
    counters from 0, growing by the traffic of each interval."""
    per_step = traffic.calls_per_second * resolution
    failed = [0.0]
    for i in range(1, samples):
        failed.append(failed[-1] + per_step * traffic.failed_share(i * resolution))
    return [(i * per_step - failed[i], failed[i], i * per_step) for i in range(samples)]


def contract_lines(stack: Stack, start: int, samples: int, resolution: int, traffic: Traffic,
                   target: dict[str, str]) -> Iterator[str]:
    """OpenMetrics text of the contract counters as the stack's source emits them: `samples`
    samples every `resolution` seconds from `start` (Unix seconds). No TYPE lines: promtool reads
    untyped samples alike, and a source's raw names need no family of ours."""
    basis = basis_values(traffic, samples, resolution)
    for name, coefficients in emitted_series(stack, contract_series(stack, traffic, target)):
        for i, values in enumerate(basis):
            value = sum(k * v for k, v in zip(coefficients, values))
            yield f"{name} {value:.6g} {start + i * resolution}"
    yield "# EOF"


def write_lines(lines: Iterable[str], path: Path) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for line in lines:
            out.write(line + "\n")
    return path


def promtool(*args: str, cwd: Path | None = None) -> None:
    done = subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=PROMTOOL_TIMEOUT_SECONDS,
                          cwd=cwd)
    if done.returncode != 0:
        raise RuntimeError(f"promtool {' '.join(args[:3])} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")


def backfill_openmetrics(openmetrics: Path, data: Path) -> None:
    data.mkdir(parents=True, exist_ok=True)
    promtool("tsdb", "create-blocks-from", "openmetrics", str(openmetrics), str(data))


def rule_groups(rules_dir: Path) -> list[dict[str, Any]]:
    return [group for path in sorted(rules_dir.glob("*.yml"))
            for group in (yaml.safe_load(path.read_text("utf-8")) or {}).get("groups", [])]


def recording_levels(groups: list[dict[str, Any]], wanted: Callable[[dict[str, Any]], bool] = lambda r: True
                     ) -> list[list[tuple[dict[str, Any], dict[str, Any]]]]:
    """(group, rule) of every recording rule that promtool can backfill, by level: a rule comes after
    every rule whose series it reads. Rules that read their own series (month to date) cannot be
    backfilled by a range query and are left out, with everything that reads them."""
    rules = [(g, r) for g in groups for r in g.get("rules", []) if "record" in r and wanted(r)]
    reads = {id(r): ast.selector_names(ast.parse(r["expr"])) for _, r in rules}
    recorded = {r["record"] for _, r in rules}
    done: set[str] = set()
    levels = []
    pending = [(g, r) for g, r in rules if r["record"] not in reads[id(r)]]
    while pending:
        ready = [(g, r) for g, r in pending if not (reads[id(r)] & recorded) - done]
        if not ready:
            break  # what is left reads a rule that cannot be backfilled
        levels.append(ready)
        done |= {r["record"] for _, r in ready}
        pending = [(g, r) for g, r in pending if all(r is not x for _, x in ready)]
    return levels


class Backfilled:
    """A real Prometheus on a data folder that grows by backfilled blocks; restarted to load them."""

    def __init__(self, workdir: Path, config_text: str = "global: {}\n", retention: str = "400d"):
        self.workdir = workdir
        self.data = workdir / "prometheus-data"
        self.data.mkdir(parents=True, exist_ok=True)
        self.config = workdir / "prometheus.yml"
        self.config.write_text(config_text, "utf-8")
        self.retention = retention
        self.server: Server | None = None

    def start(self, port: int | None = None) -> Server:
        """Start (again) on port, or on a free one."""
        self.stop()
        port = port or free_port()
        self.server = start_prometheus(self.config, port, self.workdir, retention=self.retention,
                                       extra=[f"--query.timeout={QUERY_TIMEOUT}"]).wait_ready(120)
        return self.server

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def backfill_rules(self, groups: list[dict[str, Any]], start: int, end: int) -> None:
        """Evaluate the groups' rules over [start, end] against the running server, add the blocks to
        its data folder and restart it so it reads them. The rule file has the same relative path in
        every workdir: promtool places evaluations at an offset hashed from the group name and file,
        so the same spec gets the same evaluation times wherever it is backfilled."""
        rules, blocks = self.workdir / BACKFILL_RULES, self.workdir / BACKFILL_BLOCKS
        rules.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False), "utf-8")
        shutil.rmtree(blocks, ignore_errors=True)
        promtool("tsdb", "create-blocks-from", "rules", f"--url={self.url}", f"--start={start}",
                 f"--end={end}", f"--output-dir={BACKFILL_BLOCKS}", "--quiet", BACKFILL_RULES, cwd=self.workdir)
        for block in blocks.iterdir():
            shutil.move(str(block), self.data / block.name)
        rules.unlink()
        self.start()

    def backfill_levels(self, levels: list[list[tuple[dict[str, Any], dict[str, Any]]]], start: int, end: int) -> None:
        for level in levels:
            groups: dict[str, dict[str, Any]] = {}
            for group, rule in level:
                groups.setdefault(group["name"], {"name": group["name"], "interval": group.get("interval", "1m"),
                                                  "rules": []})["rules"].append(rule)
            self.backfill_rules(list(groups.values()), start, end)
