"""The signed, hash-chained transaction record: the contract between terminal and server.

Wire layout of format version 1 (all integers big-endian; "opt" is a
presence byte 0/1 followed by the value when 1):

    magic       3   b"FLR"
    version     u8  1
    record_id   16  UUID made by the terminal before anything is printed or sent
    terminal_id ident (u8 length + ASCII)
    seq         u64 per-terminal sequence number, gapless from 1
    prev_hash   32  SHA-256 of the previous signed record; 32 zero bytes for seq 1
    kind        u8  Kind
    card_id     opt 16 bytes
    merchant_id ident
    fl_cents    i64 >= 0, the Floreyn moved
    eur_cents   i64 >= 0, the euro basis of a save or the euro part of a payment
    tender      u8  Tender of the euro part
    budget_id   opt ident, the labeled budget that paid
    ref_id      opt UUID, the record a refund or void reverses
    wall_ms     i64 terminal wall-clock time (untrusted: Pis often boot without a clock)
    mono_ms     u64 terminal monotonic counter (ordering and limits use seq and this)
    signature   64  Ed25519 over b"floreyn/record/v1\\0" + everything above

Format version 2 adds one field after mono_ms, and a till writes version 2 only
for a record that carries it (every other record stays version 1, byte for byte):

    confirm_card_id  16  the card of a second member of the group who confirmed a
                         group-budget spend above the funder's threshold (server/budget_rules.py)

The record's hash, which the next record carries as prev_hash, is SHA-256
over the whole signed record (body and signature).
"""

from __future__ import annotations

import enum
import hashlib
import struct
import uuid
from dataclasses import dataclass, field, fields, replace
from typing import Any, Callable, Final

from floreyn import keys
from floreyn.codec import IDENT_RE, MAX_ID_LEN, DecodeError, Reader, Writer, check_ident
from floreyn.errors import FloreynError
from floreyn.keys import PrivateKey, PublicKey
from floreyn.money import MAX_ABS_CENTS, Money

MAGIC: Final = b"FLR"
FORMAT_VERSION: Final = 1
CONFIRM_VERSION: Final = 2  # the version of a record that names a confirming card (and only of those)
SUPPORTED_VERSIONS: Final = frozenset({1, CONFIRM_VERSION})
GENESIS_HASH: Final = bytes(32)
SIG_DOMAIN: Final = b"floreyn/record/v1\x00"
MAX_RECORD_BYTES: Final = 512  # the largest v1 record is about 330 bytes; refuse anything longer unread


class Kind(enum.IntEnum):
    SPEND = 1
    SAVE = 2
    TOPUP = 3
    REFUND = 4
    VOID = 5
    DAY_CLOSE = 6


class Tender(enum.IntEnum):
    """How the euro part of a record was settled."""

    NONE = 0
    CASH = 1
    BANK_CARD = 2


# -- refusals ------------------------------------------------------------------------


class RecordError(FloreynError):
    code = "record"


class RecordMalformed(RecordError, DecodeError):
    code = "record_malformed"
    msgid = "Malformed record: {detail}."


class UnknownVersion(RecordError):
    code = "record_unknown_version"
    msgid = "Unknown record format version {version}."


class BadSignature(RecordError):
    code = "record_bad_signature"
    msgid = "The signature of record {seq} does not verify."


class BrokenChain(RecordError):
    code = "record_broken_chain"
    msgid = "Record {seq} does not chain onto the previous record."


class SequenceGap(RecordError):
    code = "record_sequence_gap"
    msgid = "Sequence number {got} does not follow {expected_prev}."


# -- the record ----------------------------------------------------------------------

_NEEDS_CARD = {Kind.SPEND, Kind.SAVE, Kind.TOPUP, Kind.REFUND}
_NEEDS_REF = {Kind.REFUND, Kind.VOID}


@dataclass(frozen=True, slots=True)
class RecordContent:
    """What a record says about money, as a till fills it in before the record gets its place in a chain.

    The one list of these fields: TxRecord adds the chain's (where, when, which terminal) and the till's
    store.Draft adds what the till keeps beside a record, so a field added here is in both.
    """

    record_id: uuid.UUID
    kind: Kind
    card_id: bytes | None = None
    fl_cents: int = 0
    eur_cents: int = 0
    tender: Tender = Tender.NONE
    budget_id: str | None = None
    ref_id: uuid.UUID | None = None
    confirm_card_id: bytes | None = None  # a second group member's card; only in a version 2 record


CONTENT_FIELDS: Final = tuple(f.name for f in fields(RecordContent))


