"""An optional sink of holystack.instrument: one row per call in the PostgreSQL ledger that
OUT/sql/billing.sql creates (extra ``holystack[ledger]``, psycopg 3).

    ledger = Ledger(dsn, Instrument.from_spec("holystack.yaml"))   # attaches itself to the Instrument
    ...
    ledger.close()   # at shutdown: flushes what is queued (also registered with atexit)

record_call hands each row to a bounded queue and returns at once; a background thread writes
batches. When the queue is full, or PostgreSQL keeps failing, rows are dropped and counted in
P_ledger_dropped_rows_total: the ledger never blocks or fails the caller's request. The database
prices each row with the prices valid at its time."""
from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
from dataclasses import fields
from operator import attrgetter
from typing import Any

from prometheus_client import Counter

from ..identifiers import ledger_schema
from .core import CallRow, Instrument

log = logging.getLogger("holystack.ledger")

DEFAULT_QUEUE_SIZE = 10_000
DEFAULT_BATCH_SIZE = 500
DEFAULT_FLUSH_SECONDS = 1.0
MAX_ATTEMPTS = 3  # per batch, with a pause between, before its rows are dropped
_IDLE = object()  # the writer's wake-up when nothing arrived for flush_seconds
COLUMNS = tuple(f.name for f in fields(CallRow))  # the calls table's columns, as OUT/sql/billing.sql creates them
_VALUES = attrgetter(*COLUMNS)


class Ledger:
    """Writes the Instrument's calls to PostgreSQL in batches, from a bounded queue, off the caller's thread."""

    def __init__(self, dsn: str, instrument: Instrument, *, queue_size: int = DEFAULT_QUEUE_SIZE,
                 batch_size: int = DEFAULT_BATCH_SIZE, flush_seconds: float = DEFAULT_FLUSH_SECONDS):
        import psycopg  # the ledger extra; imported here so that metrics alone do not need it

        self._psycopg = psycopg
        self.dsn = dsn
        from psycopg import sql

        # The schema, named after the metrics prefix: quoted by psycopg as an identifier, never spliced in.
        self._insert = sql.SQL("INSERT INTO {schema}.calls ({columns}) VALUES ({values})").format(
            schema=sql.Identifier(ledger_schema(instrument.contract.prefix)),
            columns=sql.SQL(", ").join(sql.Identifier(column) for column in COLUMNS),
            values=sql.SQL(", ").join(sql.Placeholder() for _ in COLUMNS))
        self.batch_size, self.flush_seconds = batch_size, flush_seconds
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        prefix = instrument.contract.prefix
        self.dropped = Counter(f"{prefix}_ledger_dropped_rows", "Call rows the ledger could not write.",
                               registry=instrument.registry)
        self.written = Counter(f"{prefix}_ledger_written_rows", "Call rows written to the ledger.",
                               registry=instrument.registry)
        self._connection: Any = None
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="holystack-ledger", daemon=True)
        self._thread.start()
        instrument.sinks.append(self)
        atexit.register(self.close)

    def submit(self, row: CallRow) -> None:
        """Queue one row; never blocks. A full queue (or a closed ledger) drops and counts it."""
        if self._closed.is_set():
            self.dropped.inc()
            return
        try:
            self.queue.put_nowait(row)
        except queue.Full:
            self.dropped.inc()

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop. Safe to call twice."""
        if self._closed.is_set():
            return
        self._closed.set()
        try:
            self.queue.put(None, timeout=timeout)  # wakes the writer; it drains the queue first
        except queue.Full:
            pass
        self._thread.join(timeout)

    # -- the writer thread ---------------------------------------------------------------
    def _run(self) -> None:
        """Write a batch when it is full, or flush_seconds after its first row, or when idle."""
        batch: list[CallRow] = []
        first = 0.0
        while True:
            try:
                item = self.queue.get(timeout=self.flush_seconds)
            except queue.Empty:
                item = _IDLE
            if item is None:  # closing: the queue is FIFO, so this is the end; take any stragglers
                batch += self._drain()
                if batch:
                    self._write(batch)
                self._disconnect()
                return
            if isinstance(item, CallRow):
                if not batch:
                    first = time.monotonic()
                batch.append(item)
            if batch and (item is _IDLE or len(batch) >= self.batch_size
                          or time.monotonic() - first >= self.flush_seconds):
                self._write(batch)
                batch = []

    def _drain(self) -> list[CallRow]:
        rows = []
        while True:
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                return rows
            if isinstance(item, CallRow):
                rows.append(item)

    def _write(self, batch: list[CallRow]) -> None:
        sql = self._insert
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                if self._connection is None or self._connection.closed:
                    self._connection = self._psycopg.connect(self.dsn, connect_timeout=5, autocommit=False)
                with self._connection.cursor() as cursor:
                    cursor.executemany(sql, [_VALUES(row) for row in batch])
                self._connection.commit()
                self.written.inc(len(batch))
                return
            except Exception as error:  # any database trouble: retry, then drop; never raise
                log.warning("ledger: writing %d rows failed (attempt %d of %d): %s",
                            len(batch), attempt, MAX_ATTEMPTS, error)
                self._disconnect()
                if attempt < MAX_ATTEMPTS and not self._closed.is_set():
                    time.sleep(0.5 * attempt)
        self.dropped.inc(len(batch))

    def _disconnect(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except Exception:
                pass
            self._connection = None
