"""Read queries over one connection, usable inside the store's write transaction.

The engine's re-checks (refund totals, offline usage, void eligibility) run
through a StoreView bound to the very transaction that then writes, so what
was checked is what is committed.
"""

from __future__ import annotations

import sqlite3
from dataclasses import fields
from typing import Any

from sqlalchemy import Connection, and_, func, select, text

from floreyn.sync.record import Kind
from floreyn.terminal.store.rows import RECORD_COLUMNS, SnapshotReceipt, StoredRecord, StoreState
from floreyn.terminal.store.schema import days, records, snapshot

MAX_ROWS = 10_000  # no query the till makes needs more rows than this at once
_SELECT_RECORDS = f"SELECT {', '.join(RECORD_COLUMNS)} FROM records"  # rows for StoredRecord.from_values
_STATE_FIELDS = tuple(f.name for f in fields(StoreState))
_SELECT_STATE = f"SELECT {', '.join(_STATE_FIELDS)} FROM terminal_state WHERE id = 1"


class StoreView:
    def __init__(self, conn: Connection, snapshot_base_seq: int | None = None) -> None:
        self.conn = conn
        self._snapshot_base_seq = snapshot_base_seq

    def _q(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        """A hot-path query on the DBAPI connection itself, inside the same transaction.

        These run inside every sale's commit re-check; SQLAlchemy's result
        machinery would cost several times the query itself.
        """
        raw = self.conn.connection.dbapi_connection
        assert isinstance(raw, sqlite3.Connection), "the till's store is SQLite"
        cur = raw.execute(sql, params)
        try:
            rows: list[tuple[Any, ...]] = cur.fetchall()
            return rows
        finally:
            cur.close()

    def state(self) -> StoreState:
        (row,) = self._q(_SELECT_STATE)  # every commit reads it: plain SQL (see _q)
        values = dict(zip(_STATE_FIELDS, row, strict=True))
        return StoreState(**{**values, "head_hash": bytes(values["head_hash"]), "base_hash": bytes(values["base_hash"])})

    def record(self, record_id: str) -> StoredRecord | None:
        rows = self._q(f"{_SELECT_RECORDS} WHERE record_id = ?", (record_id,))
        return StoredRecord.from_values(rows[0]) if rows else None

    def tx(self, tx_id: str) -> list[StoredRecord]:
        return [StoredRecord.from_values(r) for r in self._q(f"{_SELECT_RECORDS} WHERE tx_id = ? ORDER BY seq",
                                                             (tx_id,))]

    def last_tx(self) -> list[StoredRecord]:
        row = self.conn.execute(select(records.c.tx_id).order_by(records.c.seq.desc()).limit(1)).first()
        return self.tx(row[0]) if row else []

    def by_seq(self, first: int, last: int) -> list[StoredRecord]:
        assert last - first < MAX_ROWS
        rows = self._q(f"{_SELECT_RECORDS} WHERE seq BETWEEN ? AND ? ORDER BY seq", (first, last))
        return [StoredRecord.from_values(r) for r in rows]

    def recent_tx_ids(self, limit: int, kinds: list[int]) -> list[str]:
        q = (select(records.c.tx_id, func.max(records.c.seq).label("last")).where(records.c.kind.in_(kinds))
             .group_by(records.c.tx_id).order_by(text("last DESC")).limit(limit))
        return [r[0] for r in self.conn.execute(q)]

    def day(self, day_no: int) -> list[StoredRecord]:
        rows = self.conn.execute(
            select(records).where(records.c.day_no == day_no).order_by(records.c.seq).limit(MAX_ROWS)
        )
        return [StoredRecord.from_row(r) for r in rows]

    def day_report(self, day_no: int) -> str | None:
        row = self.conn.execute(select(days.c.report).where(days.c.day_no == day_no)).first()
        return row[0] if row else None

    def closed_days(self, limit: int = 100) -> list[tuple[int, int]]:
        rows = self.conn.execute(
            select(days.c.day_no, days.c.close_seq).order_by(days.c.day_no.desc()).limit(limit)
        )
        return [(r[0], r[1]) for r in rows]

    def voided(self, record_id: str) -> bool:
        q = select(records.c.seq).where(and_(records.c.kind == int(Kind.VOID), records.c.ref_id == record_id))
        return self.conn.execute(q.limit(1)).first() is not None

    def refunded(self, record_id: str) -> tuple[int, int]:
        """(fl, eur) cents already refunded against a record, voided refunds not counted."""
        row = self.conn.execute(text(
            "SELECT COALESCE(SUM(r.fl_cents), 0), COALESCE(SUM(r.eur_cents), 0) FROM records r "
            "WHERE r.kind = :refund AND r.ref_id = :ref AND NOT EXISTS "
            "(SELECT 1 FROM records v WHERE v.kind = :void AND v.ref_id = r.record_id)"
        ), {"refund": int(Kind.REFUND), "void": int(Kind.VOID), "ref": record_id}).one()
        return int(row[0]), int(row[1])

    # The queries below run inside the commit's re-check, on every sale: plain SQL, no statement compilation.

    def snapshot_base_seq(self) -> int:
        if self._snapshot_base_seq is not None:  # the store's copy: it writes the row under the same lock
            return self._snapshot_base_seq
        rows = self._q("SELECT base_seq FROM snapshot WHERE id = 1")
        return int(rows[0][0]) if rows else 0

    def card_usage(self, card_hex: str, snap_base: int) -> tuple[int, int, int]:
        """Of a card's spends here after `snap_base`, voided ones not counted:
        (fl spent offline since its last online contact, offline taps since then, own-balance fl spent).

        The last online contact is the later of the snapshot and the card's own
        contact mark (an online authorization). Read from the card's kept
        totals (card_usage table, added to at each commit) when they hold for
        these bases; else counted from the records and, in a write
        transaction, kept for the next sale."""
        rows = self._q("SELECT MAX(?, COALESCE((SELECT after_seq FROM card_contact WHERE card_hex = ?), 0)), "
                       "u.snap_base, u.offline_base, u.offline_fl, u.offline_taps, u.own_fl "
                       "FROM (SELECT 1) LEFT JOIN card_usage u ON u.card_hex = ?", (snap_base, card_hex, card_hex))
        offline_base, kept_snap, kept_offline = int(rows[0][0]), rows[0][1], rows[0][2]
        if (kept_snap, kept_offline) == (snap_base, offline_base):
            return int(rows[0][3]), int(rows[0][4]), int(rows[0][5])
        counted = self.card_usage_counted(card_hex, snap_base)
        if not self.conn.info.get("read_only"):
            self._q("INSERT OR REPLACE INTO card_usage (card_hex, snap_base, offline_base, offline_fl, offline_taps, "
                    "own_fl) VALUES (?, ?, ?, ?, ?, ?)", (card_hex, snap_base, offline_base, *counted))
        return counted

    def card_usage_counted(self, card_hex: str, snap_base: int) -> tuple[int, int, int]:
        """card_usage counted from the records themselves (the kept totals must always equal this)."""
        (row,) = self._q(
            "WITH base AS (SELECT MAX(?, COALESCE((SELECT after_seq FROM card_contact WHERE card_hex = ?), 0)) AS s) "
            "SELECT COALESCE(SUM(CASE WHEN r.offline = 1 AND r.seq > base.s THEN r.fl_cents END), 0), "
            "COUNT(DISTINCT CASE WHEN r.offline = 1 AND r.seq > base.s THEN r.tx_id END), "
            "COALESCE(SUM(CASE WHEN r.budget_id IS NULL THEN r.fl_cents END), 0) "
            "FROM records r, base WHERE r.card_hex = ? AND r.seq > ? AND r.kind = ? AND NOT EXISTS "
            "(SELECT 1 FROM records v WHERE v.kind = ? AND v.ref_id = r.record_id)",
            (snap_base, card_hex, card_hex, snap_base, int(Kind.SPEND), int(Kind.VOID)))
        return int(row[0]), int(row[1]), int(row[2])

    def offline_spent_gross(self, card_hex: str, after_seq: int) -> int:
        """fl cents a card spent offline here after `after_seq`, voided spends included: what this
        till wrote on the card's trail (floreyn/cardtrail.py counts every offline spend)."""
        (row,) = self._q(
            "SELECT COALESCE(SUM(fl_cents), 0) FROM records WHERE card_hex = ? AND seq > ? AND kind = ? "
            "AND offline = 1", (card_hex, after_seq, int(Kind.SPEND)))
        return int(row[0])

    def offline_spent_unsent(self, card_hex: str) -> int:
        """fl cents of this card's offline spends here that the server has not acknowledged yet."""
        (row,) = self._q(
            "SELECT COALESCE(SUM(fl_cents), 0) FROM records WHERE card_hex = ? AND kind = ? AND offline = 1 "
            "AND sync_status = 'pending'", (card_hex, int(Kind.SPEND)))
        return int(row[0])

    def card_base_seq(self, card_hex: str) -> int:
        """Offline usage of a card counts from records after its last online contact or snapshot."""
        rows = self._q("SELECT after_seq FROM card_contact WHERE card_hex = ?", (card_hex,))
        return max(self.snapshot_base_seq(), int(rows[0][0]) if rows else 0)

    def offline_usage(self, card_hex: str, after_seq: int) -> tuple[int, int]:
        """(fl cents, taps) a card spent offline after `after_seq`, voided spends not counted."""
        (row,) = self._q(
            "SELECT COALESCE(SUM(r.fl_cents), 0), COUNT(DISTINCT r.tx_id) FROM records r "
            "WHERE r.card_hex = ? AND r.seq > ? AND r.kind = ? AND r.offline = 1 AND NOT EXISTS "
            "(SELECT 1 FROM records v WHERE v.kind = ? AND v.ref_id = r.record_id)",
            (card_hex, after_seq, int(Kind.SPEND), int(Kind.VOID)))
        return int(row[0]), int(row[1])

    def budgets_spent(self, budget_ids: list[str], after_seq: int) -> dict[str, int]:
        """fl drawn from each budget here after `after_seq` (any card), voided spends not counted."""
        if not budget_ids:
            return {}
        marks = ", ".join("?" * len(budget_ids))
        rows = self._q(
            f"SELECT r.budget_id, SUM(r.fl_cents) FROM records r WHERE r.budget_id IN ({marks}) AND r.seq > ? "
            "AND r.kind = ? AND NOT EXISTS (SELECT 1 FROM records v WHERE v.kind = ? AND v.ref_id = r.record_id) "
            "GROUP BY r.budget_id", (*budget_ids, after_seq, int(Kind.SPEND), int(Kind.VOID)))
        spent = {b: 0 for b in budget_ids}
        spent.update({r[0]: int(r[1]) for r in rows})
        return spent

    def last_charge_mono_ms(self, card_hex: str, kind: Kind) -> int | None:
        rows = self._q("SELECT mono_ms FROM records WHERE card_hex = ? AND kind = ? ORDER BY seq DESC LIMIT 1",
                       (card_hex, int(kind)))
        return int(rows[0][0]) if rows else None

    def client_ref(self, ref: str) -> tuple[str, str] | None:
        rows = self._q("SELECT tx_id, fingerprint FROM client_refs WHERE ref = ?", (ref,))
        return (rows[0][0], rows[0][1]) if rows else None

    def receipts_to_print(self, limit: int = 100) -> list[str]:
        """tx ids whose receipt is pending or failed, oldest first."""
        q = (select(records.c.tx_id, func.min(records.c.seq).label("first"))
             .where(records.c.receipt_status != "printed").group_by(records.c.tx_id)
             .order_by("first").limit(limit))
        return [r[0] for r in self.conn.execute(q)]

    def count(self, sync_status: str | None = None) -> int:
        q = select(func.count()).select_from(records)
        if sync_status is not None:
            q = q.where(records.c.sync_status == sync_status)
        return int(self.conn.execute(q).scalar_one())

    def snapshot_row(self) -> tuple[bytes, bytes | None, SnapshotReceipt] | None:
        row = self.conn.execute(select(snapshot).where(snapshot.c.id == 1)).first()
        if row is None:
            return None
        m = row._mapping
        receipt = SnapshotReceipt(m["received_wall_ms"], m["received_boot_id"], m["received_monotonic_ms"],
                                  m["base_seq"])
        return bytes(m["data"]), (bytes(m["signature"]) if m["signature"] is not None else None), receipt