@dataclass(frozen=True, slots=True, kw_only=True)
class TxRecord(RecordContent):
    """One terminal transaction, unsigned: its content and its place in the terminal's chain. Amounts are integer cents."""

    terminal_id: str
    seq: int
    prev_hash: bytes
    merchant_id: str
    wall_ms: int = 0
    mono_ms: int = 0
    version: int = field(default=FORMAT_VERSION)

    @staticmethod
    def version_for(confirm_card_id: bytes | None) -> int:
        """The format version of a record with (or without) a confirming card."""
        return FORMAT_VERSION if confirm_card_id is None else CONFIRM_VERSION

    @property
    def fl(self) -> Money:
        return Money.fl(self.fl_cents)

    @property
    def eur(self) -> Money:
        return Money.eur(self.eur_cents)

    def validate(self) -> None:
        """Refuse a record no terminal may write; called on encode and on decode."""
        if self.version not in SUPPORTED_VERSIONS:
            raise UnknownVersion(version=self.version)
        problems = []
        if not 1 <= self.seq < 2**63:
            problems.append("seq must be at least 1")
        if len(self.prev_hash) != 32:
            problems.append("prev_hash must be 32 bytes")
        if self.seq == 1 and self.prev_hash != GENESIS_HASH:
            problems.append("the first record chains onto 32 zero bytes")
        if self.card_id is not None and len(self.card_id) != 16:
            problems.append("card_id must be 16 bytes")
        for name in ("fl_cents", "eur_cents"):
            value = getattr(self, name)
            if type(value) is not int or not 0 <= value <= MAX_ABS_CENTS:
                problems.append(f"{name} must be a non-negative whole number of cents")
        if self.mono_ms < 0 or not -(2**63) <= self.wall_ms < 2**63 or self.mono_ms >= 2**64:
            problems.append("time fields out of range")
        for name in ("terminal_id", "merchant_id", "budget_id"):
            value = getattr(self, name)
            if value is None and name == "budget_id":
                continue
            try:
                check_ident(value, name)
            except DecodeError as exc:
                problems.append(str(exc.params["detail"]))
        if self.kind in _NEEDS_CARD and self.card_id is None:
            problems.append(f"{self.kind.name.lower()} needs a card")
        if (self.kind in _NEEDS_REF) != (self.ref_id is not None):
            problems.append("only refund and void reference another record, and they must")
        if self.kind is Kind.DAY_CLOSE and (self.card_id or self.fl_cents or self.eur_cents):
            problems.append("a day close moves no money and names no card")
        if self.budget_id is not None and self.kind not in (Kind.SPEND, Kind.REFUND):
            problems.append("only a spend or its refund draws on a budget")
        problems += self._confirm_problems()
        if problems:
            raise RecordMalformed(detail="; ".join(problems))

    def _confirm_problems(self) -> list[str]:
        """Version 2 exists for the confirming card: a v2 record has one, a v1 record has none."""
        if (self.version == CONFIRM_VERSION) != (self.confirm_card_id is not None):
            return ["a confirming card goes in a version 2 record, and only there"]
        if self.confirm_card_id is None:
            return []
        problems = []
        if len(self.confirm_card_id) != 16:
            problems.append("confirm_card_id must be 16 bytes")
        if self.kind is not Kind.SPEND or self.budget_id is None:
            problems.append("only a spend from a budget is confirmed by a second card")
        if self.confirm_card_id == self.card_id:
            problems.append("the confirming card must be another card")
        return problems

    def body(self) -> bytes:
        """The canonical bytes that are signed: the magic, then every field as WIRE lays it out."""
        self.validate()
        return self._encode()

    def _encode(self) -> bytes:
        """body() of a record already validated (decode() validates it while reading)."""
        w = Writer().raw(MAGIC, 3)
        for wire in WIRE:
            if self.version >= wire.since:
                wire.write(w, getattr(self, wire.name), wire.name)
        return w.bytes()

    def sign(self, key: PrivateKey) -> SignedRecord:
        body = self.body()
        return SignedRecord(self, body + key.sign(SIG_DOMAIN + body))


@dataclass(frozen=True, slots=True)
class SignedRecord:
    """A record with its signature, as stored and as sent. `raw` is body + signature."""

    record: TxRecord
    raw: bytes

    @property
    def body(self) -> bytes:
        return self.raw[: -keys.SIGNATURE_LEN]

    @property
    def signature(self) -> bytes:
        return self.raw[-keys.SIGNATURE_LEN :]

    @property
    def hash(self) -> bytes:
        return record_hash(self.raw)

    def verify(self, public: PublicKey) -> SignedRecord:
        if not keys.verify(public, self.signature, SIG_DOMAIN + self.body):
            raise BadSignature(seq=self.record.seq)
        return self

    def signature_ok(self, public_raw: bytes) -> bool:
        """verify()'s check on a raw key (the server's ingest pool, the till's background chain check): libsodium
        releases the GIL while it runs, so a pool of threads uses every core."""
        assert len(public_raw) == keys.PUBLIC_KEY_LEN, "an Ed25519 public key is 32 bytes"
        return keys.public_from_raw(public_raw).verifies(self.signature, SIG_DOMAIN + self.body)


