"""OUT/sql/billing.sql: the per-call ledger's PostgreSQL schema and the spec's price table."""
from __future__ import annotations

from dataclasses import dataclass

from .. import contract as c
from ..identifiers import ledger_schema
from ..model import Stack
from ..output import Files, generated_notice
from .layout import SQL_FILE
from .text import render_template


@dataclass(frozen=True)
class PriceRow:
    model: str  # a SQL string literal
    token_type: str
    price: str  # USD per 1M tokens, as a numeric literal


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def price_rows(stack: Stack) -> list[PriceRow]:
    """Each model's price of each token type, as the ledger prices them (cached at cached_input)."""
    rows = []
    for model in stack.models:
        prices = model.prices
        for token_type, price in ((c.TOKEN_PROMPT, prices.input), (c.TOKEN_CACHED_PROMPT, prices.effective_cached_input),
                                  (c.TOKEN_COMPLETION, prices.output)):
            rows.append(PriceRow(sql_literal(model.name), token_type, f"{price:.6f}"))
    return rows


def render_sql(stack: Stack) -> Files:
    text = render_template("sql/billing.sql.j2", go_safe=True, notice=generated_notice(stack.source_name), name=stack.name,
                           schema=ledger_schema(stack.contract.prefix), prices=price_rows(stack))
    return {SQL_FILE: text}
