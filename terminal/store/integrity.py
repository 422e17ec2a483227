"""The store's integrity check at start and its pruning of old, acknowledged records.

The check has two passes over the records after the last verified point (kept in terminal_state: the
record before the head the last complete check verified; the base when there is none, as on the first
start after the upgrade that brought the point, or with all_signatures):

- check_links, at every start, before the till takes a card: the kept chain must be gapless and
  hash-linked from the point to the head the state names (each record's SHA-256 is its stored hash and
  the next record's prev_hash, read with chain_link, no decoding), and the head itself is checked in
  full, signature included. Cheap: about 1 s per 100,000 records on a busy 2-core machine. Since the
  head is signed and every link is a SHA-256 of the whole signed record before it, a record changed
  anywhere in that span fails here.
- check_records: each record decoded, its stored columns equal to its signed bytes, its signature
  checked when the server has not acknowledged it (what will still be sent), every signature with
  all_signatures. About 150 us a record here; a span longer than INLINE_CHECK_RECORDS (a long offline
  day met by the first start after the upgrade) runs in the store's background check (store.py) while
  the till already sells, and the store holds every upload until it has passed. Only then does the
  point move, so a start cut short checks the same span again.

A record changed before the point is not seen at start (the server still refuses it); all_signatures
checks the whole kept chain again. prune_store: delete whole transactions from the start of the chain
that the server acknowledged and that are older than the retention; never the head, never anything
unacknowledged; the chain then resumes from (base_seq, base_hash).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import NamedTuple, Sequence


from floreyn import keys
from floreyn.keys import PublicKey
from floreyn.sync.record import (
    BadSignature,
    BrokenChain, ChainHead, RecordError, SequenceGap, SignedRecord, chain_link, decode, record_hash, verify_next,
)
from floreyn.terminal.errors import StoreCorrupt
from floreyn.terminal.store.rows import StoredRecord
from floreyn.terminal.store.view import StoreView

PRUNE_BATCH = 5_000
VERIFY_BATCH = 1_000
# Records check_records checks before the start returns (about 0.3 s here); a longer span goes to the
# background check. A normal start has one record after the point: the head.
INLINE_CHECK_RECORDS = 2_000


@dataclass(frozen=True, slots=True)
class StartCheck:
    """What check_links found: the head, and the span (point.seq, head.seq] check_records still owes."""

    head: ChainHead
    point: ChainHead  # the last verified point the check started from (the base when none)
    before_head: ChainHead  # the record before the head: the next point once check_records has passed

    @property
    def owed(self) -> int:
        return self.head.seq - self.point.seq


def check_links(view: StoreView, public: PublicKey, *, all_signatures: bool = False) -> StartCheck:
    """The hash chain from the last verified point (or the base) to the state's head; the head in full."""
    state = view.state()
    point = ChainHead(state.base_seq, state.base_hash)
    resume = None if all_signatures else _verified_point(view)
    if resume is not None and state.base_seq <= resume.seq < state.head_seq:
        point = resume
    head = before_head = point
    seq = point.seq + 1
    while seq <= state.head_seq:
        last = min(seq + VERIFY_BATCH - 1, state.head_seq)
        for row_seq, raw, stored_hash in view.db.all(
                "SELECT seq, raw, hash FROM records WHERE seq BETWEEN ? AND ? ORDER BY seq", (seq, last)):
            before_head, head = head, _link(head, row_seq, bytes(raw), bytes(stored_hash))
        seq = last + 1
    if (head.seq, head.hash) != (state.head_seq, state.head_hash):
        raise StoreCorrupt(detail=f"chain ends at {head.seq}, state says {state.head_seq}")
    if head.seq > state.base_seq:
        (stored,) = view.by_seq(head.seq, head.seq)
        verify_next(before_head, _decode_checked(stored), public)  # the head: columns and signature too
    return StartCheck(head, point, before_head)


def _link(head: ChainHead, seq: int, raw: bytes, stored_hash: bytes) -> ChainHead:
    try:
        got_seq, prev_hash = chain_link(raw)
    except RecordError as exc:
        raise StoreCorrupt(detail=f"record {seq}: {exc.message('en')}") from None
    if got_seq != seq or seq != head.seq + 1:
        raise SequenceGap(got=got_seq, expected_prev=head.seq)
    if prev_hash != head.hash:
        raise BrokenChain(seq=seq)
    digest = hashlib.sha256(raw).digest()
    if digest != stored_hash:
        raise StoreCorrupt(detail=f"record {seq} columns differ from its signed bytes")
    return ChainHead(seq, digest)


def check_records(rows: Sequence[StoredRecord], public: PublicKey, *, all_signatures: bool = False) -> None:
    """Each record in full: decoded, columns equal to its signed bytes, signature when unacknowledged.

    The links between them are check_links' part; this needs no view, so the background check runs it
    outside the store's lock.
    """
    check_signatures(decode_records(rows, all_signatures=all_signatures), keys.public_raw(public))