def record_hash(raw: bytes) -> bytes:
    return hashlib.sha256(raw).digest()


def decode(raw: bytes) -> SignedRecord:
    """Parse signed record bytes; refuses anything that is not canonical v1. Does not check the signature."""
    if not isinstance(raw, (bytes, bytearray)):
        raise RecordMalformed(detail="expected bytes")
    raw = bytes(raw)
    if len(raw) > MAX_RECORD_BYTES:
        raise RecordMalformed(detail=f"{len(raw)} bytes is longer than any record")
    if len(raw) < 4 or raw[:3] != MAGIC:
        raise RecordMalformed(detail="not a Floreyn record")
    if raw[3] not in SUPPORTED_VERSIONS:
        raise UnknownVersion(version=raw[3])
    if len(raw) < keys.SIGNATURE_LEN + 4:
        raise RecordMalformed(detail="truncated")
    body = raw[: -keys.SIGNATURE_LEN]
    record = _decode_common(body)
    if record is None:
        record = _decode_general(body)
    else:
        record.validate()
    return SignedRecord(record, raw)


def _decode_general(body: bytes) -> TxRecord:
    """The record in `body` read field by field as WIRE lays it out, proved canonical by encoding it again."""
    try:
        record = _decode_body(Reader(body))
    except RecordError:
        raise
    except DecodeError as exc:
        raise RecordMalformed(detail=exc.params.get("detail", "unreadable")) from None
    # Canonical form: re-encoding must give back exactly the bytes we read (_decode_body validated it).
    if record._encode() != body:
        raise RecordMalformed(detail="not in canonical form")
    return record


def _decode_body(r: Reader) -> TxRecord:
    r.raw(3, "magic")
    values: dict[str, Any] = {}
    for wire in WIRE:
        if values.get("version", FORMAT_VERSION) >= wire.since:
            values[wire.name] = wire.read(r, wire.name)
    r.end()
    record = TxRecord(**values)
    record.validate()
    return record


# decode()'s fast path: the server decodes every uploaded record while other uploads wait for the GIL, and the
# general reader (a call per field and per byte taken, then a re-encoding to prove the form canonical) cost
# 22 us a record, a tenth of an upload's CPU. This reads WIRE's layout with a few struct calls and is as
# strict as the reader (presence flags 0 or 1, identifiers that match, known enum values, no byte left
# over), which makes the bytes canonical without re-encoding them: each value read has one encoding. What it
# does not take outright (anything unusual, malformed or not) goes to the general reader, which decides and
# names the refusal; tests/sync/test_record.py checks that both give the same answer on any bytes.
_AFTER_MAGIC: Final = struct.Struct(">B16sB")  # version, record_id, terminal_id's length
_CHAIN: Final = struct.Struct(">Q32sBB")  # seq, prev_hash, kind, card_id's presence flag
_AMOUNTS: Final = struct.Struct(">qqBB")  # fl_cents, eur_cents, tender, budget_id's presence flag
_TIMES: Final = struct.Struct(">qQ")  # wall_ms, mono_ms
_KIND_OF: Final = {int(k): k for k in Kind}
_TENDER_OF: Final = {int(t): t for t in Tender}


def _ident_at(body: bytes, at: int) -> tuple[str | None, int]:
    """The identifier (length byte, then ASCII) at `at` and where it ends; None when it is not a valid one."""
    n = body[at]
    raw = body[at + 1 : at + 1 + n]
    if n > MAX_ID_LEN or len(raw) != n or not IDENT_RE.fullmatch(raw):
        return None, at
    return raw.decode("ascii"), at + 1 + n


