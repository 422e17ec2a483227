"""Plain values the store hands out and takes in (no database rows leak past the store)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from typing import Any, Callable, Final, Sequence

from floreyn.sync.record import Kind, RecordContent, SignedRecord, Tender, TxRecord, decode


@dataclass(frozen=True, slots=True)
class Draft(RecordContent):
    """One record of a transaction before the store gives it its place in the chain.

    The record's own fields come from sync.record.RecordContent (one list for the record, the Draft and,
    through record_columns, the `records` row); these are what the till keeps beside them.
    """

    offline: bool = False
    balance_after_cents: int | None = None
    budget_label: str | None = None  # the budget's name at commit, for the receipt (and its reprint)
    budget_left_cents: int | None = None  # what the budget has left after this payment, for the receipt
    budget_expires_on: str | None = None  # the budget's last day (ISO), for the receipt
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
    budget_left_cents: int | None = None  # as printed; None before schema 8 and for other records
    budget_expires_on: str | None = None  # as printed (ISO date); None before schema 8
    confirm_card_hex: str | None = None  # the confirming card of a group-budget spend
    pot_campaign: str | None = None  # as printed; None before schema 8 and where no pot pays
    pot_cents: int | None = None

    @property
    def signed(self) -> SignedRecord:
        return decode(self.raw)

    @classmethod
    def from_values(cls, values: Sequence[Any]) -> StoredRecord:
        """A row of `records` as plain values in RECORD_COLUMNS order (its columns are this class's fields)."""
        converted: list[Any] = [convert(v) for convert, v in zip(_CONVERTERS, values, strict=True)]
        return cls(*converted)  # typed per field: a column's type is its field's, checked by the tests


def _as_is(value: object) -> object:
    return value


# The columns of the till's `records` table, in the order the store writes them: the fields of
# StoredRecord, so the class, the INSERT and the read-back cannot drift apart.
RECORD_COLUMNS: Final = tuple(f.name for f in fields(StoredRecord))
# The record's fields that have no column of their own (they are in `raw`): the same for every record of
# this till, or only needed to check the chain. Every other field of TxRecord is a column: `record_columns`
# puts it there, and tests/terminal/test_store_rows.py fails when a new field is in neither.
RAW_ONLY: Final = frozenset({"version", "terminal_id", "merchant_id", "prev_hash"})
# A record field kept under another column name, in another form.
_COLUMN_OF: Final = {"card_id": "card_hex", "confirm_card_id": "confirm_card_hex"}


def record_columns(rec: TxRecord) -> dict[str, object]:
    """The record's own columns of its `records` row: ids as text, the card as hex, the rest as they are."""
    out: dict[str, object] = {}
    for name, column in _columns_of(type(rec)):
        value = getattr(rec, name)
        out[column] = value.hex() if isinstance(value, bytes) else (
            str(value) if isinstance(value, uuid.UUID) else value)
    return out


def _columns_of(record_type: type[TxRecord]) -> tuple[tuple[str, str], ...]:
    """(field, column) of each field of a record class that has a column; once per class, as dataclasses.fields()
    on every commit cost more than the rest of record_columns. Still read from the class itself, so a field
    added without a column shows up in the row (and _row refuses it)."""
    found = _COLUMNS_BY_TYPE.get(record_type)
    if found is None:
        found = tuple((f.name, _COLUMN_OF.get(f.name, f.name)) for f in fields(record_type) if f.name not in RAW_ONLY)
        _COLUMNS_BY_TYPE[record_type] = found
    return found


_COLUMNS_BY_TYPE: Final[dict[type[TxRecord], tuple[tuple[str, str], ...]]] = {}


# How a column comes back from SQLite where its field has another type.
_FROM_DB: Final[dict[str, Callable[[Any], object]]] = {
    "kind": Kind, "tender": Tender, "offline": bool, "raw": bytes, "hash": bytes}
_CONVERTERS: Final = tuple(_FROM_DB.get(name, _as_is) for name in RECORD_COLUMNS)


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
