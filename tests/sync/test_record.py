"""The transaction record: canonical bytes, signatures, the hash chain, and typed refusals."""

from __future__ import annotations

import dataclasses
import json
import uuid
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from floreyn import keys
from floreyn.sync import record as rec
from floreyn.sync.record import (
    BadSignature,
    BrokenChain,
    ChainHead,
    Kind,
    RecordError,
    RecordMalformed,
    SequenceGap,
    Tender,
    TxRecord,
    UnknownVersion,
)

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "vectors_v1.json").read_text())["record_v1"]
KEY = keys.private_from_seed(bytes.fromhex(VECTORS["terminal_seed_hex"]))
PUBLIC = KEY.public_key()
CARD = bytes(range(16))


def make(head: ChainHead = ChainHead(), **fields: object) -> TxRecord:  # noqa: B008 (ChainHead is frozen)
    base: dict[str, object] = dict(
        record_id=uuid.uuid4(), terminal_id="T-1", merchant_id="M-bakker", kind=Kind.SPEND,
        card_id=CARD, fl_cents=1250,
    )
    base.update(fields)
    chain = {name: base.pop(name) for name in ("terminal_id", "merchant_id", "wall_ms", "mono_ms") if name in base}
    return head.next_record(rec.RecordContent(**base), **chain)


def chain(n: int) -> list[rec.SignedRecord]:
    head, out = ChainHead(), []
    for i in range(n):
        signed = make(head, fl_cents=100 + i).sign(KEY)
        out.append(signed)
        head = head.advance(signed)
    return out


# -- test vectors: the encoding can never drift silently ------------------------------------


def test_vectors_decode_verify_and_chain() -> None:
    assert keys.public_raw(KEY).hex() == VECTORS["terminal_public_hex"]
    records = [rec.decode(bytes.fromhex(v["raw_hex"])) for v in VECTORS["records"]]
    rec.verify_chain(records, PUBLIC)
    for vector, signed in zip(VECTORS["records"], records, strict=True):
        assert signed.record.kind.name == vector["kind"]
        assert signed.hash.hex() == vector["hash_hex"]
        assert signed.signature.hex() == vector["signature_hex"]


def test_vectors_reencode_to_the_exact_bytes() -> None:
    for vector in VECTORS["records"]:
        signed = rec.decode(bytes.fromhex(vector["raw_hex"]))
        assert signed.record.body().hex() == vector["body_hex"]
        # Ed25519 signatures are deterministic: re-signing reproduces the vector byte for byte.
        assert signed.record.sign(KEY).raw.hex() == vector["raw_hex"]


def test_signature_is_checked_by_the_library_too() -> None:
    # Independent of our helpers: the raw library call over domain + body must accept it.
    vector = VECTORS["records"][0]
    pub = Ed25519PublicKey.from_public_bytes(bytes.fromhex(VECTORS["terminal_public_hex"]))
    pub.verify(bytes.fromhex(vector["signature_hex"]), rec.SIG_DOMAIN + bytes.fromhex(vector["body_hex"]))


# -- round trips ---------------------------------------------------------------------------

idents = st.from_regex(r"[A-Za-z0-9._:-]{1,64}", fullmatch=True)
amounts = st.integers(0, 2**62)


@st.composite
def records(draw: st.DrawFn) -> TxRecord:
    kind = draw(st.sampled_from(list(Kind)))
    seq = draw(st.integers(1, 2**63 - 1))
    needs_ref = kind in (Kind.REFUND, Kind.VOID)
    is_close = kind is Kind.DAY_CLOSE
    return TxRecord(
        record_id=uuid.UUID(bytes=draw(st.binary(min_size=16, max_size=16))),
        terminal_id=draw(idents),
        seq=seq,
        prev_hash=rec.GENESIS_HASH if seq == 1 else draw(st.binary(min_size=32, max_size=32)),
        kind=kind,
        merchant_id=draw(idents),
        card_id=None if is_close else (
            draw(st.binary(min_size=16, max_size=16)) if kind is not Kind.VOID or draw(st.booleans()) else None
        ),
        fl_cents=0 if is_close else draw(amounts),
        eur_cents=0 if is_close else draw(amounts),
        tender=draw(st.sampled_from(list(Tender))),
        budget_id=draw(st.none() | idents) if kind in (Kind.SPEND, Kind.REFUND) else None,
        ref_id=uuid.UUID(int=draw(st.integers(0, 2**128 - 1))) if needs_ref else None,
        wall_ms=draw(st.integers(-(2**63), 2**63 - 1)),
        mono_ms=draw(st.integers(0, 2**64 - 1)),
    )


