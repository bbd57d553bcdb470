"""OUT/sql/billing.sql: the per-call ledger's PostgreSQL schema and the spec's price table."""
from __future__ import annotations

from ..frozen import frozen
from ..identifiers import ledger_schema, quoted_identifier
from ..model import Stack
from ..output import Files, generated_notice
from ..layout import SQL_FILE
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


# The spend views of the ledger: each view's name and the period column it groups the calls by.
COST_VIEWS = (("daily_cost", "(ts AT TIME ZONE 'UTC')::date AS day"),
              ("monthly_cost", "date_trunc('month', ts AT TIME ZONE 'UTC')::date AS month"))


def price_values(rows: list[PriceRow]) -> str:
    """The rows of the spec_prices INSERT, one a line, the last ending the statement."""
    return "".join(f"    ({row.model}, '{row.token_type}', {row.price}){',' if i < len(rows) - 1 else ';'}\n"
                   for i, row in enumerate(rows))


def render_sql(stack: Stack) -> Files:
    """billing.sql and the view it defines per COST_VIEWS entry (templates/sql/): placeholders only,
    so no Jinja compile (render_template)."""
    schema = quoted_identifier(ledger_schema(stack.contract.prefix))
    views = "\n".join(render_template("sql/cost_view.sql.j2", schema=schema, view=view, period=period)
                      for view, period in COST_VIEWS)
    text = render_template("sql/billing.sql.j2", notice=generated_notice(stack.source_name), name=stack.name,
                           schema=schema, price_values=price_values(price_rows(stack)), cost_views=views)
    return {SQL_FILE: text}
