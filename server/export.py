"""The bookkeeping export: every posting in a period as CSV, streamed in constant memory.

One read transaction (one snapshot of the ledger, so the file adds up even
while tills upload) reads the postings with their transactions, and each
batch of EXPORT_BATCH_ROWS is sent before the next is read. Memory stays the
same for a thousand postings or ten million.

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
  evaluator (string building too) was slower than Python at this, so it reads
  through the bare sqlite3 cursor (no SQLAlchemy row objects) the postings
  alone, in id order over the period's id range (ID_RANGE_SQL: no sort, so the
  first rows go out at once), SQLITE_FETCH_ROWS at a time (few enough that
  the garbage collector leaves them alone). Each fetch's transactions are read
  once, as the next rowid range of their table (_Transactions: no tx_id index
  lookup per posting), and their cells formatted once, a column at a time
  (_written). A column's cells go out as they are when a check of the column
  in C (_verbatim) shows csv.writer would not quote them and csv_cell would
  not change them; else through floreyn.text.csv_cell and csv.writer (for a
  posting's cells, the fetch's whole rows). Amounts are formatted in Python
  (_Amounts, as _amount_sql writes them, each value once), times through
  _LocalClock (a fetch's times in one pass of arithmetic when one UTC offset
  holds for all of them).
On PostgreSQL the amount ("-12,34") is SQL (_amount_sql). tests/server/test_export.py
compares the bytes of both dialects on both databases with the obvious Python
formatting of hostile cells.
"""

from __future__ import annotations

import bisect
import contextlib
import csv
import datetime as dt
import io
import itertools
import operator
from dataclasses import dataclass
from typing import Any, Final, Iterable, Iterator, Sequence

from sqlalchemy import Connection

from floreyn.server import schema as s
from floreyn.server import state
from floreyn.server.db import Database
from floreyn.server.reports import period
from floreyn.text import FORMULA_START, PLAIN_NUMBER_PATTERN, csv_cell, csv_row

EXPORT_BATCH_ROWS: Final = 5_000  # rows per chunk sent: ~0.7 MB of CSV
# SQLite rows per fetch, each fetch formatted before the next, so that the row tuples alive at once stay under the
# cyclic garbage collector's threshold (700 new container objects, gc.get_threshold()). 5,000 at once made it run
# some 14 times per batch and pushed the live rows into older generations, whose collections walk every object of
# the process: 0.6 of 3.6 s per million postings (in-process). With 500: none, and the export 2.9 s.
SQLITE_FETCH_ROWS: Final = 500
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
_CRLF: Final = "\r\n"  # csv.writer's line end here, as the CSV standard (RFC 4180) has it
_FIRST_CHAR: Final = operator.itemgetter(0)
_ROWID, _TX_ID = operator.itemgetter(0), operator.itemgetter(1)  # of _Transactions' rows; _TX_ID of postings' too
_SECONDS_PER_DAY: Final = 86_400
_EPOCH_DAY: Final = dt.date(1970, 1, 1)
_HH_MM_: Final = tuple(f"{hours:02d}:{minutes:02d}:" for hours in range(24) for minutes in range(60))
_SS: Final = tuple(f"{seconds:02d}" for seconds in range(60))  # with _HH_MM_: a time's text without formatting
_OFFSET_BUCKET_S: Final = 86_400  # a UTC day; a day whose two ends differ in offset is done row by row
# A batch whose times span more UTC days than this is done row by row (_LocalClock.texts), not checked day by day.
_ONE_OFFSET_MAX_DAYS: Final = 31
# Amount texts kept (_Amounts) while they number no more than this many batches' rows.
_AMOUNTS_KEPT_BATCHES: Final = 2


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
_POSTING_COLUMNS: Final = 7  # _COLUMNS_SQL's first seven are the posting's, the rest its transaction's
_TX_SLACK_ROWS: Final = 500  # transactions a range reads past those its batch lacks (others between them)
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