@settings(max_examples=300)
@given(records())
def test_encode_decode_round_trip(record: TxRecord) -> None:
    signed = record.sign(KEY)
    decoded = rec.decode(signed.raw)
    assert decoded.record == record
    assert decoded.raw == signed.raw
    decoded.verify(PUBLIC)
    assert len(signed.raw) <= rec.MAX_RECORD_BYTES
    assert rec.chain_link(signed.raw) == (record.seq, record.prev_hash)  # the till's start-up link check


def _general_or_refusal(body: bytes) -> TxRecord | str:
    try:
        return rec._decode_general(body)
    except RecordError as exc:
        return exc.code


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    """A record's body, version 1 or 2, often damaged: bytes flipped, cut short, or with bytes put in."""
    record = draw(records())
    if record.kind is Kind.SPEND and record.budget_id is not None and draw(st.booleans()):
        record = dataclasses.replace(record, version=2, confirm_card_id=OTHER_CARD if record.card_id else None)
    body = bytearray(record._encode())
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(body) - 1))
        action = draw(st.sampled_from(["flip", "cut", "insert"]))
        if action == "flip":
            body[at] ^= draw(st.integers(1, 255))
        elif action == "cut":
            del body[at:]
            body += b"FLR\x01"[: max(0, 4 - len(body))]
        else:
            body[at:at] = draw(st.binary(min_size=1, max_size=20))
    return bytes(body)


@settings(max_examples=1500)
@given(bodies())
def test_the_fast_reader_takes_only_what_the_general_reader_takes_and_reads_it_alike(body: bytes) -> None:
    # decode()'s fast path never re-encodes: it must never accept bytes the general reader (which does) refuses,
    # and must read every field alike; what it passes on, the general reader decides.
    fast = rec._decode_common(body)
    if fast is None:
        return
    try:
        fast.validate()  # as decode() does after the fast path
    except RecordError as exc:
        assert exc.code == _general_or_refusal(body)
    else:
        assert fast == _general_or_refusal(body)


@settings(max_examples=300)
@given(records())
def test_the_fast_reader_reads_every_well_formed_record(record: TxRecord) -> None:
    for version_2 in (False, True):
        if version_2 and not (record.kind is Kind.SPEND and record.budget_id and record.card_id):
            continue
        if version_2:
            record = dataclasses.replace(record, version=2, confirm_card_id=OTHER_CARD)
        assert rec._decode_common(record._encode()) == record  # the common case does not fall back


@given(st.binary(max_size=600))
def test_chain_link_reads_or_refuses_any_bytes(raw: bytes) -> None:
    try:
        seq, prev_hash = rec.chain_link(raw)
    except RecordMalformed:
        return
    assert 0 <= seq < 2**64 and len(prev_hash) == 32


@settings(max_examples=400)
@given(st.data())
def test_any_flipped_byte_is_detected(data: st.DataObject) -> None:
    signed = make(budget_id="B-1", eur_cents=250, tender=Tender.CASH).sign(KEY)
    raw = bytearray(signed.raw)
    index = data.draw(st.integers(0, len(raw) - 1))
    raw[index] ^= data.draw(st.integers(1, 255))
    with pytest.raises(RecordError):
        rec.decode(bytes(raw)).verify(PUBLIC)


@given(st.binary(max_size=600))
def test_random_bytes_never_crash(raw: bytes) -> None:
    with pytest.raises(RecordError):
        rec.decode(raw).verify(PUBLIC)


# -- typed refusals ------------------------------------------------------------------------


def test_bad_signature_says_which_record() -> None:
    other = keys.new_private_key()
    signed = make().sign(other)
    with pytest.raises(BadSignature) as info:
        rec.decode(signed.raw).verify(PUBLIC)
    assert info.value.params["seq"] == 1
    assert "handtekening" in info.value.message("nl")


def test_unknown_version_is_named() -> None:
    raw = bytearray(make().sign(KEY).raw)
    raw[3] = 3
    with pytest.raises(UnknownVersion) as info:
        rec.decode(bytes(raw))
    assert info.value.params["version"] == 3


