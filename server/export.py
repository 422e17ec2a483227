"""The bookkeeping export: every posting in a period as CSV, streamed in constant memory.

One read transaction (one snapshot of the ledger, so the file adds up even
while tills upload) reads the postings joined with their transactions, and
each batch of EXPORT_BATCH_ROWS is sent before the next is read. Memory stays
the same for a thousand postings or ten million.

Two dialects:
- "plain": ",", a decimal point, English headers (CSV_COLUMNS); what scripts read.
- "nl": what Dutch Excel opens in columns: ";", a decimal comma in `amount`,
  Dutch headers and a UTF-8 byte order mark.

Where the cells are formatted depends on the database (measured with bench/server_export.py):
- PostgreSQL formats every cell itself and sends the CSV through
  COPY (SELECT ...) TO STDOUT; Python only ends each row with CRLF. The
  formula rule is SQL built from floreyn.text's FORMULA_START and
  PLAIN_NUMBER_PATTERN, dates come from `AT TIME ZONE` state.TZ, and COPY's
  CSV quoting is csv.writer's (a cell is quoted when it holds the delimiter,
  a quote, CR or LF; empty text goes out as NULL, which COPY leaves unquoted).
  Python per row costs more than all of the database's work.
- SQLite has neither regular expressions nor time zones, and its expression
  evaluator was slower than Python at this, so it reads through the bare
  sqlite3 cursor (no SQLAlchemy row objects) in id order over the period's id
  range (ID_RANGE_SQL: no sort, so the first rows go out at once), text cells go through
  floreyn.text.csv_cell (skipped for cells whose first character cannot start
  a formula, which is what csv_cell would return unchanged), times through
  _LocalClock, and csv.writer writes the rows.
The amount ("-12,34") is one SQL expression for both. tests/server/test_export.py
compares the bytes of both dialects on both databases with the obvious Python
formatting of hostile cells.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
from dataclasses import dataclass
from typing import Any, Final, Iterator, Sequence

from sqlalchemy import Connection

from floreyn.server import schema as s
from floreyn.server import state
from floreyn.server.db import Database
from floreyn.server.reports import period
from floreyn.text import FORMULA_START, PLAIN_NUMBER_PATTERN, csv_cell, csv_row

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

_COLUMNS_SQL: Final = ("p.created_ms", "p.tx_id", "p.kind", "p.account", "p.currency", "{amount}", "p.amount_cents",
                       "t.terminal_id", "t.record_seq", "t.merchant_id", "t.card_id", "t.reverses", "t.memo")
_TEXT_COLUMNS: Final = frozenset(("p.tx_id", "p.kind", "p.account", "p.currency", "t.terminal_id", "t.merchant_id",
                                  "t.card_id", "t.reverses", "t.memo"))
_FROM_SQL: Final = f" FROM {s.postings.name} p JOIN {s.transactions.name} t ON t.tx_id = p.tx_id WHERE "
_IN_PERIOD_SQL: Final = "p.created_ms >= {start:d} AND p.created_ms < {end:d}"
_ORDER_SQL: Final = " ORDER BY p.id"
# SQLite: the period's first and last posting id (from the time index alone), then the rows read in id order
# between them, the period checked on each. Asked for the period and that order in one query, SQLite reads the
# time index and sorts every row of the period in a temporary B-tree (a temporary file of ~100 MB per million
# postings, on a Pi's SD card) before the first row goes out. The unary + keeps the period's terms off the time
# index, so the plan stays the id range whatever statistics say (tests/server/test_export.py reads the plan).
ID_RANGE_SQL: Final = (f"SELECT min(id), max(id) FROM {s.postings.name}"
                        " WHERE created_ms >= {start:d} AND created_ms < {end:d}")
IN_ID_RANGE_SQL: Final = ("p.id BETWEEN {first:d} AND {last:d} AND +p.created_ms >= {start:d}"
                           " AND +p.created_ms < {end:d}")


def _amount_sql(decimal: str) -> str:
    """Cents as "-12.34" / "-12,34", in SQL that SQLite and PostgreSQL both run (integer / and %, ||)."""
    assert decimal in ".,"  # goes into the SQL text
    c = "abs(p.amount_cents)"
    return (f"(CASE WHEN p.amount_cents < 0 THEN '-' ELSE '' END || ({c} / 100) || '{decimal}' "
            f"|| CASE WHEN {c} % 100 < 10 THEN '0' ELSE '' END || ({c} % 100))")


def _select_sql(columns: list[str], where: str) -> str:
    return "SELECT " + ", ".join(columns) + _FROM_SQL + where + _ORDER_SQL


def sqlite_select_sql(form: Dialect, start: int, end: int, first_id: int, last_id: int) -> str:
    """SQLite's query for the period's rows whose ids lie in [first_id, last_id] (see ID_RANGE_SQL)."""
    columns = [_amount_sql(form.decimal) if c == "{amount}" else c for c in _COLUMNS_SQL]
    return _select_sql(columns, IN_ID_RANGE_SQL.format(first=first_id, last=last_id, start=start, end=end))


def _pg_text_sql(column: str) -> str:
    """floreyn.text.csv_cell in PostgreSQL; '' becomes NULL, which COPY leaves unquoted, as csv.writer does ''.

    The first character is compared as a number (ascii(): its code point, 0 for ''), not as text (left() IN
    ...): cheaper for the backend, which formats every cell of every row."""
    firsts = ", ".join(str(ord(ch)) for ch in FORMULA_START)
    return (f"CASE WHEN ascii({column}) IN ({firsts}) AND {column} !~ '^(?:{PLAIN_NUMBER_PATTERN})$' "
            f"THEN '''' || {column} ELSE NULLIF({column}, '') END")


def _pg_copy_sql(start: int, end: int, form: Dialect) -> str:
    tz = state.TZ.key
    assert tz.replace("/", "").replace("_", "").isalnum()  # goes into the SQL text
    local = f"(to_timestamp(p.created_ms / 1000) AT TIME ZONE '{tz}')"
    # date and time as their types print them (DateStyle ISO, _postgres_chunks sets it): cheaper than to_char
    cells = [f"{local}::date::text", f"{local}::time::text"]
    cells += [_amount_sql(form.decimal) if c == "{amount}" else _pg_text_sql(c) if c in _TEXT_COLUMNS else c
              for c in _COLUMNS_SQL[1:]]
    assert form.delimiter in ",;"  # goes into the SQL text
    select = _select_sql(cells, _IN_PERIOD_SQL.format(start=start, end=end))
    return f"COPY ({select}) TO STDOUT WITH (FORMAT csv, DELIMITER '{form.delimiter}')"


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


def _text(value: str | None) -> str | None:
    return value if not value or value[0] not in _FORMULA_FIRST else str(csv_cell(value))


def _sqlite_rows(batch: Sequence[tuple[Any, ...]], clock: _LocalClock) -> list[tuple[object, ...]]:
    """The SQLite query's rows as CSV rows: local date and time, text cells through csv_cell (None stays empty)."""
    text = _text
    return [(*clock(created_ms), text(tx_id), text(kind), text(account), text(currency), amount, cents,
             text(terminal), seq, text(merchant), text(card), text(reverses), text(memo))
            for (created_ms, tx_id, kind, account, currency, amount, cents, terminal, seq, merchant, card, reverses,
                 memo) in batch]