def _amount_sql(decimal: str, cents: str = "p.amount_cents") -> str:
    """Cents as "-12.34" / "-12,34", in SQL that SQLite and PostgreSQL both run (integer / and %, ||)."""
    assert decimal in ".,"  # goes into the SQL text
    c = f"abs({cents})"
    return (f"(CASE WHEN {cents} < 0 THEN '-' ELSE '' END || ({c} / 100) || '{decimal}' "
            f"|| CASE WHEN {c} % 100 < 10 THEN '0' ELSE '' END || ({c} % 100))")


def _select_sql(columns: list[str], where: str) -> str:
    return "SELECT " + ", ".join(columns) + _FROM_SQL + where + _ORDER_SQL


def sqlite_select_sql(start: int, end: int, first_id: int, last_id: int) -> str:
    """SQLite's query for the period's postings whose ids lie in [first_id, last_id] (see ID_RANGE_SQL): their
    own columns, the amount as amount_cents (_Amounts formats it); the transactions' come from _Transactions."""
    columns = [c for c in _COLUMNS_SQL[:_POSTING_COLUMNS] if c != "{amount}"]
    where = IN_ID_RANGE_SQL.format(first=first_id, last=last_id, start=start, end=end)
    return "SELECT " + ", ".join(columns) + f" FROM {s.postings.name} p WHERE " + where + _ORDER_SQL


_TX_COLUMNS_SQL: Final = ", ".join(c.removeprefix("t.") for c in _COLUMNS_SQL[_POSTING_COLUMNS:])
# The next `limit` transactions from rowid `first` on, and transactions by tx_id; both as (rowid, tx_id, columns).
SQLITE_TX_RANGE_SQL: Final = (f"SELECT rowid, tx_id, {_TX_COLUMNS_SQL} FROM {s.transactions.name}"
                              " WHERE rowid >= ? ORDER BY rowid LIMIT ?")