OTHER_CARD = bytes(range(16, 32))


def test_a_confirming_card_makes_a_version_2_record_and_only_it() -> None:
    plain = make(budget_id="B-blok").sign(KEY)
    assert plain.raw[3] == 1  # every record without a confirming card stays version 1, byte for byte
    signed = make(budget_id="B-blok", confirm_card_id=OTHER_CARD).sign(KEY)
    assert signed.raw[3] == 2 and len(signed.raw) == len(plain.raw) + 16
    back = rec.decode(signed.raw).verify(PUBLIC)
    assert back.record.confirm_card_id == OTHER_CARD and back.record == signed.record
    assert TxRecord.version_for(None) == 1 and TxRecord.version_for(OTHER_CARD) == 2


@pytest.mark.parametrize("fields, version", [
    (dict(confirm_card_id=OTHER_CARD, budget_id="B-blok"), 1),  # a confirming card in a version 1 record
    (dict(budget_id="B-blok"), 2),  # version 2 without one
    (dict(confirm_card_id=OTHER_CARD), None),  # from the own balance: nothing to confirm
    (dict(confirm_card_id=CARD, budget_id="B-blok"), None),  # the payer's own card
    (dict(confirm_card_id=OTHER_CARD[:8], budget_id="B-blok"), None),
])
def test_a_confirming_card_where_it_cannot_be_is_malformed(fields, version) -> None:
    record = make(**fields)
    if version is not None:
        record = dataclasses.replace(record, version=version)
    with pytest.raises(RecordMalformed):
        record.sign(KEY)


def test_sequence_gap_and_broken_chain() -> None:
    first, second, third = chain(3)
    head = rec.verify_next(ChainHead(), first, PUBLIC)
    with pytest.raises(SequenceGap) as gap:
        rec.verify_next(head, third, PUBLIC)
    assert gap.value.params == {"got": 3, "expected_prev": 1}
    # Same sequence number, but chained onto a different history: a fork.
    forked = make(ChainHead(1, bytes(31) + b"\x01")).sign(KEY)
    with pytest.raises(BrokenChain):
        rec.verify_next(head, forked, PUBLIC)
    assert rec.verify_chain([first, second, third], PUBLIC).seq == 3


def test_first_record_must_chain_onto_genesis() -> None:
    with pytest.raises(RecordMalformed):
        TxRecord(record_id=uuid.uuid4(), terminal_id="T", seq=1, prev_hash=b"\x01" * 32, kind=Kind.DAY_CLOSE,
                 merchant_id="M").body()


@pytest.mark.parametrize(
    "fields",
    [
        dict(card_id=None),  # a spend names a card
        dict(fl_cents=-1),
        dict(eur_cents=-5),
        dict(fl_cents=1.5),
        dict(kind=Kind.REFUND),  # a refund names what it refunds
        dict(ref_id=uuid.uuid4()),  # a spend does not
        dict(kind=Kind.DAY_CLOSE, card_id=None, fl_cents=5),
        dict(kind=Kind.SAVE, budget_id="B-1"),
        dict(terminal_id="T 1"),
        dict(merchant_id="ë"),
        dict(merchant_id="x" * 65),
        dict(card_id=b"short"),
        dict(terminal_id=""),
        dict(kind=Kind.SPEND, budget_id=""),
    ],
)
def test_invalid_records_are_refused_before_signing(fields: dict[str, object]) -> None:
    with pytest.raises(RecordError) as info:
        make(**fields).sign(KEY)
    assert info.value.code == "record_malformed"


def test_trailing_and_non_canonical_bytes_are_malformed() -> None:
    raw = make().sign(KEY).raw
    with pytest.raises(RecordMalformed):
        rec.decode(raw[:-64] + b"\x00" + raw[-64:])
    with pytest.raises(RecordMalformed):
        rec.decode(b"XYZ" + raw[3:])
    with pytest.raises(RecordMalformed):
        rec.decode(raw[:40])


def test_the_wire_layout_names_every_field_of_the_record_once():
    # One source: body() and decode() both walk rec.WIRE. A field added to TxRecord but not
    # to WIRE would go unsigned; this fails first.
    from dataclasses import fields

    names = [w.name for w in rec.WIRE]
    assert sorted(names) == sorted(f.name for f in fields(TxRecord)) and len(set(names)) == len(names)
