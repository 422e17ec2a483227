"""The server's `records` table: its record columns come from the record's wire layout (sync.record.WIRE)."""

from __future__ import annotations

from sqlalchemy import BigInteger, LargeBinary, SmallInteger, String

from floreyn.server import schema as s
from floreyn.sync.record import WIRE, Form, Wire


def unplaced(wire: tuple[Wire, ...]) -> set[str]:
    """Record fields that are neither a column of `records` nor declared to be only in `raw`."""
    return {w.name for w in wire} - set(s.records.c.keys()) - s.RECORD_RAW_ONLY


def test_every_record_field_is_a_column_or_only_in_raw():
    assert unplaced(WIRE) == set()
    assert s.RECORD_RAW_ONLY <= {w.name for w in WIRE}, "RECORD_RAW_ONLY names a field the record no longer has"
    assert not s.RECORD_RAW_ONLY & set(s.records.c.keys())


def test_a_new_record_field_fails_until_it_is_placed():
    added = Wire("memo_id", lambda w, v, n: w.ident(v, n), lambda r, n: r.ident(n), Form.IDENT)
    assert unplaced((*WIRE, added)) == {"memo_id"}


def test_the_record_columns_follow_the_wire_forms():
    c = s.records.c
    assert isinstance(c.terminal_id.type, String) and c.terminal_id.type.length == s.ID and c.terminal_id.primary_key
    assert isinstance(c.seq.type, BigInteger) and c.seq.primary_key
    assert isinstance(c.record_id.type, String) and c.record_id.type.length == 36 and c.record_id.unique
    assert isinstance(c.kind.type, SmallInteger) and not c.kind.nullable
    assert isinstance(c.raw.type, LargeBinary)