def sqlite_tx_by_id_sql(count: int) -> str:
    return (f"SELECT rowid, tx_id, {_TX_COLUMNS_SQL} FROM {s.transactions.name}"
            f" WHERE tx_id IN ({', '.join('?' * count)})")


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
        self._second, self._texts = at_s, (self._day_text, _HH_MM_[second // 60] + _SS[second % 60])
        return self._texts

    def texts(self, created_ms: Sequence[int], delimiter: str) -> dict[int, str]:
        """Each distinct time of a batch -> "date<delimiter>time" (a transaction's postings share theirs). When
        one offset holds over the batch's whole span, in one pass of arithmetic with no call per time (a
        third of the cost); else each through __call__."""
        distinct = list(dict.fromkeys(created_ms))
        first_s, last_s = min(distinct) // 1000, max(distinct) // 1000
        offset_s = _one_offset_s(first_s, last_s)
        if offset_s is None:
            return {ms: delimiter.join(self(ms)) for ms in distinct}
        days = {day: (_EPOCH_DAY + dt.timedelta(days=day)).isoformat() + delimiter
                for day in range((first_s + offset_s) // _SECONDS_PER_DAY, (last_s + offset_s) // _SECONDS_PER_DAY + 1)}
        return dict(zip(distinct, [days[(local_s := ms // 1000 + offset_s) // _SECONDS_PER_DAY]
                                   + _HH_MM_[(second := local_s % _SECONDS_PER_DAY) // 60] + _SS[second % 60]
                                   for ms in distinct], strict=True))


def _one_offset_s(first_s: int, last_s: int) -> int | None:
    """The zone's offset from first_s to last_s when it is one throughout (every UTC day of the span begins and
    ends with it: _LocalClock's rule for a day), else None; None too for a span of over _ONE_OFFSET_MAX_DAYS."""
    days = range(first_s // _OFFSET_BUCKET_S, last_s // _OFFSET_BUCKET_S + 1)
    if len(days) > _ONE_OFFSET_MAX_DAYS:
        return None
    offsets = {_utc_offset_s(at_s) for day in days
               for at_s in (day * _OFFSET_BUCKET_S, (day + 1) * _OFFSET_BUCKET_S - 1)}
    return offsets.pop() if len(offsets) == 1 else None


def _text(value: object) -> object:
    """floreyn.text.csv_cell, its work skipped for a cell that starts with no formula character."""
    return value if type(value) is not str or not value or value[0] not in _FORMULA_FIRST else csv_cell(value)


class _Lines:
    """A csv.writer's file that keeps each row it is given as its own string (CRLF-ended), so rows formatted
    apart can be joined: csv.writer quotes each cell on its own, and a row's cells are only joined by the
    delimiter, so a row written in two parts and joined by the delimiter is the row written whole."""

    def __init__(self, delimiter: str) -> None:
        self.delimiter = delimiter
        self.rows: list[str] = []
        self.write = self.rows.append
        self.writer = csv.writer(self, delimiter=delimiter, lineterminator=_CRLF)

    def format(self, rows: Iterable[Sequence[object]]) -> list[str]:
        self.rows.clear()
        self.writer.writerows(rows)
        return self.rows


def _verbatim(columns: Sequence[Sequence[Any]], delimiter: str) -> bool:
    """True when every cell is text that csv.writer writes as it is (no delimiter, quote, CR or LF in it) and
    _text leaves alone (no formula character first). Checked a column at a time in C, not cell by cell in
    Python; a false "no" (a plain number such as "-3", an empty cell) only costs the slower path."""
    for cells in columns:
        try:  # a cell that is no str, or is empty, raises: no
            flat = "".join(cells)
            if not _FORMULA_FIRST.isdisjoint(map(_FIRST_CHAR, cells)):
                return False
        except (TypeError, IndexError):
            return False
        if "\n" in flat or "\r" in flat or '"' in flat or delimiter in flat:
            return False
    return True


def _amount_text(cents: int, decimal: str) -> str:
    """Integer cents as _amount_sql writes them ("-12.34" / "-12,34")."""
    whole, part = divmod(abs(cents), 100)
    return f"{'-' if cents < 0 else ''}{whole}{decimal}{part:02d}"


class _Amounts:
    """Integer cents -> the cells amount and amount_cents as a row holds them ("-12.34,-1234"): in Python, each
    value once, since SQLite's string building cost more than a second per million rows. Kept across batches (a
    ledger's amounts repeat: cleared each batch they cost 0.3 s per million postings) while they number no more
    than _AMOUNTS_KEPT_BATCHES batches' rows, then started afresh: memory stays that of a few batches. A plain
    dict, no subclass: set.difference walks all of a dict subclass, but only its own set's items in a dict."""

    def __init__(self, form: Dialect) -> None:
        self.texts: dict[int, str] = {}
        self._decimal, self._delimiter = form.decimal, form.delimiter

    def add(self, cents: Iterable[int]) -> None:
        texts = self.texts
        new = set(cents).difference(texts)
        if len(texts) + len(new) > _AMOUNTS_KEPT_BATCHES * EXPORT_BATCH_ROWS:
            texts.clear()
            new = set(cents)
        decimal, delimiter = self._decimal, self._delimiter
        for c in new:
            texts[c] = f"{_amount_text(c, decimal)}{delimiter}{c}"


class _Transactions:
    """The transactions of batches of postings read in id order, read in rowid order where they lie so.

    The ledger writes a transaction's row just before its postings (server/ledger.py write_entries), so postings
    in id order meet their transactions in rowid order, and a batch's transactions are the table's next rows:
    read as one rowid range, page after page. Joined per posting (or looked up by tx_id), each transaction cost
    a random leaf page of the tx_id index, nearly always a read from the OS with the export's small page cache
    (EXPORT_CACHE_KIB): 2 s per million postings. Transactions the range misses (written out of order: a
    restore, or rows of the id range outside the period) are looked up by tx_id, and the next range starts
    after the furthest transaction used. Memory: a range's rows at most (a batch's and _TX_SLACK_ROWS)."""

    def __init__(self, cur: Any) -> None:
        self._cur = cur
        self._next_rowid: int | None = None  # where the next range starts; None until a transaction is found
        self._ahead: dict[object, tuple[Any, ...]] = {}  # read in the last range, past the furthest used

    def of(self, tx_ids: list[object]) -> list[tuple[Any, ...]]:
        """The rows (rowid, tx_id, columns) of those of `tx_ids` that exist, in the order of `tx_ids`."""
        ahead = self._ahead
        missing = list(itertools.filterfalse(ahead.__contains__, tx_ids))
        ranged: dict[object, tuple[Any, ...]] = {}
        rows: list[tuple[Any, ...]] = []
        if missing and self._next_rowid is not None:
            rows = self._cur.execute(SQLITE_TX_RANGE_SQL, (self._next_rowid, len(missing) + _TX_SLACK_ROWS)).fetchall()
            ranged = dict(zip(map(_TX_ID, rows), rows, strict=True))
            if rows:
                self._next_rowid = rows[-1][0] + 1
            missing = list(itertools.filterfalse(ranged.__contains__, missing))
        known = {**ahead, **ranged}
        if missing:
            known.update((row[1], row) for row in self._cur.execute(sqlite_tx_by_id_sql(len(missing)), missing))
        found: list[tuple[Any, ...]] = list(filter(None, map(known.get, tx_ids)))
        if found:
            self._keep_ahead([*ahead.values(), *rows], max(map(_ROWID, found)))
        return found

    def _keep_ahead(self, read: list[tuple[Any, ...]], furthest: int) -> None:
        """Keep the rows `read` (in rowid order) past the furthest transaction used, for the next batches: at most
        a range's worth, the next range starting after the last kept (a row dropped is read again, or looked up)."""
        later = read[bisect.bisect_right(read, furthest, key=_ROWID):][:EXPORT_BATCH_ROWS + _TX_SLACK_ROWS]
        self._ahead = dict(zip(map(_TX_ID, later), later, strict=True))
        self._next_rowid = later[-1][0] + 1 if later else max(self._next_rowid or 0, furthest + 1)


def _no_formula(cells: Sequence[Any]) -> bool:
    """True when _text leaves every cell as it is: no text cell starts with a formula character."""
    try:  # an int raises: no
        return _FORMULA_FIRST.isdisjoint(map(_FIRST_CHAR, filter(None, cells)))
    except TypeError:
        return False


def _guarded(cells: Sequence[Any]) -> Sequence[Any]:
    """A text column's cells as _text makes them; in C when no cell needs it."""
    return cells if _no_formula(cells) else list(map(_text, cells))


def _written(cells: Sequence[Any], lines: _Lines) -> Iterable[str]:
    """A column's cells as csv.writer writes them after _text, to be joined by the delimiter (cells are quoted
    each on its own). Integers and text _verbatim passes (None is written as '') as they are, in C; any other
    column through _text and csv.writer, each cell in a row of two (a row of one empty cell would be written as
    '""', which csv.writer does to tell it from an empty line) whose delimiter and CRLF are cut off."""
    if set(map(type, cells)) == {int}:
        return map(str, cells)
    present = [cell for cell in cells if cell is not None] if None in cells else cells
    if _verbatim([present], lines.delimiter):
        return cells if present is cells else [cell or "" for cell in cells]
    end = len(lines.delimiter) + len(_CRLF)
    return [row[:-end] for row in lines.format(zip(_guarded(cells), itertools.repeat("")))]


def _tx_tails(transactions: _Transactions, batch: Sequence[tuple[Any, ...]], lines: _Lines) -> dict[object, str]:
    """tx_id -> the transaction's cells as the end of a CSV row (with the CRLF), for the batch's transactions,
    each read and formatted once however many postings it has, a column at a time (_written: csv.writer over
    every cell cost 0.1-0.2 s per million postings more). A posting whose transaction is missing gets none (the
    JOIN this replaces left such a posting out)."""
    rows = transactions.of(list(dict.fromkeys(map(_TX_ID, batch))))
    if not rows:
        return {}
    _, tx_ids, *columns = zip(*rows, strict=True)
    tails = map(lines.delimiter.join, zip(*(_written(cells, lines) for cells in columns), strict=True))
    return dict(zip(tx_ids, map(str.__add__, tails, itertools.repeat(_CRLF)), strict=True))


class _SqliteBatches:
    """The SQLite query's batches as CSV text: the posting's cells, then its transaction's (_Transactions)."""

    def __init__(self, cur: Any, form: Dialect) -> None:
        self._cur, self._form = cur, form
        self._clock, self._lines, self._transactions = _LocalClock(), _Lines(form.delimiter), _Transactions(cur)
        self._amounts = _Amounts(form)

    def text(self, batch: Sequence[tuple[Any, ...]]) -> str:
        """The batch's rows. The posting's cells go out as they are when _verbatim says _text and csv.writer
        would leave every one of them so (the amount is digits from integer cents); otherwise through _text
        and csv.writer, as every transaction's cells do (_tx_tails)."""
        tails = _tx_tails(self._transactions, batch, self._lines)
        columns = list(zip(*batch, strict=True))
        d, amounts = self._form.delimiter, self._amounts
        if set(map(type, columns[5])) == {int} and _verbatim(columns[1:5], d):
            if not tails.keys() >= set(columns[1]):  # a posting without its transaction: left out, as by a JOIN
                columns = list(zip(*[row for row in batch if row[1] in tails], strict=True))
                if not columns:
                    return ""
            created_ms, tx_ids, kinds, accounts, currencies, cents = columns
            amounts.add(cents)
            when = self._clock.texts(created_ms, d)
            return "".join(map(d.join, zip(map(when.__getitem__, created_ms), tx_ids, kinds, accounts, currencies,
                                           map(amounts.texts.__getitem__, cents), map(tails.__getitem__, tx_ids),
                                           strict=True)))
        clock, decimal, text = self._clock, self._form.decimal, _text
        kept = [row for row in batch if row[1] in tails]
        heads = self._lines.format([
            (*clock(created_ms), text(tx_id), text(kind), text(account), text(currency),
             _amount_text(cents, decimal) if type(cents) is int else self._sql_amount(cents), cents)
            for created_ms, tx_id, kind, account, currency, cents in kept])
        return "".join([f"{head[:-2]}{d}{tails[row[1]]}" for head, row in zip(heads, kept, strict=True)])

    def _sql_amount(self, cents: object) -> object:
        """An amount_cents SQLite holds as no integer (only a write around the ledger could store one): its
        amount as _amount_sql makes it from the same value, so the file is what the SQL-formatted export wrote."""
        return self._cur.execute(f"SELECT {_amount_sql(self._form.decimal, ':c')}", {"c": cents}).fetchone()[0]


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
    cur, tx_cur = driver.cursor(), driver.cursor()
    try:
        first_id, last_id = cur.execute(ID_RANGE_SQL.format(start=start, end=end)).fetchone()
        if first_id is None:
            return  # no posting in the period
        cur.execute(sqlite_select_sql(start, end, first_id, last_id))
        batches = _SqliteBatches(tx_cur, form)
        fetch_rows = min(SQLITE_FETCH_ROWS, EXPORT_BATCH_ROWS)
        texts: list[str] = []
        while batch := cur.fetchmany(fetch_rows):
            texts.append(batches.text(batch))
            if len(texts) * fetch_rows >= EXPORT_BATCH_ROWS:
                yield "".join(texts).encode()
                texts.clear()
        if texts:
            yield "".join(texts).encode()
    finally:
        tx_cur.close()
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
