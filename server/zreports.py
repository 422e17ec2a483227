"""The Z-report of every day close a terminal uploaded, kept and served.

The server keeps every signed record, DAY_CLOSE records included, so it keeps
each day: day N of a terminal is the records after its (N-1)th DAY_CLOSE up
to and including its Nth. The report is recomputed from those records with
the till's own function (floreyn/sync/zreport.py), so the cooperative can
lay any till's Z-report beside the settlement without the paper.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlalchemy import Connection, select

from floreyn.server import schema as s
from floreyn.server.errors import NotFound
from floreyn.sync.record import Kind, Tender, decode
from floreyn.sync.zreport import z_report

MAX_DAY_RECORDS: Final = 100_000  # a day longer than this is refused (no till makes that many)


@dataclass(frozen=True, slots=True)
class _Row:
    seq: int
    record_id: str
    tx_id: str
    kind: Kind
    fl_cents: int
    eur_cents: int
    tender: Tender
    ref_id: str | None
    wall_ms: int


def _row(raw: bytes) -> _Row:
    r = decode(raw).record
    return _Row(seq=r.seq, record_id=str(r.record_id), tx_id=str(r.record_id), kind=r.kind, fl_cents=r.fl_cents,
                eur_cents=r.eur_cents, tender=r.tender, ref_id=str(r.ref_id) if r.ref_id else None, wall_ms=r.wall_ms)


def day_report(conn: Connection, terminal_id: str, day_no: int) -> dict[str, object]:
    closes = list(conn.execute(select(s.records.c.seq).where(s.records.c.terminal_id == terminal_id,
                                                             s.records.c.kind == int(Kind.DAY_CLOSE))
                               .order_by(s.records.c.seq).limit(day_no)).scalars())
    if day_no < 1 or len(closes) < day_no:
        raise NotFound(what="z-report", id=f"{terminal_id} day {day_no}")
    first = closes[day_no - 2] + 1 if day_no > 1 else 1
    raws = conn.execute(select(s.records.c.raw).where(s.records.c.terminal_id == terminal_id,
                                                      s.records.c.seq >= first, s.records.c.seq <= closes[day_no - 1])
                        .order_by(s.records.c.seq).limit(MAX_DAY_RECORDS)).scalars()
    rows = [_row(bytes(raw)) for raw in raws]
    report = z_report(day_no, terminal_id, [r for r in rows if r.kind is not Kind.DAY_CLOSE])
    return {**report, "close_seq": closes[day_no - 1], "count_is": "records"}


def days(conn: Connection, terminal_id: str) -> list[dict[str, object]]:
    """The days a terminal closed: day number, the DAY_CLOSE's sequence number and when it arrived."""
    rows = conn.execute(select(s.records.c.seq, s.records.c.received_ms)
                        .where(s.records.c.terminal_id == terminal_id, s.records.c.kind == int(Kind.DAY_CLOSE))
                        .order_by(s.records.c.seq).limit(10_000)).all()
    return [{"day_no": i, "close_seq": r.seq, "received_ms": r.received_ms} for i, r in enumerate(rows, 1)]
