"""The store's integrity check at start and its pruning of old, acknowledged records.

verify_store: the kept chain must be gapless, hash-linked from the prune
base, with every stored column equal to its signed bytes; signatures are
checked for records the server has not acknowledged (what will still be
sent) and the head. prune_store: delete whole transactions from the start
of the chain that the server acknowledged and that are older than the
retention; never the head, never anything unacknowledged; the chain then
resumes from (base_seq, base_hash).
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import delete, select, update

from floreyn.sync.record import ChainHead, RecordError, decode, record_hash, verify_next
from floreyn.terminal.errors import StoreCorrupt
from floreyn.terminal.store.rows import StoredRecord
from floreyn.terminal.store.schema import client_refs, records, terminal_state
from floreyn.terminal.store.view import StoreView

PRUNE_BATCH = 5_000
VERIFY_BATCH = 1_000


def verify_store(view: StoreView, public: Ed25519PublicKey, *, all_signatures: bool = False) -> ChainHead:
    state = view.state()
    head = ChainHead(state.base_seq, state.base_hash)
    seq = state.base_seq + 1
    while seq <= state.head_seq:
        for stored in view.by_seq(seq, min(seq + VERIFY_BATCH - 1, state.head_seq)):
            check_sig = all_signatures or stored.sync_status == "pending" or stored.seq == state.head_seq
            head = _verify_row(stored, head, public, check_sig)
        seq += VERIFY_BATCH
    if (head.seq, head.hash) != (state.head_seq, state.head_hash):
        raise StoreCorrupt(detail=f"chain ends at {head.seq}, state says {state.head_seq}")
    return head


def prune_store(view: StoreView, *, now_ms: int, retention_ms: int) -> int:
    state = view.state()
    rows = view.conn.execute(
        select(records.c.seq, records.c.tx_id, records.c.hash, records.c.sync_status, records.c.mono_ms)
        .where(records.c.seq > state.base_seq).order_by(records.c.seq).limit(PRUNE_BATCH)).all()
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
    view.conn.execute(delete(records).where(records.c.seq <= last.seq))
    view.conn.execute(update(terminal_state).where(terminal_state.c.id == 1)
                      .values(base_seq=last.seq, base_hash=bytes(last.hash)))
    view.conn.execute(delete(client_refs).where(client_refs.c.tx_id.not_in(select(records.c.tx_id))))
    return int(last.seq) - state.base_seq


def _verify_row(stored: StoredRecord, head: ChainHead, public: Ed25519PublicKey, check_sig: bool) -> ChainHead:
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
    if check_sig:
        return verify_next(head, signed, public)
    if rec.seq != head.seq + 1 or rec.prev_hash != head.hash:
        verify_next(head, signed, public)  # raises the precise gap / chain error
    return head.advance(signed)
