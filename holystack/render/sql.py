"""OUT/sql/billing.sql: the per-call ledger's PostgreSQL schema and the spec's price table."""
from __future__ import annotations

from ..frozen import frozen
from ..identifiers import ledger_schema, quoted_identifier
from ..model import Stack
from ..output import Files, generated_notice
from .layout import SQL_FILE
from .text import render_template


@frozen
class PriceRow:
    model: str  # a SQL string literal
    token_type: str
    price: str  # USD per 1M tokens, as a numeric literal


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def price_rows(stack: Stack) -> list[PriceRow]:
    """Each model's price of each token type as billed (Prices.per_million): the ledger prices
    each type's own tokens (prompt: those neither read from nor written to the cache)."""
    return [PriceRow(sql_literal(model.name), token_type, f"{price:.6f}")
            for model in stack.models for token_type, price in model.prices.per_million().items()]


def render_sql(stack: Stack) -> Files:
    text = render_template("sql/billing.sql.j2", notice=generated_notice(stack.source_name), name=stack.name,
                           schema=quoted_identifier(ledger_schema(stack.contract.prefix)), prices=price_rows(stack))
    return {SQL_FILE: text}