def decode_records(rows: Sequence[StoredRecord], *, all_signatures: bool = False) -> list[SignedRecord]:
    """check_records' first half: each decoded, its columns compared; the records whose signature it checks."""
    signed = [_decode_checked(stored) for stored in rows]
    return [s for s, stored in zip(signed, rows, strict=True) if all_signatures or stored.sync_status == "pending"]


def check_signatures(signed: Sequence[SignedRecord], public_raw: bytes) -> None:
    """check_records' second half, through libsodium: it releases the GIL, so it can run beside decoding."""
    for record in signed:
        if not record.signature_ok(public_raw):
            raise BadSignature(seq=record.record.seq)


def check_span(view: StoreView, check: StartCheck, public: PublicKey, *, all_signatures: bool = False) -> None:
    """check_records over the whole span check_links left, in this transaction; then keep the new point."""
    seq = check.point.seq + 1
    while seq <= check.head.seq:
        last = min(seq + VERIFY_BATCH - 1, check.head.seq)
        check_records(view.by_seq(seq, last), public, all_signatures=all_signatures)
        seq = last + 1
    mark_verified(view, check)


def mark_verified(view: StoreView, check: StartCheck) -> None:
    """Keep the record before the head as the point: the head itself is checked in full at every start."""
    done = view.db.execute("UPDATE terminal_state SET verified_seq = ?, verified_hash = ? WHERE id = 1",
                           (check.before_head.seq, check.before_head.hash))
    assert done == 1, "no terminal_state row"


def unchecked_span(view: StoreView) -> int:
    """Records after the last verified point (or the base): what the next start's check owes."""
    state = view.state()
    point = _verified_point(view)
    after = point.seq if point is not None and state.base_seq <= point.seq < state.head_seq else state.base_seq
    return state.head_seq - after


def _verified_point(view: StoreView) -> ChainHead | None:
    verified_seq, verified_hash = view.db.one("SELECT verified_seq, verified_hash FROM terminal_state WHERE id = 1")
    if verified_seq is None or verified_hash is None:
        return None
    return ChainHead(int(verified_seq), bytes(verified_hash))


def prune_store(view: StoreView, *, now_ms: int, retention_ms: int) -> int:
    state = view.state()
    rows = [_PruneRow(*r) for r in view.db.all(
        "SELECT seq, tx_id, hash, sync_status, mono_ms FROM records WHERE seq > ? ORDER BY seq LIMIT ?",
        (state.base_seq, PRUNE_BATCH))]
    cut = -1
    for i, r in enumerate(rows):
        if r.sync_status != "acknowledged" or r.mono_ms > now_ms - retention_ms or r.seq >= state.head_seq:
            break
        cut = i
    while cut >= 0 and cut + 1 < len(rows) and rows[cut + 1].tx_id == rows[cut].tx_id:
        cut -= 1  # do not split a transaction
    if cut < 0:
        return 0
    last = rows[cut]
    deleted = view.db.execute("DELETE FROM records WHERE seq <= ?", (last.seq,))
    assert deleted == last.seq - state.base_seq, f"pruned {deleted} records, {last.seq - state.base_seq} expected"
    moved = view.db.execute("UPDATE terminal_state SET base_seq = ?, base_hash = ? WHERE id = 1",
                            (last.seq, bytes(last.hash)))
    assert moved == 1, "no terminal_state row"
    view.db.execute("DELETE FROM client_refs WHERE tx_id NOT IN (SELECT tx_id FROM records)")
    view.db.execute("DELETE FROM card_usage")  # kept totals count what the records held: counted again from them
    return int(last.seq) - state.base_seq


class _PruneRow(NamedTuple):
    """What prune_store reads of a record to find where it may cut."""

    seq: int
    tx_id: str
    hash: bytes
    sync_status: str
    mono_ms: int


def _decode_checked(stored: StoredRecord) -> SignedRecord:
    try:
        signed = decode(stored.raw)
    except RecordError as exc:
        raise StoreCorrupt(detail=f"record {stored.seq}: {exc.message('en')}") from None
    rec = signed.record
    columns = (stored.seq, stored.record_id, stored.kind, stored.fl_cents, stored.eur_cents, stored.budget_id,
               stored.card_hex, stored.ref_id)
    signed_values = (rec.seq, str(rec.record_id), rec.kind, rec.fl_cents, rec.eur_cents, rec.budget_id,
                     rec.card_id.hex() if rec.card_id else None, str(rec.ref_id) if rec.ref_id else None)
    if columns != signed_values or stored.hash != record_hash(stored.raw):
        raise StoreCorrupt(detail=f"record {stored.seq} columns differ from its signed bytes")
    return signed