def csv_export(db: Database, from_date: str, to_date: str, dialect: str = "plain") -> Iterator[bytes]:
    """The export as UTF-8 chunks, one per batch of rows; the period is checked before anything is read."""
    start, end = period(from_date, to_date)
    form = DIALECTS[dialect]
    return _stream(db, start, end, form)


def _stream(db: Database, start: int, end: int, form: Dialect) -> Iterator[bytes]:
    buf = io.StringIO()
    csv.writer(buf, delimiter=form.delimiter, lineterminator="\r\n").writerow(csv_row(form.headers))
    yield (form.preamble + buf.getvalue()).encode()
    # One transaction for the whole file: a snapshot, so a period that includes today still sums to zero.
    with db.snapshot_reader.connect() as conn, conn.begin():
        yield from _chunks(conn, db.is_sqlite, start, end, form)


def _chunks(conn: Connection, is_sqlite: bool, start: int, end: int, form: Dialect) -> Iterator[bytes]:
    """The rows as CSV, a chunk per EXPORT_BATCH_ROWS, read in `conn`'s open transaction by the bare driver."""
    driver: Any = conn.connection.driver_connection
    if not is_sqlite:
        yield from _postgres_chunks(driver, start, end, form)
        return
    with _small_page_cache(conn):
        yield from _sqlite_chunks(driver, start, end, form)


def _sqlite_chunks(driver: Any, start: int, end: int, form: Dialect) -> Iterator[bytes]:
    cur = driver.cursor()
    try:
        first_id, last_id = cur.execute(ID_RANGE_SQL.format(start=start, end=end)).fetchone()
        if first_id is None:
            return  # no posting in the period
        cur.execute(sqlite_select_sql(form, start, end, first_id, last_id))
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter=form.delimiter, lineterminator="\r\n")
        clock = _LocalClock()
        while batch := cur.fetchmany(EXPORT_BATCH_ROWS):
            buf.seek(0)
            buf.truncate()
            writer.writerows(_sqlite_rows(batch, clock))
            yield buf.getvalue().encode()
    finally:
        cur.close()


def _postgres_chunks(driver: Any, start: int, end: int, form: Dialect) -> Iterator[bytes]:
    """COPY's rows, each ended with CRLF as csv.writer ends them (libpq hands over one whole row, LF-ended, per read;
    a LF inside a quoted cell stays as it is)."""
    cur = driver.cursor()
    cur.execute("SET LOCAL client_encoding TO 'UTF8'")  # the bytes go out as they come
    cur.execute("SET LOCAL DateStyle TO 'ISO'")  # dates as YYYY-MM-DD (_pg_copy_sql)
    with cur.copy(_pg_copy_sql(start, end, form)) as copy:
        rows: list[Any] = []
        for row in copy:
            rows.append(row)
            if len(rows) == EXPORT_BATCH_ROWS:
                yield _crlf(rows)
                rows.clear()
        if rows:
            yield _crlf(rows)


def _crlf(rows: list[Any]) -> bytes:
    """The rows joined, each row's final LF made CRLF. Per row in Python this cost more than reading the row, so
    a batch with no LF inside a cell (one LF per row: nearly every batch) is joined and replaced in C."""
    text = b"".join(rows)
    if text.count(b"\n") == len(rows):
        return text.replace(b"\n", b"\r\n")
    return b"\r\n".join([row[:-1] for row in rows]) + b"\r\n"


@contextlib.contextmanager
def _small_page_cache(conn: Connection) -> Iterator[None]:
    """EXPORT_CACHE_KIB of SQLite page cache on this pooled connection, its own size back afterwards."""
    before = int(conn.exec_driver_sql("PRAGMA cache_size").scalar_one())
    conn.exec_driver_sql(f"PRAGMA cache_size=-{EXPORT_CACHE_KIB}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size={before}")
