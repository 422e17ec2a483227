"""One source for a record's fields: sync.record.RecordContent / TxRecord give the till's Draft and `records` row."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from floreyn import keys
from floreyn.sync.record import RecordContent, SignedRecord, TxRecord
from floreyn.sync.record import Kind, ChainHead
from floreyn.terminal.store import Draft, StoredRecord
from floreyn.terminal.store import rows, schema, store

KEY = keys.private_from_seed(bytes(32))


def names(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def test_a_draft_has_every_field_of_a_records_content():
    assert names(RecordContent) <= names(Draft)
    assert names(Draft) - names(RecordContent) == {"offline", "balance_after_cents", "budget_label",
                                                   "budget_left_cents", "budget_expires_on", "pot_campaign",
                                                   "pot_cents"}
    assert names(RecordContent) <= names(TxRecord)


def test_every_record_field_has_a_column_or_is_only_in_raw():
    column_of = {name: rows._COLUMN_OF.get(name, name) for name in names(TxRecord) - rows.RAW_ONLY}  # noqa: SLF001
    assert set(column_of.values()) <= names(StoredRecord)
    assert set(column_of.values()) <= set(schema.TABLES["records"])
    assert rows.RAW_ONLY <= names(TxRecord), "RAW_ONLY names a field the record no longer has"


def test_the_store_signs_a_drafts_content_and_keeps_its_own_fields_beside_it():
    draft = Draft(record_id=uuid.uuid4(), kind=Kind.SPEND, card_id=bytes(16), fl_cents=125, budget_id="B-1",
                  offline=True, balance_after_cents=375, budget_label="Sport")
    signed = store._sign(draft, ChainHead(), KEY, "T-1", "M-1", 10, 20)  # noqa: SLF001
    assert {n: getattr(signed.record, n) for n in names(RecordContent)} == {n: getattr(draft, n) for n in names(RecordContent)}
    row = store._row(draft, signed, "tx", 3, "Bakker")  # noqa: SLF001
    assert tuple(row) == rows.RECORD_COLUMNS
    assert (row["card_hex"], row["record_id"], row["offline"], row["budget_label"]) == (
        "00" * 16, str(draft.record_id), True, "Sport")
    assert StoredRecord(**row).signed.record == signed.record  # type: ignore[arg-type]


def test_a_record_field_without_a_column_fails_loudly():
    # What a field added to TxRecord without a column (and not in RAW_ONLY) does: the row refuses to be built.
    grown = dataclasses.make_dataclass("Grown", [("memo_id", str, dataclasses.field(default="m-1", kw_only=True))],
                                       bases=(TxRecord,), frozen=True)
    draft = Draft(record_id=uuid.uuid4(), kind=Kind.DAY_CLOSE)
    signed = store._sign(draft, ChainHead(), KEY, "T-1", "M-1", 10, 20)  # noqa: SLF001
    bigger = SignedRecord(grown(**{f.name: getattr(signed.record, f.name) for f in dataclasses.fields(TxRecord)}),
                          signed.raw)
    assert rows.record_columns(bigger.record)["memo_id"] == "m-1"
    with pytest.raises(AssertionError, match="memo_id"):
        store._row(draft, bigger, "tx", 3, None)  # noqa: SLF001
