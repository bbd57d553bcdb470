"""The spec's prices beside genai-prices': `holystack prices` and validate's warning check.

A hand-typed model is looked up by its prices.model (default its name) at its prices.provider (default
the provider genai-prices matches the ref to). Prices are the team's business (a reseller bills its
own): a difference is a finding to read, never a failed validate, even with --strict."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from .. import contract as c
from .. import pricedata
from ..model import PER_MILLION, LlmModel, Prices, Stack
from .result import PASS, WARN, CheckResult

# Token types (Prices.per_million) by the spec's price field, in the spec's order.
FIELDS = (("input", c.TOKEN_PROMPT), ("output", c.TOKEN_COMPLETION), ("cached_input", c.TOKEN_CACHED_PROMPT),
          ("cache_write", c.TOKEN_CACHE_WRITE), ("cache_write_1h", c.TOKEN_CACHE_WRITE_1H))
# Prices are kept to 6 decimals per 1M tokens (billing.sql): closer than that they agree.
EPSILON = 0.5 / PER_MILLION

FROM_DATA, AGREES, DIFFERS, UNKNOWN = "from genai-prices", "agrees", "differs", "unknown to genai-prices"
CHECK_NAME = "typed prices agree with genai-prices"


def _values(prices: Prices) -> dict[str, float]:
    """Every price field with its defaults applied (cached_input and cache_write: input, ...)."""
    billed = prices.per_million()
    return {name: billed[token_type] for name, token_type in FIELDS}


def _explicit(prices: Prices) -> set[str]:
    """The fields given a price of their own (input and output always): the others only follow."""
    return {"input", "output"} | {name for name in ("cached_input", "cache_write", "cache_write_1h")
                                  if getattr(prices, name) is not None}


@dataclass(frozen=True)
class Comparison:
    model: str
    source: str  # FROM_DATA or "typed"
    status: str
    provider: str | None  # genai-prices' provider id, where found
    ref: str  # genai-prices' model id where found, else the ref looked up
    tiered: bool
    spec: dict[str, float]
    data: dict[str, float] | None
    differences: tuple[tuple[str, float, float], ...] = field(default=())

    def findings(self, version: str) -> list[str]:
        return [f"{self.model}: {name} is {spec:g} in the spec, {data:g} in genai-prices {version} "
                f"({self.provider}/{self.ref})" for name, spec, data in self.differences]


def compare_model(model: LlmModel) -> Comparison:
    source = model.prices.source
    assert source is not None  # every modelled price says where it came from
    spec = _values(model.prices)
    if source.from_data:
        return Comparison(model.name, FROM_DATA, FROM_DATA, source.provider, source.model, source.tiered, spec, spec)
    found = pricedata.find(source.model, source.provider)
    if found is None:
        return Comparison(model.name, "typed", UNKNOWN, source.provider, source.model, False, spec, None)
    theirs = Prices(found.prices["input"] or 0.0, found.prices["output"] or 0.0, found.prices["cached_input"],
                    found.prices["cache_write"], found.prices["cache_write_1h"])
    data, compared = _values(theirs), _explicit(model.prices) | _explicit(theirs)
    differences = tuple((name, spec[name], data[name]) for name, _ in FIELDS
                        if name in compared and abs(spec[name] - data[name]) > EPSILON)
    return Comparison(model.name, "typed", DIFFERS if differences else AGREES, found.provider, found.model,
                      found.tiered, spec, data, differences)


@dataclass(frozen=True)
class PriceReport:
    version: str
    models: tuple[Comparison, ...]

    @property
    def differs(self) -> bool:
        return any(m.status == DIFFERS for m in self.models)

    def findings(self) -> list[str]:
        return [line for m in self.models for line in m.findings(self.version)]

    def table(self) -> str:
        def prices(values: dict[str, float] | None) -> str:
            return "-" if values is None else " ".join(f"{values[name]:g}" for name, _ in FIELDS)

        rows = [("MODEL", "SPEC (" + " ".join(name for name, _ in FIELDS) + ")", "GENAI-PRICES", "AT", "VERDICT")]
        for m in self.models:
            verdict = m.status + (" (tiered: base tier)" if m.tiered else "")
            rows.append((m.model, prices(m.spec), prices(m.data), f"{m.provider or '?'}/{m.ref}", verdict))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
        lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1] for row in rows]
        lines += [f"- {line}" for line in self.findings()]
        tiered = [m.model for m in self.models if m.tiered]
        if tiered:
            lines.append(f"tiered or time-of-day prices, priced at the base tier: {', '.join(tiered)} "
                         "(long-context calls cost more)")
        lines.append(f"genai-prices {self.version}: " + ("typed prices differ" if self.differs else "no typed price differs"))
        return "\n".join(lines)

    def as_json(self) -> str:
        return json.dumps({
            "genai_prices": self.version, "differs": self.differs,
            "models": [{"name": m.model, "source": m.source, "status": m.status, "provider": m.provider,
                        "model": m.ref, "tiered": m.tiered, "spec": m.spec, "genai_prices": m.data,
                        "differences": [{"price": name, "spec": spec, "genai_prices": data}
                                        for name, spec, data in m.differences]}
                       for m in self.models],
        }, indent=2)


def price_report(stack: Stack) -> PriceReport:
    """Raises pricedata.PriceDataMissing without genai-prices."""
    version = pricedata.version()
    return PriceReport(version, tuple(compare_model(model) for model in stack.models))


def price_check(stack: Stack) -> CheckResult:
    """validate's warning: typed prices that differ from genai-prices' (never a failure)."""
    try:
        report = price_report(stack)
    except pricedata.PriceDataMissing as missing:
        return CheckResult(CHECK_NAME, WARN, f"not compared: {missing}")
    findings = report.findings()
    if findings:
        return CheckResult(CHECK_NAME, WARN, f"{len(findings)} price(s) differ from genai-prices {report.version}",
                           tuple(findings))
    unknown = sum(m.status == UNKNOWN for m in report.models)
    return CheckResult(CHECK_NAME, PASS, f"genai-prices {report.version}"
                       + (f", {unknown} model(s) it does not know" if unknown else ""))
