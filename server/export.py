"""The bookkeeping export: every posting in a period as CSV, streamed in constant memory.

One read transaction (one snapshot of the ledger, so the file adds up even
while tills upload) reads the postings joined with their transactions through
a server-side cursor (PostgreSQL) or SQLite's own lazy cursor, EXPORT_BATCH_ROWS
at a time; each batch is formatted and sent before the next is read. Memory
stays the same for a thousand postings or ten million.

Two dialects, one formatter:
- "plain": ",", a decimal point, English headers (CSV_COLUMNS); what scripts read.
- "nl": what Dutch Excel opens in columns: ";", a decimal comma in `amount`,
  Dutch headers and a UTF-8 byte order mark.

Every text cell goes through floreyn.text's formula rule (csv_cell); the fast
path below only skips the call for cells whose first character cannot start
a formula, which is what csv_cell itself would return unchanged.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
from dataclasses import dataclass
from typing import Any, Final, Iterator, Sequence

from sqlalchemy import Connection, Row, Select, select

from floreyn.server import schema as s
from floreyn.server import state
from floreyn.server.db import Database
from floreyn.server.reports import period
from floreyn.text import FORMULA_START, csv_cell, csv_row

EXPORT_BATCH_ROWS: Final = 5_000  # rows per fetch and per chunk sent: ~0.7 MB of CSV
# SQLite's page cache for the export's connection while it runs. The readers' usual 64 MB (server/db.py) would
# fill with pages an export reads once (the server grew by ~140 MB exporting 400k postings); with this the
# export is as fast (the OS caches the file) and the process stays within some 20 MB of idle.
EXPORT_CACHE_KIB: Final = 2_048
CSV_COLUMNS: Final = ("date", "time", "tx_id", "kind", "account", "currency", "amount", "amount_cents",
                      "terminal_id", "record_seq", "merchant_id", "card_id", "reverses", "memo")
# The same columns as a Dutch bookkeeper reads them.
HEADERS_NL: Final = {
    "date": "datum", "time": "tijd", "tx_id": "transactie", "kind": "soort", "account": "rekening",
    "currency": "valuta", "amount": "bedrag", "amount_cents": "bedrag_in_centen", "terminal_id": "kassa",
    "record_seq": "kassavolgnummer", "merchant_id": "winkel", "card_id": "pas", "reverses": "corrigeert",
    "memo": "omschrijving",
}
_FORMULA_FIRST: Final = frozenset(FORMULA_START)
_SECONDS_PER_DAY: Final = 86_400
_EPOCH_DAY: Final = dt.date(1970, 1, 1)
_OFFSET_BUCKET_S: Final = 86_400  # a UTC day; a day whose two ends differ in offset is done row by row


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str
    delimiter: str
    decimal: str
    headers: tuple[str, ...]
    preamble: str = ""


DIALECTS: Final = {
    "plain": Dialect("plain", ",", ".", CSV_COLUMNS),
    "nl": Dialect("nl", ";", ",", tuple(HEADERS_NL[c] for c in CSV_COLUMNS), preamble="\ufeff"),
}


def _query(start_ms: int, end_ms: int) -> Select[Any]:
    p, t = s.postings.c, s.transactions.c
    return (select(p.created_ms, p.tx_id, p.kind, p.account, p.currency, p.amount_cents, t.terminal_id,
                   t.record_seq, t.merchant_id, t.card_id, t.reverses, t.memo)
            .join_from(s.postings, s.transactions, t.tx_id == p.tx_id)
            .where(p.created_ms >= start_ms, p.created_ms < end_ms)
            .order_by(p.id))


def _utc_offset_s(at_s: int) -> int:
    delta = dt.datetime.fromtimestamp(at_s, state.TZ).utcoffset()
    assert delta is not None
    return int(delta.total_seconds())


class _LocalClock:
    """Milliseconds to Amersfoort's date and time text, the zone's offset looked up once per UTC day.

    zoneinfo per row costs more than the rest of a row's formatting. Rows come in
    posting order, which is nearly time order, so remembering the last UTC day and
    the last local day is enough (and stays constant in size); on the two days a
    year whose ends differ in offset (summer time starts or ends) each row asks zoneinfo.
    """

    def __init__(self) -> None:
        self._bucket, self._day, self._day_text = -1, -1, ""
        self._bucket_offset_s: int | None = None
        self._second, self._texts = -1, ("", "")  # a transaction's postings share their second

    def __call__(self, created_ms: int) -> tuple[str, str]:
        at_s = created_ms // 1000
        if at_s == self._second:
            return self._texts
        bucket = at_s // _OFFSET_BUCKET_S
        if bucket != self._bucket:
            first = _utc_offset_s(bucket * _OFFSET_BUCKET_S)
            same = first == _utc_offset_s((bucket + 1) * _OFFSET_BUCKET_S - 1)
            self._bucket, self._bucket_offset_s = bucket, first if same else None
        offset_s = self._bucket_offset_s if self._bucket_offset_s is not None else _utc_offset_s(at_s)
        local_day, second = divmod(at_s + offset_s, _SECONDS_PER_DAY)
        if local_day != self._day:
            self._day, self._day_text = local_day, (_EPOCH_DAY + dt.timedelta(days=local_day)).isoformat()
        hours, rest = divmod(second, 3600)
        self._second, self._texts = at_s, (self._day_text, f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}")
        return self._texts


def _text(value: str | None) -> str:
    if not value:
        return ""
    return value if value[0] not in _FORMULA_FIRST else str(csv_cell(value))


def _rows(batch: Sequence[Row], clock: _LocalClock, decimal: str) -> Iterator[tuple[object, ...]]:
    for created_ms, tx_id, kind, account, currency, cents, terminal, seq, merchant, card, reverses, memo in batch:
        day, time_text = clock(created_ms)
        whole, part = divmod(abs(cents), 100)
        yield (day, time_text, _text(tx_id), _text(kind), _text(account), _text(currency),
               f"{'-' if cents < 0 else ''}{whole}{decimal}{part:02d}", cents, _text(terminal),
               "" if seq is None else seq, _text(merchant), _text(card), _text(reverses), _text(memo))


def csv_export(db: Database, from_date: str, to_date: str, dialect: str = "plain") -> Iterator[bytes]:
    """The export as UTF-8 chunks, one per batch of rows; the period is checked before anything is read."""
    start, end = period(from_date, to_date)
    form = DIALECTS[dialect]
    return _stream(db, start, end, form)


def _stream(db: Database, start: int, end: int, form: Dialect) -> Iterator[bytes]:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=form.delimiter, lineterminator="\r\n")
    buf.write(form.preamble)
    writer.writerow(csv_row(form.headers))
    yield buf.getvalue().encode()
    clock = _LocalClock()
    # One transaction for the whole file: a snapshot, so a period that includes today still sums to zero.
    with db.snapshot_reader.connect() as conn, conn.begin(), _small_page_cache(conn, db.is_sqlite):
        result = conn.execution_options(stream_results=True, yield_per=EXPORT_BATCH_ROWS).execute(
            _query(start, end))
        for batch in result.partitions():
            buf.seek(0)
            buf.truncate()
            writer.writerows(_rows(batch, clock, form.decimal))
            yield buf.getvalue().encode()


@contextlib.contextmanager
def _small_page_cache(conn: Connection, is_sqlite: bool) -> Iterator[None]:
    """EXPORT_CACHE_KIB of SQLite page cache on this pooled connection, its own size back afterwards."""
    if not is_sqlite:  # PostgreSQL's server-side cursor keeps the rows on the database server
        yield
        return
    before = int(conn.exec_driver_sql("PRAGMA cache_size").scalar_one())
    conn.exec_driver_sql(f"PRAGMA cache_size=-{EXPORT_CACHE_KIB}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size={before}")
