"""Upload: verify a terminal's signed records and post them, exactly once.

A batch is taken in one database transaction, under a lock on the
terminal's row, so two uploads from one terminal queue and never interleave:

1. Records at or below the terminal's head are duplicates. Each must be
   byte-identical to the stored one (compared by hash); a different record
   with a known sequence number is a fork: the terminal is quarantined and an
   alert raised.
2. Records above the head are taken while they continue the chain without a
   gap (signature, prev_hash, seq). Anything after a gap waits for a later
   upload; the answer is always the highest contiguous sequence number, so a
   batch sent again, or split differently, gets the same answer and posts
   nothing twice.
3. Accepted records are posted as they are: the sale happened, offline, in
   good faith. What looks wrong (overspend, unknown card, a budget used where
   it should not be) is flagged for people to look at, not refused.

A record that fails verification refuses the whole batch and posts nothing.
Signatures are checked before the write transaction (see _verify_signatures),
so the lock is held only for the chain check and the ledger writes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Final, Sequence

from sqlalchemy import Connection, Row, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError

from floreyn import keys
from floreyn.errors import FloreynError
from floreyn.money import DEFAULT_MAX_CENTS
from floreyn.server import bulk, entries, ledger, state
from floreyn.server import schema as s
from floreyn.server.db import Database
from floreyn.server.errors import (
    BatchTooLarge, RecordRefused, TerminalForked, TerminalQuarantined, TerminalRevoked,
)
from floreyn.sync import auth
from floreyn.sync.record import BadSignature, ChainHead, Kind, RecordError, SignedRecord, decode

MAX_BATCH_RECORDS: Final = 500
# Ten times the most a till takes in one amount (money.DEFAULT_MAX_CENTS): a record above it is a broken or
# hostile terminal, and summing such amounts could overflow a 64-bit balance.
MAX_RECORD_CENTS: Final = 10 * DEFAULT_MAX_CENTS


@dataclass(frozen=True, slots=True)
class UploadResult:
    acked_seq: int  # highest contiguous sequence number the server holds for this terminal
    accepted: int  # records posted by this upload
    duplicates: int  # records the server already had (identical)
    waiting: int  # records above a gap, not taken; send them again after the missing ones

    def to_dict(self) -> dict[str, int]:
        return {"acked_seq": self.acked_seq, "accepted": self.accepted, "duplicates": self.duplicates,
                "waiting": self.waiting}


def decode_batch(raws: Sequence[bytes]) -> list[SignedRecord]:
    if len(raws) > MAX_BATCH_RECORDS:
        raise BatchTooLarge(max=MAX_BATCH_RECORDS)
    out = []
    for i, raw in enumerate(raws):
        try:
            out.append(decode(raw))
        except RecordError as exc:
            raise RecordRefused(seq=f"#{i}", detail=exc.message("en")) from None
    return out


def ingest(db: Database, terminal_id: str, raws: Sequence[bytes], now_ms: int | None = None, *,
           reported_head: int | None = None) -> UploadResult:
    """Verify and post one upload batch from `terminal_id` (already authenticated).

    `reported_head`: the terminal's own highest sequence number, kept for the metrics (records waiting).
    """
    batch = decode_batch(raws)
    for signed in batch:
        if signed.record.terminal_id != terminal_id:
            raise RecordRefused(seq=signed.record.seq, detail=f"record belongs to {signed.record.terminal_id}")
    now = now_ms if now_ms is not None else state.now_ms()
    verified_above = _verify_signatures(db, terminal_id, batch, now)
    try:
        result, refusal = db.write(lambda conn: _ingest_tx(conn, terminal_id, batch, now, verified_above,
                                                           reported_head))
    except IntegrityError:
        # A record id or transaction id another terminal already used: nothing was written.
        raise RecordRefused(seq="?", detail="a record id in this batch is already used by another record") from None
    if refusal is not None:
        raise refusal  # raised after commit: the quarantine and the alert stay written
    assert result is not None
    return result


def _verify_signatures(db: Database, terminal_id: str, batch: list[SignedRecord], now: int) -> int:
    """Check the signatures of every record above the head, before taking the write lock.

    The public key never changes once enrolled, and the head only grows, so
    every record the transaction may accept (seq above its head) is above the
    head read here and has been verified. Returns that head.
    """
    term = db.read(lambda conn: conn.execute(select(s.terminals.c.public_key, s.terminals.c.head_seq)
                                             .where(s.terminals.c.terminal_id == terminal_id)).first())
    if term is None:
        raise auth.AuthUnknownTerminal(terminal_id=terminal_id)
    public = keys.public_from_raw(bytes(term.public_key))
    for signed in batch:
        if signed.record.seq > term.head_seq:
            try:
                signed.verify(public)
            except BadSignature:
                db.write(lambda conn: state.alert(conn, "bad_signature", now, terminal_id=terminal_id,
                                                  seq=signed.record.seq, raw=signed.raw.hex()))  # noqa: B023 (runs at once)
                raise
    return int(term.head_seq)


def _ingest_tx(conn: Connection, terminal_id: str, batch: list[SignedRecord], now: int, verified_above: int,
               reported_head: int | None = None) -> tuple[UploadResult | None, FloreynError | None]:
    term = conn.execute(select(s.terminals).where(s.terminals.c.terminal_id == terminal_id)
                        .with_for_update()).first()
    if term is None:
        return None, auth.AuthUnknownTerminal(terminal_id=terminal_id)
    if term.status == "revoked":
        return None, TerminalRevoked()
    if term.status == "quarantined":
        return None, TerminalQuarantined()
    head = ChainHead(term.head_seq, term.head_hash)
    by_seq: dict[int, SignedRecord] = {}
    for signed in batch:
        seen = by_seq.setdefault(signed.record.seq, signed)
        if seen.raw != signed.raw:
            return None, _quarantine(conn, term, signed.record.seq, seen.raw, signed.raw, now)
    old = sorted(seq for seq in by_seq if seq <= head.seq)
    for i in range(0, len(old), 500):
        chunk = old[i : i + 500]
        stored = dict(conn.execute(select(s.records.c.seq, s.records.c.raw).where(
            s.records.c.terminal_id == terminal_id, s.records.c.seq.in_(chunk))).tuples().all())
        assert len(stored) == len(chunk), "every sequence number up to the head is stored"
        for seq in chunk:
            if bytes(stored[seq]) != by_seq[seq].raw:
                return None, _quarantine(conn, term, seq, bytes(stored[seq]), by_seq[seq].raw, now)
    assert head.seq >= verified_above, "the head only grows"
    new = sorted(seq for seq in by_seq if seq > head.seq)
    accepted: list[SignedRecord] = []
    for seq in new:
        if seq != head.seq + 1:
            break  # a gap: the rest waits for the missing records
        signed = by_seq[seq]
        assert seq > verified_above, "only records whose signature was checked are accepted"
        if signed.record.prev_hash != head.hash:
            return None, _quarantine(conn, term, seq - 1, b"", signed.raw, now, kind="chain_break")
        head = head.advance(signed)
        if signed.record.merchant_id != term.merchant_id:
            state.alert(conn, "merchant_mismatch", now, terminal_id=terminal_id, seq=seq,
                        record_merchant=signed.record.merchant_id, terminal_merchant=term.merchant_id)
            return None, RecordRefused(seq=seq, detail=f"merchant {signed.record.merchant_id} is not this "
                                                       f"terminal's merchant")
        if max(signed.record.fl_cents, signed.record.eur_cents) > MAX_RECORD_CENTS:
            state.alert(conn, "amount_implausible", now, terminal_id=terminal_id, seq=seq,
                        fl_cents=signed.record.fl_cents, eur_cents=signed.record.eur_cents)
            return None, RecordRefused(seq=seq, detail=f"amount above {MAX_RECORD_CENTS} cents")
        accepted.append(signed)
    if accepted:
        _post_records(conn, term, accepted, now)
    reported = {"reported_head_seq": max(reported_head, head.seq)} if reported_head is not None else {}
    conn.execute(update(s.terminals).where(s.terminals.c.terminal_id == terminal_id)
                 .values(head_seq=head.seq, head_hash=head.hash, last_seen_ms=now, **reported))
    return UploadResult(head.seq, len(accepted), len(old), len(new) - len(accepted)), None


def _quarantine(conn: Connection, term, seq: int, stored_raw: bytes, new_raw: bytes, now: int,  # type: ignore[no-untyped-def]
                kind: str = "fork") -> TerminalForked:
    conn.execute(update(s.terminals).where(s.terminals.c.terminal_id == term.terminal_id)
                 .values(status="quarantined", status_reason=f"{kind} at seq {seq}"))
    state.alert(conn, kind, now, terminal_id=term.terminal_id, seq=seq, stored=stored_raw.hex(), got=new_raw.hex())
    return TerminalForked(seq=seq)


@dataclass
class _Lookups:
    member_of_card: dict[str, str]
    budgets: dict[str, Row[Any]]
    group_members: dict[str, list[str]]
    ref_postings: dict[str, list[ledger.Posting]]
    reversed: set[str]


def _lookups(conn: Connection, records: list) -> _Lookups:  # type: ignore[type-arg]
    card_ids = sorted({r.card_id.hex() for r in records if r.card_id})
    budget_ids = sorted({r.budget_id for r in records if r.budget_id})
    refs = sorted({str(r.ref_id) for r in records if r.kind is Kind.VOID})
    member_of_card = dict(conn.execute(select(s.cards.c.card_id, s.cards.c.member_id)
                                       .where(s.cards.c.card_id.in_(card_ids))).tuples().all()) if card_ids else {}
    budgets = {row.budget_id: row for row in conn.execute(
        select(s.budgets).where(s.budgets.c.budget_id.in_(budget_ids)))} if budget_ids else {}
    group_ids = sorted({b.owner_group_id for b in budgets.values() if b.owner_group_id})
    groups: dict[str, list[str]] = defaultdict(list)
    if group_ids:
        for gid, mid in conn.execute(select(s.group_members.c.group_id, s.group_members.c.member_id)
                                     .where(s.group_members.c.group_id.in_(group_ids))):
            groups[gid].append(mid)
    reversed_ = set(conn.execute(select(s.transactions.c.reverses).where(
        s.transactions.c.reverses.in_(refs))).scalars()) if refs else set()
    # A till may void only a record of its own merchant: never a desk transaction, never another shop's sale.
    voidable = set(conn.execute(select(s.transactions.c.tx_id).where(
        s.transactions.c.tx_id.in_(refs), s.transactions.c.terminal_id.is_not(None),
        s.transactions.c.merchant_id == records[0].merchant_id)).scalars()) if refs else set()
    postings = ledger.tx_postings(conn, voidable) if voidable else {}
    return _Lookups(member_of_card, budgets, dict(groups), postings, reversed_)


def _post_records(conn: Connection, term, accepted: list[SignedRecord], now: int) -> None:  # type: ignore[no-untyped-def]
    records = [sr.record for sr in accepted]
    look = _lookups(conn, records)
    topup_allowed = conn.execute(select(s.merchants.c.topup_allowed)
                                 .where(s.merchants.c.merchant_id == term.merchant_id)).scalar()
    txs: list[ledger.LedgerTx] = []
    postings_of: dict[str, tuple[ledger.Posting, ...]] = {}
    spenders: dict[str, set[str]] = defaultdict(set)  # payer account -> cards that spent from it
    touched: set[str] = set()
    noted: set[tuple[str, str]] = set()

    def note(kind: str, card: str | None, **detail: object) -> None:
        if (kind, card or "") not in noted:  # one alert per kind and card per batch
            noted.add((kind, card or ""))
            state.alert(conn, kind, now, terminal_id=term.terminal_id, card_id=card, **detail)

    for rec in records:
        if rec.kind is Kind.DAY_CLOSE:
            continue
        card_hex = rec.card_id.hex() if rec.card_id else None
        if rec.kind is Kind.VOID:
            ref = str(rec.ref_id)
            original = postings_of.get(ref) or look.ref_postings.get(ref)
            if original is None or ref in look.reversed:
                note("void_unmatched" if original is None else "void_repeated", card_hex, seq=rec.seq, ref=ref)
                continue
            look.reversed.add(ref)
            tx: ledger.LedgerTx | None = entries.reversal(str(rec.record_id), ledger.TxKind.VOID, ref, original, now,
                                  terminal_id=rec.terminal_id, record_seq=rec.seq, card_id=card_hex,
                                  merchant_id=rec.merchant_id)
            touched.update(ledger.account_kind(p.account)[2] or "" for p in original
                           if p.account.startswith("member:"))
        else:
            assert card_hex is not None  # record.validate: these kinds name a card
            member = look.member_of_card.get(card_hex)
            wallet = ledger.member_acct(member) if member else ledger.card_acct(card_hex)
            if member:
                touched.add(member)
            else:
                note("unknown_card", card_hex, seq=rec.seq)
            payer = _payer(rec, wallet, member, look, touched, note)
            if rec.kind is Kind.TOPUP and not topup_allowed:
                note("topup_not_allowed", card_hex, seq=rec.seq, merchant=rec.merchant_id)
            tx = entries.record_entry(rec, wallet, payer, now)
            if rec.kind is Kind.SPEND:
                spenders[payer].add(card_hex)
        if tx is not None:
            txs.append(tx)
            postings_of[tx.tx_id] = tx.postings
    bulk.insert_rows(conn, s.records, ("terminal_id", "seq", "record_id", "hash", "raw", "kind", "received_ms"), [
        (sr.record.terminal_id, sr.record.seq, str(sr.record.record_id), sr.hash, sr.raw, int(sr.record.kind), now)
        for sr in accepted])
    ledger.post(conn, txs)
    _consume_holds(conn, term.terminal_id, records)
    flagged = _flag_overspend(conn, spenders, now, term.terminal_id)
    touched.discard("")
    if touched or flagged:
        version = state.bump_version(conn)
        state.touch_members(conn, version, touched)
        for card_hex, blocked in sorted(flagged.items()):
            conn.execute(update(s.cards).where(s.cards.c.card_id == card_hex).values(
                flagged_ms=func.coalesce(s.cards.c.flagged_ms, now), changed_version=version))
            if blocked:
                conn.execute(update(s.cards).where(s.cards.c.card_id == card_hex, s.cards.c.status == "active")
                             .values(status="blocked", blocked_reason="overspend"))


def _payer(rec, wallet: str, member: str | None, look: _Lookups, touched: set[str], note) -> str:  # type: ignore[no-untyped-def]
    """The account a spend or refund draws on: the budget it names, else the wallet."""
    if rec.budget_id is None:
        return wallet
    card_hex = rec.card_id.hex()
    budget = look.budgets.get(rec.budget_id)
    if budget is None:
        note("budget_unknown", card_hex, seq=rec.seq, budget=rec.budget_id)
        return wallet
    owners = [budget.owner_member_id] if budget.owner_member_id else look.group_members.get(budget.owner_group_id, [])
    touched.update(owners)
    if member not in owners:
        note("budget_not_owner", card_hex, seq=rec.seq, budget=rec.budget_id)
    if budget.status != "active":
        note("budget_expired", card_hex, seq=rec.seq, budget=rec.budget_id)
    return ledger.budget_acct(rec.budget_id)


def _consume_holds(conn: Connection, terminal_id: str, records: list) -> None:  # type: ignore[type-arg]
    """A spend that arrives releases the online authorization it was made under.

    Matched by request id when the till used the record id as the request id
    (as floreyn.terminal does), else by card and amount, oldest hold first.
    """
    spends = [r for r in records if r.kind is Kind.SPEND]
    if not spends:
        return
    active = conn.execute(select(s.holds.c.auth_id, s.holds.c.request_id, s.holds.c.card_id, s.holds.c.amount_cents)
                          .where(s.holds.c.terminal_id == terminal_id, s.holds.c.status == "active")
                          .order_by(s.holds.c.created_ms).limit(1000)).all()
    if not active:
        return
    by_request = {h.request_id: h.auth_id for h in active}
    pool: dict[tuple[str, int], list[str]] = defaultdict(list)
    for h in active:
        pool[(h.card_id, h.amount_cents)].append(h.auth_id)
    used: list[str] = []
    for r in spends:
        auth_id = by_request.get(str(r.record_id))
        candidates = pool.get((r.card_id.hex(), r.fl_cents), [])
        if auth_id is None:
            auth_id = next((a for a in candidates if a not in used), None)
        if auth_id is not None and auth_id not in used:
            used.append(auth_id)
    if used:
        conn.execute(update(s.holds).where(s.holds.c.auth_id == bindparam("a")).values(status="consumed"),
                     [{"a": a} for a in used])


def _flag_overspend(conn: Connection, spenders: dict[str, set[str]], now: int, terminal_id: str
                    ) -> dict[str, bool]:
    """Cards whose spend took a wallet or budget below zero: card -> blocked (beyond the threshold)."""
    if not spenders:
        return {}
    threshold = state.get_settings(conn).overspend_block_cents
    out: dict[str, bool] = {}
    for account, cents in ledger.balances(conn, spenders).items():
        if cents >= 0:
            continue
        for card_hex in sorted(spenders[account]):
            blocked = cents < -threshold
            out[card_hex] = out.get(card_hex, False) or blocked
            state.alert(conn, "overspend", now, terminal_id=terminal_id, card_id=card_hex, account=account,
                        balance_cents=cents, blocked=blocked)
    return out


def stored_records(conn: Connection, terminal_id: str, after_seq: int = 0, limit: int = 1000) -> list[bytes]:
    rows = conn.execute(select(s.records.c.raw).where(s.records.c.terminal_id == terminal_id,
                                                      s.records.c.seq > after_seq)
                        .order_by(s.records.c.seq).limit(limit)).scalars()
    return [bytes(r) for r in rows]
