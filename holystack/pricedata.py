"""Model prices from genai-prices' data snapshot (extra ``holystack[prices]``, pinned exactly).

Imported only when a spec names ``prices: {from: genai-prices}`` or when ``holystack prices`` and
its validate check compare typed prices: plain renders and ``holystack.instrument`` never load it.

The snapshot is the installed package's own (no auto-update), so the same spec renders the same
bytes until genai-prices is bumped. Of a model's prices, holystack takes:
- a fixed price as it is; a tiered one (long-context rates above a prompt size) at its base tier,
  and the model is marked ``tiered`` (calls above the first tier are underpriced);
- of dated prices, the newest one in the snapshot; of time-of-day prices (off-peak rates), the
  standard one, and the model is marked ``tiered`` too (its price varies with the call).
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from .frozen import frozen

SOURCE = "genai-prices"
PACKAGE = "genai-prices"
INSTALL_HINT = "pip install 'holystack[prices]'"
# genai-prices' price keys (USD per 1M tokens) -> the spec's price fields.
PRICE_KEYS = (("input_mtok", "input"), ("output_mtok", "output"), ("cache_read_mtok", "cached_input"),
              ("cache_write_mtok", "cache_write"), ("cache_write_1h_mtok", "cache_write_1h"))
FIELDS = tuple(field for _, field in PRICE_KEYS)


class PriceDataMissing(LookupError):
    """genai-prices is not installed."""


@frozen
class Found:
    """One model's prices in genai-prices: USD per 1M tokens by spec field (None: not priced)."""

    provider: str
    model: str  # genai-prices' model id
    prices: dict[str, float | None]
    tiered: bool


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    try:
        return package_version(PACKAGE)
    except PackageNotFoundError:
        raise PriceDataMissing(f"genai-prices is not installed: {INSTALL_HINT}") from None


def _snapshot() -> Any:
    try:
        from genai_prices import data_snapshot
    except ModuleNotFoundError:
        raise PriceDataMissing(f"genai-prices is not installed: {INSTALL_HINT}") from None
    return data_snapshot.get_snapshot()


def _standard(model: Any) -> tuple[Any, bool]:
    """The model's standard ModelPrice, and whether its price varies by time of day."""
    from genai_prices import types

    prices = model.prices
    if isinstance(prices, types.ModelPrice):
        return prices, False
    chosen, varies = prices[0].prices, False
    for conditional in prices:
        constraint = conditional.constraint
        if constraint is None or isinstance(constraint, types.StartDateConstraint):
            chosen = conditional.prices
        else:
            varies = True
    return chosen, varies


def _per_million(value: Any) -> tuple[float | None, bool]:
    from genai_prices import types

    if value is None:
        return None, False
    if isinstance(value, types.TieredPrices):
        return float(Decimal(value.base)), True
    return float(Decimal(value)), False


def find(model_ref: str, provider: str | None = None) -> Found | None:
    """The prices genai-prices has for model_ref (at provider, or the provider matching the ref);
    None when it knows no such model or provider."""
    snapshot = _snapshot()
    try:
        found_provider, model = snapshot.find_provider_model(model_ref, None, provider, None)
    except LookupError:
        return None
    standard, tiered = _standard(model)
    prices: dict[str, float | None] = {}
    for key, field in PRICE_KEYS:
        prices[field], is_tiered = _per_million(getattr(standard, key, None))
        tiered = tiered or is_tiered
    if prices["input"] is None:
        return None
    return Found(found_provider.id, model.id, prices, tiered)


def calc_price_usd(model_ref: str, provider: str, *, prompt: int, completion: int, cached_prompt: int = 0,
                   cache_write: int = 0, cache_write_1h: int = 0) -> float:
    """genai-prices' own calc_price for one call's tokens (holystack's token semantics: prompt
    includes the cache reads and writes, cache_write includes cache_write_1h)."""
    from genai_prices import Usage, calc_price

    usage = Usage(input_tokens=prompt, output_tokens=completion, cache_read_tokens=cached_prompt,
                  cache_write_tokens=cache_write, cache_write_1h_tokens=cache_write_1h)
    return float(calc_price(usage, model_ref, provider_id=provider).total_price)
