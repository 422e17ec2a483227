"""Plain values the store hands out and takes in (no SQLAlchemy rows leak past the store)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from floreyn.sync.record import Kind, SignedRecord, Tender, decode


@dataclass(frozen=True, slots=True)
class Draft:
    """One record of a transaction before the store gives it its place in the chain."""

    record_id: uuid.UUID
    kind: Kind
    card_id: bytes | None = None
    fl_cents: int = 0
    eur_cents: int = 0
    tender: Tender = Tender.NONE
    budget_id: str | None = None
    ref_id: uuid.UUID | None = None
    offline: bool = False
    balance_after_cents: int | None = None
    budget_label: str | None = None  # the budget's name at commit, for the receipt (and its reprint)


@dataclass(frozen=True, slots=True)
class StoredRecord:
    seq: int
    record_id: str
    tx_id: str
    kind: Kind
    card_hex: str | None
    fl_cents: int
    eur_cents: int
    tender: Tender
    budget_id: str | None
    ref_id: str | None
    wall_ms: int
    mono_ms: int
    day_no: int
    offline: bool
    raw: bytes
    hash: bytes
    receipt_status: str
    sync_status: str
    balance_after_cents: int | None = None
    receipt_error: str | None = None
    budget_label: str | None = None  # as printed; None in records from before schema 4
    merchant_name: str | None = None  # as printed; None in records from before schema 4

    @property
    def signed(self) -> SignedRecord:
        return decode(self.raw)

    @classmethod
    def from_row(cls, row: object) -> StoredRecord:
        m = row._mapping  # type: ignore[attr-defined]
        return cls(
            seq=m["seq"], record_id=m["record_id"], tx_id=m["tx_id"], kind=Kind(m["kind"]),
            card_hex=m["card_hex"], fl_cents=m["fl_cents"], eur_cents=m["eur_cents"], tender=Tender(m["tender"]),
            budget_id=m["budget_id"], ref_id=m["ref_id"], wall_ms=m["wall_ms"], mono_ms=m["mono_ms"],
            day_no=m["day_no"], offline=bool(m["offline"]), raw=bytes(m["raw"]), hash=bytes(m["hash"]),
            receipt_status=m["receipt_status"], sync_status=m["sync_status"],
            balance_after_cents=m["balance_after_cents"], receipt_error=m["receipt_error"],
            budget_label=m["budget_label"], merchant_name=m["merchant_name"],
        )


@dataclass(frozen=True, slots=True)
class StoreState:
    terminal_id: str
    head_seq: int
    head_hash: bytes
    base_seq: int
    base_hash: bytes
    mono_ms: int
    day_no: int
    acked_seq: int


@dataclass(frozen=True, slots=True)
class SnapshotReceipt:
    """When and in which boot the current snapshot arrived (for its age), and what it covered."""

    received_wall_ms: int
    received_boot_id: str
    received_monotonic_ms: int
    base_seq: int
