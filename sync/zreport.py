"""The day-close (Z) report: counts and totals per kind and per tender, from one day's records.

Pure function over records, one source for the till (terminal/store: computed
inside the transaction that writes the DAY_CLOSE record and frozen as JSON
beside it) and the server (server/zreports.py: recomputed from the signed
records it keeps, so the cooperative can hold every till's report beside the
settlement). The server does not know which records one till transaction
grouped: there `tx_id` is the record id, so `count` counts records.

Signs: records carry non-negative amounts and Kind gives direction. A void
reverses its original (found among the same day's records: only the last
transaction of the open day can be voided), so its direction is the
original's, turned around.
"""

from __future__ import annotations

from typing import Any, Iterable, Protocol

from floreyn.sync.record import Kind, Tender


class DayRecord(Protocol):
    """What the report reads of a record (the till's StoredRecord, the server's decoded record)."""

    @property
    def seq(self) -> int: ...
    @property
    def record_id(self) -> str: ...
    @property
    def tx_id(self) -> str: ...
    @property
    def kind(self) -> Kind: ...
    @property
    def fl_cents(self) -> int: ...
    @property
    def eur_cents(self) -> int: ...
    @property
    def tender(self) -> Tender: ...
    @property
    def ref_id(self) -> str | None: ...
    @property
    def wall_ms(self) -> int: ...

# +1: euros come into the till / Floreyn go from the member to the merchant.
_EUR_IN = {Kind.SPEND: 1, Kind.TOPUP: 1, Kind.REFUND: -1, Kind.SAVE: 0}
_FL_RECEIVED = {Kind.SPEND: 1, Kind.REFUND: -1}
_FL_ISSUED = {Kind.SAVE: 1, Kind.TOPUP: 1}


def z_report(day_no: int, terminal_id: str, records: Iterable[DayRecord]) -> dict[str, Any]:
    rows = sorted(records, key=lambda r: r.seq)
    by_id = {r.record_id: r for r in rows}
    kinds: dict[str, dict[str, Any]] = {
        k.name: {"count": 0, "records": 0, "fl_cents": 0, "eur_cents": 0} for k in Kind if k is not Kind.DAY_CLOSE
    }
    tenders = {t.name: {"count": 0, "in_cents": 0, "out_cents": 0} for t in (Tender.CASH, Tender.BANK_CARD)}
    topups = {t.name: 0 for t in (Tender.CASH, Tender.BANK_CARD)}  # top-up euros by how they were paid, voids off
    fl_received = fl_issued = 0
    seen_tx: set[tuple[str, str]] = set()
    for r in rows:
        if r.kind is Kind.DAY_CLOSE:
            continue
        slot = kinds[r.kind.name]
        slot["records"] += 1
        if (r.kind.name, r.tx_id) not in seen_tx:
            seen_tx.add((r.kind.name, r.tx_id))
            slot["count"] += 1
        slot["fl_cents"] += r.fl_cents
        slot["eur_cents"] += r.eur_cents
        base_kind: Kind = r.kind
        sign = 1
        if r.kind is Kind.VOID:
            original = by_id.get(r.ref_id or "")
            assert original is not None, "a void reverses a record of the same day"
            base_kind, sign = original.kind, -1
        fl_received += sign * _FL_RECEIVED.get(base_kind, 0) * r.fl_cents
        fl_issued += sign * _FL_ISSUED.get(base_kind, 0) * r.fl_cents
        if base_kind is Kind.TOPUP and r.tender in (Tender.CASH, Tender.BANK_CARD):
            topups[r.tender.name] += sign * r.eur_cents
        direction = sign * _EUR_IN.get(base_kind, 0)
        if r.tender in (Tender.CASH, Tender.BANK_CARD) and r.eur_cents and direction:
            t = tenders[r.tender.name]
            t["count"] += 1
            t["in_cents" if direction > 0 else "out_cents"] += r.eur_cents
    for t in tenders.values():
        t["net_cents"] = t["in_cents"] - t["out_cents"]
    return {
        "day_no": day_no,
        "terminal_id": terminal_id,
        "first_seq": rows[0].seq if rows else None,
        "last_seq": rows[-1].seq if rows else None,
        "records": len(rows),
        "first_wall_ms": rows[0].wall_ms if rows else None,
        "last_wall_ms": rows[-1].wall_ms if rows else None,
        "kinds": kinds,
        "tenders": tenders,
        "topup_eur_by_tender_cents": topups,
        "fl_received_cents": fl_received,
        "fl_issued_cents": fl_issued,
    }
