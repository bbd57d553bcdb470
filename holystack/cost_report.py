"""`holystack cost report`: the month's spend by provider and model from the PostgreSQL ledger, with
totals, and a PNG of daily spend by model when asked (matplotlib, extra ``holystack[report]``)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from .errors import UsageError
from .identifiers import ledger_schema, quoted_identifier

MONTH_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class Spend:
    provider: str
    model: str
    calls: int
    prompt_tokens: int
    cached_prompt_tokens: int
    completion_tokens: int
    cost_usd: Decimal
    cache_write_tokens: int


def parse_month(text: str | None, today: date | None = None) -> date:
    """The first day of YYYY-MM; the current month (UTC) when not given."""
    if text is None:
        today = today or datetime.now(timezone.utc).date()
        return today.replace(day=1)
    match = MONTH_RE.match(text)
    if not match:
        raise UsageError(f"--month: {text!r} is not a month such as 2026-11")
    return date(int(match[1]), int(match[2]), 1)


def _connect(dsn: str) -> Any:
    try:
        import psycopg
    except ModuleNotFoundError:
        raise UsageError("cost report needs psycopg: pip install 'holystack[ledger]'") from None
    try:
        return psycopg.connect(dsn, connect_timeout=10)
    except psycopg.Error as exc:
        raise UsageError(f"--dsn: cannot connect to the ledger: {str(exc).strip()}") from None


def _query(dsn: str, prefix: str, query: str, *args: Any) -> list[tuple[Any, ...]]:
    """Run query with {schema} as the ledger schema of prefix, quoted by psycopg as an identifier."""
    import psycopg
    from psycopg import sql

    statement = sql.SQL(query).format(schema=sql.Identifier(ledger_schema(prefix)))  # type: ignore[arg-type]
    with _connect(dsn) as connection:
        try:
            return connection.execute(statement, args).fetchall()
        except psycopg.errors.UndefinedTable:
            raise UsageError(f"--dsn: the database has no ledger {quoted_identifier(ledger_schema(prefix))}.calls; apply OUT/sql/billing.sql "
                             "(psql \"$DSN\" -v ON_ERROR_STOP=1 -f out/sql/billing.sql)") from None


def monthly_spend(dsn: str, prefix: str, month: date) -> list[Spend]:
    rows = _query(dsn, prefix, "SELECT provider, model, calls, prompt_tokens, cached_prompt_tokens, completion_tokens,"
                               " cost_usd, cache_write_tokens FROM {schema}.monthly_cost WHERE month = %s"
                               " ORDER BY cost_usd DESC, provider, model", month)
    return [Spend(*row) for row in rows]


def daily_spend(dsn: str, prefix: str, month: date) -> list[tuple[date, str, Decimal]]:
    return _query(dsn, prefix, "SELECT day, model, sum(cost_usd) FROM {schema}.daily_cost"
                               " WHERE date_trunc('month', day)::date = %s GROUP BY 1, 2 ORDER BY 1, 2", month)


def spend_table(rows: list[Spend], month: date) -> str:
    header = ("PROVIDER", "MODEL", "CALLS", "PROMPT", "CACHED", "CACHE WRITES", "COMPLETION", "COST (USD)")
    body = [(r.provider, r.model, f"{r.calls:,}", f"{r.prompt_tokens:,}", f"{r.cached_prompt_tokens:,}",
             f"{r.cache_write_tokens:,}", f"{r.completion_tokens:,}", f"{r.cost_usd:,.2f}") for r in rows]
    total = ("TOTAL", "", f"{sum(r.calls for r in rows):,}", f"{sum(r.prompt_tokens for r in rows):,}",
             f"{sum(r.cached_prompt_tokens for r in rows):,}", f"{sum(r.cache_write_tokens for r in rows):,}",
             f"{sum(r.completion_tokens for r in rows):,}", f"{sum((r.cost_usd for r in rows), Decimal(0)):,.2f}")
    table = [header, *body, total]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    numeric = range(2, len(header))

    def line(row: tuple[str, ...]) -> str:
        return "  ".join(cell.rjust(w) if i in numeric else cell.ljust(w)
                         for i, (cell, w) in enumerate(zip(row, widths))).rstrip()

    rule = "  ".join("-" * w for w in widths)
    out = [f"Spend in {month:%Y-%m} (UTC), from the ledger", line(header), rule, *map(line, body), rule, line(total)]
    if not rows:
        out.insert(1, "(no calls recorded this month)")
    return "\n".join(out)


def plot_daily(days: list[tuple[date, str, Decimal]], month: date, path: Path) -> None:
    """Stacked bars of spend per day, one colour per model, as a PNG."""
    try:
        import matplotlib
    except ModuleNotFoundError:
        raise UsageError("--plot needs matplotlib: pip install 'holystack[report]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = sorted({model for _, model, _ in days})
    dates = sorted({day for day, _, _ in days})
    figure, axes = plt.subplots(figsize=(10, 5), dpi=100)
    bottom = [0.0] * len(dates)
    for model in models:
        values = [float(next((cost for d, m, cost in days if d == day and m == model), 0)) for day in dates]
        axes.bar([d.day for d in dates], values, bottom=bottom, label=model)
        bottom = [b + v for b, v in zip(bottom, values)]
    axes.set_title(f"Spend per day by model, {month:%Y-%m} (UTC)")
    axes.set_xlabel("day of month")
    axes.set_ylabel("USD")
    if models:
        axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, format="png", metadata={"Software": None})
    plt.close(figure)


def cost_report(spec: Path, dsn: str, month_text: str | None, plot: Path | None) -> str:
    """The report's text; writes the plot when asked."""
    from .pipeline import load_stack

    prefix = load_stack(spec).contract.prefix  # the ledger's schema is named after it
    month = parse_month(month_text)
    text = spend_table(monthly_spend(dsn, prefix, month), month)
    if plot is not None:
        plot_daily(daily_spend(dsn, prefix, month), month, plot)
        text += f"\nwrote {plot}"
    return text