def _decode_common(body: bytes) -> TxRecord | None:
    """The record in `body` (magic included) when read in one pass is all it takes; None: ask the general reader."""
    if body[:3] != MAGIC:
        return None
    try:
        version, record_id, _ = _AFTER_MAGIC.unpack_from(body, 3)
        terminal_id, at = _ident_at(body, 20)
        seq, prev_hash, kind, has_card = _CHAIN.unpack_from(body, at)
        at += _CHAIN.size
        card_id = body[at : at + 16] if has_card == 1 else None
        at += 16 * has_card
        merchant_id, at = _ident_at(body, at)
        fl_cents, eur_cents, tender, has_budget = _AMOUNTS.unpack_from(body, at)
        at += _AMOUNTS.size
        budget_id = None
        if has_budget == 1:
            budget_id, at = _ident_at(body, at)
        has_ref = body[at]
        ref_id = uuid.UUID(bytes=body[at + 1 : at + 17]) if has_ref == 1 else None
        wall_ms, mono_ms = _TIMES.unpack_from(body, at + 1 + 16 * has_ref)
        at += 1 + 16 * has_ref + _TIMES.size
        confirm_card_id = body[at : at + 16] if version == CONFIRM_VERSION else None
        at += 16 if version == CONFIRM_VERSION else 0
    except (IndexError, ValueError, struct.error):
        return None
    if (version not in SUPPORTED_VERSIONS or has_card > 1 or has_budget > 1 or has_ref > 1 or at != len(body)
            or terminal_id is None or merchant_id is None or (has_budget and budget_id is None)
            or kind not in _KIND_OF or tender not in _TENDER_OF):
        return None
    return TxRecord(record_id=uuid.UUID(bytes=record_id), kind=_KIND_OF[kind], card_id=card_id, fl_cents=fl_cents,
                    eur_cents=eur_cents, tender=_TENDER_OF[tender], budget_id=budget_id, ref_id=ref_id,
                    confirm_card_id=confirm_card_id, terminal_id=terminal_id, seq=seq, prev_hash=prev_hash,
                    merchant_id=merchant_id, wall_ms=wall_ms, mono_ms=mono_ms, version=version)


# -- the wire layout: one row per TxRecord field, in wire order --------------------------
#
# body() and decode() both walk WIRE, and tests/sync/test_record.py checks that it names
# every field of TxRecord exactly once: a field added to the dataclass and not here (or the
# other way round) fails a test instead of silently not being signed. The order is the
# format's and never changes within a version (tests/vectors).


def _enum_reader(enum_type: type[enum.IntEnum], what: str) -> Callable[[Reader, str], enum.IntEnum]:
    def read(r: Reader, name: str) -> enum.IntEnum:
        raw = r.u8(name)
        try:
            return enum_type(raw)
        except ValueError:
            raise RecordMalformed(detail=f"unknown {what} {raw}") from None
    return read


def _write_opt_card(w: Writer, value: bytes | None, name: str) -> object:
    return w.u8(0) if value is None else w.u8(1).raw(value, 16)


class Form(enum.Enum):
    """What kind of value a field is, for a database column that holds it (server/schema.py's records)."""

    SMALL_INT = "small_int"  # a u8 or an enum's number
    BIG_INT = "big_int"  # i64 / u64
    UUID = "uuid"  # kept as its 36-character text
    IDENT = "ident"  # ASCII, at most codec.MAX_ID_LEN
    BYTES = "bytes"


@dataclass(frozen=True, slots=True)
class Wire:
    """How one field goes on the wire. Values are typed per field, so the table holds `Any`."""

    name: str
    write: Callable[[Writer, Any, str], object]
    read: Callable[[Reader, str], Any]
    form: Form
    optional: bool = False
    since: int = FORMAT_VERSION  # the first format version that has the field


