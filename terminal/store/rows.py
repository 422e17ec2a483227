"""Plain values the store hands out and takes in (no SQLAlchemy rows leak past the store)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from typing import Any, Callable, Final

from sqlalchemy import Row

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
    budget_left_cents: int | None = None  # what the budget has left after this payment, for the receipt
    budget_expires_on: str | None = None  # the budget's last day (ISO), for the receipt
    confirm_card_id: bytes | None = None  # a second group member's card (signed: a version 2 record)
    pot_campaign: str | None = None  # the joint campaign whose pot pays for this record (for the receipt)
    pot_cents: int | None = None  # what that pot pays: a save's extra or a spend's redeeming bonus


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
    budget_left_cents: int | None = None  # as printed; None before schema 7 and for other records
    budget_expires_on: str | None = None  # as printed (ISO date); None before schema 7
    confirm_card_hex: str | None = None  # the confirming card of a group-budget spend
    pot_campaign: str | None = None  # as printed; None before schema 7 and where no pot pays
    pot_cents: int | None = None

    @property
    def signed(self) -> SignedRecord:
        return decode(self.raw)

    @classmethod
    def from_row(cls, row: Row[Any]) -> StoredRecord:
        """A row of `records` read back: its columns are this class's fields (store.RECORD_COLUMNS)."""
        m = row._mapping
        values: dict[str, Any] = {name: _FROM_DB.get(name, _as_is)(m[name]) for name in RECORD_COLUMNS}
        return cls(**values)  # typed per field: a column's type is its field's, checked by the tests


def _as_is(value: object) -> object:
    return value


# The columns of the till's `records` table, in the order the store writes them: the fields of
# StoredRecord, so the class, the INSERT and the read-back cannot drift apart.
RECORD_COLUMNS: Final = tuple(f.name for f in fields(StoredRecord))
# How a column comes back from SQLite where its field has another type.
_FROM_DB: Final[dict[str, Callable[[Any], object]]] = {
    "kind": Kind, "tender": Tender, "offline": bool, "raw": bytes, "hash": bytes}


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
