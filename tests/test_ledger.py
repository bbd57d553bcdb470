"""The per-call ledger on a real PostgreSQL: billing.sql is idempotent and keeps price history;
the writer batches from a bounded queue, never blocks the caller, and counts what it drops."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from dataclasses import fields
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
import yaml
from prometheus_client import CollectorRegistry

from holystack import load_stack
from holystack.contract import TOKEN_TYPES
from holystack.instrument import Instrument
from holystack.instrument import CallRow
from holystack.instrument.ledger import COLUMNS, Ledger
from holystack.pipeline import render_files
from holystack.render.sql import SQL_FILE

from .conftest import EXAMPLE

CHAT = "/chat/completions"


def billing_sql(spec: Path) -> str:
    return render_files(spec)[SQL_FILE]


def spec_with_price(tmp_path: Path, model: str, **prices: float) -> Path:
    data = yaml.safe_load(EXAMPLE.read_text())
    for entry in data["models"]:
        if entry["name"] == model:
            entry["prices"].update(prices)
    path = tmp_path / "holysheep.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def apply(dsn: str, sql: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(sql)


def query(dsn: str, sql: str, *args) -> list[tuple]:
    with psycopg.connect(dsn) as connection:
        return connection.execute(sql, args).fetchall()


def insert_call(dsn: str, ts: datetime, model: str, prompt: int, completion: int, cached: int) -> None:
    with psycopg.connect(dsn) as connection:
        connection.execute(
            "INSERT INTO holysheep.calls (ts, provider, endpoint, model, status, latency_seconds, prompt_tokens,"
            " completion_tokens, cached_prompt_tokens) VALUES (%s, 'holysheep', %s, %s, '200', 0.5, %s, %s, %s)",
            (ts, CHAT, model, prompt, completion, cached))


def test_billing_sql_is_idempotent_and_prices_cached_tokens(database: str) -> None:
    sql = billing_sql(EXAMPLE)
    apply(database, sql)
    apply(database, sql)  # again: nothing changes
    stack = load_stack(EXAMPLE)
    priced = len(TOKEN_TYPES) * len(stack.models)
    assert query(database, "SELECT count(*) FROM holysheep.prices WHERE valid_to IS NULL") == [(priced,)]
    assert query(database, "SELECT count(*) FROM holysheep.prices") == [(priced,)]
    insert_call(database, datetime.now(timezone.utc), "deepseek-v3.2", 1_000_000, 500_000, 600_000)
    # (1M - 600k) x 0.42 + 600k x 0.07 + 500k x 0.42, per 1M tokens
    assert query(database, "SELECT cost_usd FROM holysheep.calls") == [(Decimal("0.420000000"),)]
    insert_call(database, datetime.now(timezone.utc), "some-unlisted-model", 1000, 10, 0)
    assert query(database, "SELECT count(*) FROM holysheep.calls WHERE cost_usd IS NULL") == [(1,)]


def test_cache_writes_are_priced_at_cache_write_and_the_1h_ones_at_cache_write_1h(database: str,
                                                                                  tmp_path: Path) -> None:
    spec = spec_with_price(tmp_path, "deepseek-v3.2", cache_write=0.525, cache_write_1h=0.84)
    apply(database, billing_sql(spec))
    with psycopg.connect(database) as connection:
        connection.execute(
            "INSERT INTO holysheep.calls (ts, provider, endpoint, model, status, latency_seconds, prompt_tokens,"
            " completion_tokens, cached_prompt_tokens, cache_write_tokens, cache_write_1h_tokens)"
            " VALUES (now(), 'holysheep', %s, 'deepseek-v3.2', '200', 0.5, 1000000, 0, 200000, 500000, 100000)",
            (CHAT,))
    # (1M - 200k - 500k) x 0.42 + 200k x 0.07 + 400k x 0.525 + 100k x 0.84, per 1M tokens
    assert query(database, "SELECT cost_usd FROM holysheep.calls") == [(Decimal("0.434000000"),)]
    assert query(database, "SELECT cache_write_tokens, cache_write_1h_tokens FROM holysheep.monthly_cost") \
        == [(500000, 100000)]
    with psycopg.connect(database) as connection, pytest.raises(psycopg.errors.CheckViolation):
        connection.execute(  # more cache tokens than prompt tokens: refused
            "INSERT INTO holysheep.calls (ts, provider, endpoint, model, status, latency_seconds, prompt_tokens,"
            " cached_prompt_tokens, cache_write_tokens) VALUES (now(), 'holysheep', %s, 'deepseek-v3.2', '200',"
            " 0.5, 100, 60, 60)", (CHAT,))


def test_a_price_change_closes_the_old_row_and_keeps_history(database: str, tmp_path: Path) -> None:
    apply(database, billing_sql(EXAMPLE))
    insert_call(database, datetime.now(timezone.utc), "gpt-4.1", 1_000_000, 0, 0)
    time.sleep(0.01)
    apply(database, billing_sql(spec_with_price(tmp_path, "gpt-4.1", input=4.0)))
    rows = query(database, "SELECT usd_per_million, valid_to IS NULL FROM holysheep.prices "
                           "WHERE model = 'gpt-4.1' AND token_type = 'prompt' ORDER BY valid_from")
    assert rows == [(Decimal("8.000000"), False), (Decimal("4.000000"), True)]
    insert_call(database, datetime.now(timezone.utc), "gpt-4.1", 1_000_000, 0, 0)
    costs = [cost for (cost,) in query(database, "SELECT cost_usd FROM holysheep.calls ORDER BY ts")]
    assert costs == [Decimal("8.000000000"), Decimal("4.000000000")]  # last month's bill keeps last month's price
    # Monthly and daily views add the calls up.
    assert query(database, "SELECT sum(cost_usd) FROM holysheep.daily_cost") == [(Decimal("12.000000000"),)]
    assert query(database, "SELECT sum(calls) FROM holysheep.monthly_cost") == [(2,)]


def test_ledger_writes_every_call_with_its_usage(database: str) -> None:
    apply(database, billing_sql(EXAMPLE))
    instrument = Instrument.from_spec(EXAMPLE, registry=CollectorRegistry(), initialize=False)
    ledger = Ledger(database, instrument, batch_size=100, flush_seconds=0.2)
    for index in range(1000):
        instrument.record_call(provider="holysheep", endpoint=CHAT, model="deepseek-v3.2", status=200, seconds=0.1,
                               body={"id": f"chatcmpl-{index}", "usage": {
                                   "prompt_tokens": 1000, "completion_tokens": 100,
                                   "prompt_tokens_details": {"cached_tokens": 400}}})
    instrument.record_call(provider="holysheep", endpoint=CHAT, model="mystery", status="timeout", seconds=30.0)
    ledger.close()
    assert query(database, "SELECT count(*), sum(prompt_tokens), sum(cached_prompt_tokens), count(DISTINCT request_id)"
                           " FROM holysheep.calls WHERE status = '200'") == [(1000, 1_000_000, 400_000, 1000)]
    assert query(database, "SELECT model, latency_seconds, cost_usd FROM holysheep.calls WHERE status = 'timeout'") \
        == [("other", 30.0, None)]
    assert ledger.written._value.get() == 1001 and ledger.dropped._value.get() == 0


def test_the_calls_table_has_the_columns_the_ledger_writes(database: str) -> None:
    """One list of columns: CallRow's fields are what Ledger inserts and what billing.sql creates
    (besides the id and the price the database fills in)."""
    apply(database, billing_sql(EXAMPLE))
    created = {name for (name,) in query(database, "SELECT column_name FROM information_schema.columns"
                                                   " WHERE table_schema = %s AND table_name = 'calls'", "holysheep")}
    assert sorted(created - {"id", "cost_usd"}) == sorted(COLUMNS) == sorted(f.name for f in fields(CallRow))


def test_ledger_never_blocks_and_counts_what_it_drops() -> None:
    """PostgreSQL silent (a port that takes the connection and never answers) and a small queue: the
    writer hangs on connecting, yet every call returns, the rows past the queue dropped and counted
    by the call itself. Shown by counts, not by a clock: a blocking submit would never return here."""
    instrument = Instrument.from_spec(EXAMPLE, registry=CollectorRegistry(), initialize=False)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)  # the kernel completes the handshake; nothing ever answers
        ledger = Ledger(f"postgresql://nobody@127.0.0.1:{silent.getsockname()[1]}/nothing", instrument,
                        queue_size=10, batch_size=5, flush_seconds=0.05)
        for _ in range(200):
            instrument.record_call(provider="holysheep", endpoint=CHAT, model="gpt-4.1", status=200, seconds=0.1)
        # At most the queue (10) and one batch the writer took (5) were not dropped at once.
        assert ledger.dropped._value.get() >= 200 - 10 - 5
    ledger.close(timeout=20)  # the port closed: the writer fails, drops what it held
    assert ledger.dropped._value.get() == 200 and ledger.written._value.get() == 0


def _holystack(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "holystack", *args], capture_output=True, text=True, timeout=120)


def test_cost_report_gives_the_months_table_and_plot(database: str, tmp_path: Path) -> None:
    apply(database, billing_sql(EXAMPLE))
    now = datetime.now(timezone.utc)
    insert_call(database, now, "gpt-4.1", 1_000_000, 250_000, 0)               # $8 + $2
    insert_call(database, now, "deepseek-v3.2", 1_000_000, 500_000, 600_000)   # $0.42
    insert_call(database, now, "deepseek-v3.2", 2_000_000, 0, 0)               # $0.84
    plot = tmp_path / "daily.png"
    done = _holystack("cost", "report", "--dsn", database, "--spec", str(EXAMPLE), "--month", f"{now:%Y-%m}",
                      "--plot", str(plot))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"Spend in {now:%Y-%m} (UTC), from the ledger"
    gpt = next(line for line in lines if "gpt-4.1" in line).split()
    deepseek = next(line for line in lines if "deepseek-v3.2" in line).split()
    total = next(line for line in lines if line.startswith("TOTAL")).split()
    assert gpt[-1] == "10.00" and gpt[2] == "1"
    assert deepseek[-1] == "1.26" and deepseek[2] == "2" and deepseek[4] == "600,000" and deepseek[5] == "0"
    assert total[-1] == "11.26" and total[1] == "3"
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    empty = _holystack("cost", "report", "--dsn", database, "--spec", str(EXAMPLE), "--month", "2001-01")
    assert empty.returncode == 0 and "(no calls recorded this month)" in empty.stdout


def test_cost_report_says_what_to_do_without_a_ledger(database: str) -> None:
    done = _holystack("cost", "report", "--dsn", database, "--spec", str(EXAMPLE))
    assert done.returncode == 2 and "apply OUT/sql/billing.sql" in done.stderr and "Traceback" not in done.stderr


def test_cost_report_month_defaults_to_utc(monkeypatch) -> None:
    """Just before midnight UTC on the last day of a month, a clock east of UTC already reads the
    next month; the report's default month is the UTC one."""
    import datetime as dt

    from holystack import cost_report

    instant = dt.datetime(2026, 11, 30, 23, 30, tzinfo=dt.timezone.utc)

    class Clock(dt.datetime):
        @classmethod
        def now(cls, tz=None):  # noqa: ANN001, ANN206
            return instant.astimezone(tz) if tz else instant.astimezone(dt.timezone(dt.timedelta(hours=7))).replace(tzinfo=None)

        @classmethod
        def today(cls):  # noqa: ANN206
            return cls.now()

    class Day(dt.date):
        @classmethod
        def today(cls):  # noqa: ANN206
            return dt.date(2026, 12, 1)  # the local date, 07:00 east of UTC

    monkeypatch.setattr(cost_report, "datetime", Clock)
    monkeypatch.setattr(cost_report, "date", Day)
    assert cost_report.parse_month(None) == dt.date(2026, 11, 1)