WIRE: Final[tuple[Wire, ...]] = (
    Wire("version", lambda w, v, n: w.u8(v), Reader.u8, Form.SMALL_INT),
    Wire("record_id", lambda w, v, n: w.raw(v.bytes, 16), lambda r, n: uuid.UUID(bytes=r.raw(16, n)), Form.UUID),
    Wire("terminal_id", Writer.ident, Reader.ident, Form.IDENT),
    Wire("seq", lambda w, v, n: w.u64(v), Reader.u64, Form.BIG_INT),
    Wire("prev_hash", lambda w, v, n: w.raw(v, 32), lambda r, n: r.raw(32, n), Form.BYTES),
    Wire("kind", lambda w, v, n: w.u8(int(v)), _enum_reader(Kind, "kind"), Form.SMALL_INT),
    Wire("card_id", _write_opt_card, lambda r, n: r.raw(16, n) if r.flag(n) else None, Form.BYTES, optional=True),
    Wire("merchant_id", Writer.ident, Reader.ident, Form.IDENT),
    Wire("fl_cents", lambda w, v, n: w.i64(v), Reader.i64, Form.BIG_INT),
    Wire("eur_cents", lambda w, v, n: w.i64(v), Reader.i64, Form.BIG_INT),
    Wire("tender", lambda w, v, n: w.u8(int(v)), _enum_reader(Tender, "tender"), Form.SMALL_INT),
    Wire("budget_id", Writer.opt_ident, Reader.opt_ident, Form.IDENT, optional=True),
    Wire("ref_id", lambda w, v, n: w.opt_uuid(v), Reader.opt_uuid, Form.UUID, optional=True),
    Wire("wall_ms", lambda w, v, n: w.i64(v), Reader.i64, Form.BIG_INT),
    Wire("mono_ms", lambda w, v, n: w.u64(v), Reader.u64, Form.BIG_INT),
    Wire("confirm_card_id", lambda w, v, n: w.raw(v, 16), lambda r, n: r.raw(16, n), Form.BYTES, optional=True,
         since=CONFIRM_VERSION),
)
WIRE_BY_NAME: Final = {wire.name: wire for wire in WIRE}
# _decode_common reads this order and these versions; the import fails if WIRE ever changes them.
assert [(w.name, w.since) for w in WIRE] == [
    ("version", 1), ("record_id", 1), ("terminal_id", 1), ("seq", 1), ("prev_hash", 1), ("kind", 1), ("card_id", 1),
    ("merchant_id", 1), ("fl_cents", 1), ("eur_cents", 1), ("tender", 1), ("budget_id", 1), ("ref_id", 1),
    ("wall_ms", 1), ("mono_ms", 1), ("confirm_card_id", CONFIRM_VERSION)] and SUPPORTED_VERSIONS == {1, 2}


# -- the chain -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChainHead:
    """Where a terminal's chain stands: the last sequence number and its record's hash."""

    seq: int = 0
    hash: bytes = GENESIS_HASH

    def next_record(self, content: RecordContent, *, terminal_id: str, merchant_id: str, wall_ms: int = 0,
                    mono_ms: int = 0) -> TxRecord:
        """The record that continues this chain with `content` (a subclass's own fields, such as a Draft's, stay behind)."""
        said: dict[str, Any] = {name: getattr(content, name) for name in CONTENT_FIELDS}  # each typed by RecordContent
        return TxRecord(**said, terminal_id=terminal_id, seq=self.seq + 1, prev_hash=self.hash,
                        merchant_id=merchant_id, wall_ms=wall_ms, mono_ms=mono_ms,
                        version=TxRecord.version_for(content.confirm_card_id))

    def advance(self, signed: SignedRecord) -> ChainHead:
        return ChainHead(signed.record.seq, signed.hash)


def verify_next(head: ChainHead, signed: SignedRecord, public: PublicKey) -> ChainHead:
    """Check that `signed` is the valid next record after `head`; return the new head.

    Order of checks gives the most useful refusal: a gap is reported as a gap
    even when the hash cannot match either.
    """
    rec = signed.record
    if rec.seq != head.seq + 1:
        raise SequenceGap(got=rec.seq, expected_prev=head.seq)
    if rec.prev_hash != head.hash:
        raise BrokenChain(seq=rec.seq)
    signed.verify(public)
    return head.advance(signed)


# Where chain_link reads: after the magic, version (u8), record_id (16) and terminal_id's length byte
# come terminal_id, seq (u64) and prev_hash (32). The import fails if WIRE's order ever moves them.
assert [w.name for w in WIRE[:5]] == ["version", "record_id", "terminal_id", "seq", "prev_hash"]
_IDENT_LEN_AT: Final = len(MAGIC) + 1 + 16


def chain_link(raw: bytes) -> tuple[int, bytes]:
    """The seq and prev_hash of signed record bytes, read in place without decoding or checking the rest.

    For the till's start-up check of a long kept chain (terminal/store/integrity.py): the hash links
    alone, at a small part of decode()'s cost; decode() checks everything else.
    """
    if raw[:3] != MAGIC or len(raw) <= _IDENT_LEN_AT:
        raise RecordMalformed(detail="not a Floreyn record")
    at = _IDENT_LEN_AT + 1 + raw[_IDENT_LEN_AT]
    if len(raw) < at + 8 + 32:
        raise RecordMalformed(detail="truncated")
    return int.from_bytes(raw[at : at + 8], "big"), raw[at + 8 : at + 40]


def verify_chain(
    records: list[SignedRecord], public: PublicKey, head: ChainHead = ChainHead()
) -> ChainHead:
    for signed in records:
        head = verify_next(head, signed, public)
    return head


def with_fields(record: TxRecord, **changes: object) -> TxRecord:
    """A copy with some fields changed (tests and tools; records themselves never change)."""
    return replace(record, **changes)  # type: ignore[arg-type]  # changes: TxRecord's own keywords
