"""Upload: verify a terminal's signed records and post them, exactly once.

A batch is taken in one database transaction (or one savepoint of a
transaction shared with the uploads that waited at the same time:
Database.write_grouped), under a lock on the terminal's row, so two uploads
from one terminal queue and never interleave:

1. Records at or below the terminal's head are duplicates. Each must be
   byte-identical to the stored one (compared by hash); a different record
   with a known sequence number is a fork: the terminal is quarantined and an
   alert raised.
2. Records above the head are taken while they continue the chain without a
   gap (signature, prev_hash, seq). Anything after a gap waits for a later
   upload; the answer is always the highest contiguous sequence number, so a
   batch sent again, or split differently, gets the same answer and posts
   nothing twice.
3. Accepted records are re-checked against the cooperative's rules
   (server/rules.py) and posted as far as the rules allow: a signed record is
   a fact (the goods left the shop) and is never dropped, but its excess over
   the rules goes to the terminal's dispute account, never to a wallet,
   budget or merchant. A rule only a tampered till breaks quarantines the
   terminal (after the batch is stored: typed refusal TerminalBrokeRule).
   What honest offline tills can cause (overspend, a wallet emptied, unknown
   card) is flagged for people to look at, not refused.

A record that fails verification refuses the whole batch and posts nothing.
Signatures are checked before the write transaction (see _verify_signatures),
so the lock is held only for the chain check and the ledger writes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Container, Final, Sequence

from sqlalchemy import Connection, Row, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError

from floreyn.errors import FloreynError
from floreyn.money import DEFAULT_MAX_CENTS
from floreyn.server import authz, bulk, campaign_pots, entries, ledger, nonces, rules, state, verify
from floreyn.server import schema as s
from floreyn.server.db import Database
from floreyn.server.remembered import Remembered
from floreyn.server.errors import (
    BatchTooLarge, RecordRefused, TerminalBrokeRule, TerminalForked, TerminalQuarantined, TerminalRevoked,
)
from floreyn.sync import auth
from floreyn.sync.record import BadSignature, ChainHead, Kind, RecordError, SignedRecord, TxRecord, decode

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


# Decoded records remembered per process, by their bytes: a till whose upload timed out sends the same
# batch again, mostly while the first still waits for the write lock, and under load every batch can be
# sent several times (443 time-outs for 100 batches in one 40-till bench round, each resend decoded anew).
# decode() is a function of the bytes alone and its result is immutable. About 1 KB each: 20 MB at most.
DECODED_REMEMBERED: Final = 20_000
_decoded: Remembered[bytes, SignedRecord] = Remembered(DECODED_REMEMBERED)


def decode_batch(raws: Sequence[bytes]) -> list[SignedRecord]:
    if len(raws) > MAX_BATCH_RECORDS:
        raise BatchTooLarge(max=MAX_BATCH_RECORDS)
    out = _decoded.recall([raw if type(raw) is bytes else b"" for raw in raws])  # b"" is never a record
    fresh: list[SignedRecord] = []
    for i, raw in enumerate(raws):
        if out[i] is not None:
            continue
        try:
            signed = decode(raw)
        except RecordError as exc:
            raise RecordRefused(seq=f"#{i}", detail=exc.message("en")) from None
        out[i] = signed
        fresh.append(signed)
    _decoded.remember((new.raw, new) for new in fresh)
    decoded = [signed for signed in out if signed is not None]
    assert len(decoded) == len(raws), "every record is decoded or refused"
    return decoded


@dataclass(frozen=True, slots=True)
class Authenticated:
    """What the upload's authentication read (api_terminal.authenticate), so ingest reads it only once."""

    public_key: bytes  # raw Ed25519 key, as enrolled (never changes)
    head_seq: int  # the terminal's head then; it only grows, so records above it are all that may be accepted
    nonce: str  # the request's nonce: taken in the batch's write transaction, first (a replay writes nothing)


def ingest(db: Database, terminal_id: str, raws: Sequence[bytes], now_ms: int | None = None, *,
           reported_head: int | None = None, authenticated: Authenticated | None = None) -> UploadResult:
    """Verify and post one upload batch from `terminal_id` (already authenticated).

    `reported_head`: the terminal's own highest sequence number, kept for the metrics (records waiting).
    `authenticated`: the request's key, head and nonce, when its nonce is still to be taken (one write per upload).
    """
    batch = decode_batch(raws)
    for signed in batch:
        if signed.record.terminal_id != terminal_id:
            raise RecordRefused(seq=signed.record.seq, detail=f"record belongs to {signed.record.terminal_id}")
    now = now_ms if now_ms is not None else state.now_ms()
    verified_above = _verify_signatures(db, terminal_id, batch, now, authenticated)
    nonce = authenticated.nonce if authenticated is not None else None
    try:
        # Uploads waiting at the same time share one transaction and commit, each in its own savepoint.
        outcome = db.write_grouped(lambda conn: _ingest_tx(conn, terminal_id, batch, now, verified_above,
                                                           reported_head, nonce))
    except IntegrityError:
        # A record id or transaction id another terminal already used: nothing was written.
        raise RecordRefused(seq="?", detail="a record id in this batch is already used by another record") from None
    return outcome.result_or_raise()  # after the commit: a quarantine and its alert stay written


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    """What one batch's transaction decided: its result, a refusal, or both (a rule broken).

    The transaction returns its refusal instead of raising it, so that what it wrote on the
    way (the quarantine, its alert, the records posted before a broken rule) commits;
    ingest() raises it after the commit.
    """

    result: UploadResult | None = None
    refusal: FloreynError | None = None

    def __post_init__(self) -> None:
        assert self.result is not None or self.refusal is not None, "an outcome says something"

    def result_or_raise(self) -> UploadResult:
        if self.refusal is not None:
            raise self.refusal
        assert self.result is not None
        return self.result


def _verify_signatures(db: Database, terminal_id: str, batch: list[SignedRecord], now: int,
                       known: Authenticated | None = None) -> int:
    """Check the signatures of every record above the head, before taking the write lock.

    The public key never changes once enrolled, and the head only grows, so
    every record the transaction may accept (seq above its head) is above the
    head read here (or by the request's authentication) and has been
    verified. Returns that head. Verified with libsodium on a small pool
    (server/verify.py); the first bad record in batch order is the one refused.
    """
    if known is None:
        term = db.read(lambda conn: conn.execute(select(s.terminals.c.public_key, s.terminals.c.head_seq)
                                                 .where(s.terminals.c.terminal_id == terminal_id)).first())
        if term is None:
            raise auth.AuthUnknownTerminal(terminal_id=terminal_id)
        known = Authenticated(bytes(term.public_key), int(term.head_seq), "")
    bad = verify.first_bad(known.public_key, [sr for sr in batch if sr.record.seq > known.head_seq])
    if bad is not None:
        def refuse(conn: Connection) -> bool:
            if known.nonce and not nonces.remember(conn, terminal_id, known.nonce, now):
                return False  # a replay of a refused request: refused as a replay, no second alert
            state.alert(conn, "bad_signature", now, terminal_id=terminal_id, seq=bad.record.seq, raw=bad.raw.hex())
            return True

        if not db.write(refuse):
            raise auth.AuthReplayed()
        raise BadSignature(seq=bad.record.seq)
    return known.head_seq


# Straight to the driver (bulk.run): every upload reads it. The columns the batch uses, in schema order.
_TERMINAL: Final = (f"SELECT terminal_id, merchant_id, status, head_seq, head_hash, snapshot_base_seq"
                    f" FROM {s.terminals.name} WHERE terminal_id = {{mark}}")


def _ingest_tx(conn: Connection, terminal_id: str, batch: list[SignedRecord], now: int, verified_above: int,
               reported_head: int | None = None, nonce: str | None = None) -> IngestOutcome:
    # FOR UPDATE on PostgreSQL: two uploads of one terminal queue here; SQLite's write lock already serializes.
    lock = " FOR UPDATE" if conn.dialect.name == "postgresql" else ""
    term = bulk.run(conn, _TERMINAL + lock, (terminal_id,)).first()
    if term is None:
        return IngestOutcome(refusal=auth.AuthUnknownTerminal(terminal_id=terminal_id))
    if nonce is not None and not nonces.remember(conn, terminal_id, nonce, now):
        return IngestOutcome(refusal=auth.AuthReplayed())  # before anything is written, as authenticate does
    if term.status == "revoked":
        return IngestOutcome(refusal=TerminalRevoked())
    if term.status == "quarantined":
        return IngestOutcome(refusal=TerminalQuarantined())
    head = ChainHead(term.head_seq, term.head_hash)
    by_seq: dict[int, SignedRecord] = {}
    for signed in batch:
        seen = by_seq.setdefault(signed.record.seq, signed)
        if seen.raw != signed.raw:
            return IngestOutcome(refusal=_quarantine(conn, term, signed.record.seq, seen.raw, signed.raw, now))
    old = sorted(seq for seq in by_seq if seq <= head.seq)
    for chunk in bulk.chunks(old):
        stored = dict(conn.execute(select(s.records.c.seq, s.records.c.raw).where(
            s.records.c.terminal_id == terminal_id, s.records.c.seq.in_(chunk))).tuples().all())
        assert len(stored) == len(chunk), "every sequence number up to the head is stored"
        for seq in chunk:
            if bytes(stored[seq]) != by_seq[seq].raw:
                return IngestOutcome(refusal=_quarantine(conn, term, seq, bytes(stored[seq]), by_seq[seq].raw, now))
    assert head.seq >= verified_above, "the head only grows"
    new = sorted(seq for seq in by_seq if seq > head.seq)
    accepted: list[SignedRecord] = []
    for seq in new:
        if seq != head.seq + 1:
            break  # a gap: the rest waits for the missing records
        signed = by_seq[seq]
        assert seq > verified_above, "only records whose signature was checked are accepted"
        if signed.record.prev_hash != head.hash:
            return IngestOutcome(refusal=_quarantine(conn, term, seq - 1, b"", signed.raw, now, kind="chain_break"))
        head = head.advance(signed)
        if signed.record.merchant_id != term.merchant_id:
            state.alert(conn, "merchant_mismatch", now, terminal_id=terminal_id, seq=seq,
                        record_merchant=signed.record.merchant_id, terminal_merchant=term.merchant_id)
            return IngestOutcome(refusal=RecordRefused(
                seq=seq, detail=f"merchant {signed.record.merchant_id} is not this terminal's merchant"))
        if max(signed.record.fl_cents, signed.record.eur_cents) > MAX_RECORD_CENTS:
            state.alert(conn, "amount_implausible", now, terminal_id=terminal_id, seq=seq,
                        fl_cents=signed.record.fl_cents, eur_cents=signed.record.eur_cents)
            return IngestOutcome(refusal=RecordRefused(seq=seq, detail=f"amount above {MAX_RECORD_CENTS} cents"))
        accepted.append(signed)
    violations = _post_records(conn, term, accepted, now) if accepted else []
    reported = max(reported_head, head.seq) if reported_head is not None else None
    bulk.run(conn, _NEW_HEAD, (head.seq, head.hash, now, reported, terminal_id))
    result = UploadResult(head.seq, len(accepted), len(old), len(new) - len(accepted))
    broken = next((v for v in violations if v.rule.quarantines), None)
    if broken is not None:
        # The records are stored and posted within the rules; the terminal takes no more until people look.
        reason = f"rule {broken.rule.name}"
        conn.execute(update(s.terminals).where(s.terminals.c.terminal_id == terminal_id)
                     .values(status="quarantined", status_reason=reason[:200]))
        return IngestOutcome(result, TerminalBrokeRule(rule=broken.rule.name, acked_seq=head.seq))
    return IngestOutcome(result)


# Every upload writes it: straight to the driver (bulk.run). No reported head keeps the stored one.
_NEW_HEAD: Final = (f"UPDATE {s.terminals.name} SET head_seq = {{mark}}, head_hash = {{mark}}, last_seen_ms = {{mark}},"
                    " reported_head_seq = COALESCE({mark}, reported_head_seq) WHERE terminal_id = {mark}")


def _quarantine(conn: Connection, term: Row[Any], seq: int, stored_raw: bytes, new_raw: bytes, now: int,
                kind: str = "fork") -> TerminalForked:
    conn.execute(update(s.terminals).where(s.terminals.c.terminal_id == term.terminal_id)
                 .values(status="quarantined", status_reason=f"{kind} at seq {seq}"))
    state.alert(conn, kind, now, terminal_id=term.terminal_id, seq=seq, stored=stored_raw.hex(), got=new_raw.hex())
    return TerminalForked(seq=seq)


@dataclass
class _Lookups:
    member_of_card: dict[str, str]
    budgets: dict[str, Any]
    group_members: dict[str, list[str]]
    ref_postings: dict[str, list[ledger.Posting]]


def _lookups(conn: Connection, terminal_id: str, records: list[TxRecord]) -> _Lookups:
    card_ids = sorted({c.hex() for r in records for c in (r.card_id, r.confirm_card_id) if c})
    budget_ids = sorted({r.budget_id for r in records if r.budget_id})
    refs = sorted({str(r.ref_id) for r in records if r.kind is Kind.VOID})
    member_of_card = dict(bulk.rows_in(conn, "SELECT card_id, member_id FROM cards WHERE card_id IN ({values})",
                                       (), card_ids))
    budgets = {row.budget_id: row for row in conn.execute(
        select(s.budgets).where(s.budgets.c.budget_id.in_(budget_ids)))} if budget_ids else {}
    group_ids = sorted({b.owner_group_id for b in budgets.values() if b.owner_group_id})
    groups: dict[str, list[str]] = defaultdict(list)
    if group_ids:
        for gid, mid in conn.execute(select(s.group_members.c.group_id, s.group_members.c.member_id)
                                     .where(s.group_members.c.group_id.in_(group_ids))):
            groups[gid].append(mid)
    # A till may void only a record of its own (rules.check_void): never a desk transaction or another till's.
    voidable = set(conn.execute(select(s.transactions.c.tx_id).where(
        s.transactions.c.tx_id.in_(refs), s.transactions.c.terminal_id == terminal_id)).scalars()) if refs else set()
    postings = ledger.tx_postings(conn, voidable) if voidable else {}
    return _Lookups(member_of_card, budgets, dict(groups), postings)


def _group_pairs(records: Sequence[TxRecord], look: _Lookups) -> set[tuple[str, str]]:
    """(group budget, member) of the batch's spends from group budgets."""
    pairs = set()
    for r in records:
        budget = look.budgets.get(r.budget_id or "")
        member = look.member_of_card.get(r.card_id.hex()) if r.card_id else None
        if r.kind is Kind.SPEND and budget is not None and budget.owner_group_id and member:
            pairs.add((budget.budget_id, member))
    return pairs


@dataclass
class _Batch:
    """What posting one batch builds up before it writes."""

    txs: list[ledger.LedgerTx] = field(default_factory=list)
    postings_of: dict[str, tuple[ledger.Posting, ...]] = field(default_factory=dict)
    payers: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # account -> cards that spent
    touched: set[str] = field(default_factory=set)
    deltas: dict[str, int] = field(default_factory=dict)  # balance changes, applied last (ledger.write_entries)
    disputes: list[dict[str, Any]] = field(default_factory=list)
    refunds: list[dict[str, Any]] = field(default_factory=list)
    voided: list[str] = field(default_factory=list)
    violations: list[tuple[TxRecord, rules.Verdict]] = field(default_factory=list)


def _post_records(conn: Connection, term: Any, accepted: list[SignedRecord], now: int) -> list[rules.Violation]:
    """Post a batch as far as the rules allow (server/rules.py); returns the violations found."""
    records = [sr.record for sr in accepted]
    ids = [str(r.record_id) for r in records]  # each record's id as stored, made once: uuid's str() is not cheap
    look = _lookups(conn, term.terminal_id, records)
    settings = state.get_settings(conn)
    facts = rules.load_facts(conn, term, records, now, settings)
    rules.load_group_spent(conn, facts, _group_pairs(records, look))  # before the holds are consumed
    online = _consume_holds(conn, term.terminal_id, records, ids)
    batch = _Batch()
    noted: set[tuple[str, str]] = set()

    def note(kind: str, card: str | None, **detail: object) -> None:
        if (kind, card or "") not in noted:  # one alert per kind and card per batch
            noted.add((kind, card or ""))
            state.alert(conn, kind, now, terminal_id=term.terminal_id, card_id=card, **detail)

    usage_changed: set[str] = set()
    has_refunds = any(r.kind is Kind.REFUND for r in records)
    for rec, rec_id in zip(records, ids, strict=True):
        if rec.kind is Kind.DAY_CLOSE:
            continue
        if rec.kind is Kind.VOID:
            _post_void(rec, look, facts, batch)
            continue
        assert rec.card_id is not None  # record.validate: these kinds name a card
        card_hex = rec.card_id.hex()
        member = look.member_of_card.get(card_hex)
        wallet = ledger.member_acct(member) if member else ledger.card_acct(card_hex)
        if member:
            batch.touched.add(member)
        else:
            note("unknown_card", card_hex, seq=rec.seq)
        payer, budget, owners = _payer(rec, wallet, look, batch.touched, note)
        if rec.kind is Kind.SPEND:
            confirmer = look.member_of_card.get(rec.confirm_card_id.hex(), "") if rec.confirm_card_id else None
            verdict = rules.check_spend(rec, budget, owners, member, rec_id in online, facts, confirmer)
            usage_changed.add(card_hex)
        elif rec.kind is Kind.SAVE:
            verdict = rules.check_save(rec, facts)
        elif rec.kind is Kind.TOPUP:
            verdict = rules.check_topup(rec, facts)
        else:
            verdict = rules.check_refund(rec, payer, facts)
        suspense = ledger.dispute_acct(term.terminal_id) if verdict.excess_cents else None
        tx = entries.record_entry(rec, wallet, payer, now, allowed_cents=verdict.allowed_cents, suspense=suspense,
                                  tx_id=rec_id)
        if verdict.violations:
            batch.violations.append((rec, verdict))
        if verdict.excess_cents:
            payer_acct, payee = entries.dispute_parties(rec, wallet, payer)
            batch.disputes.append({
                "dispute_id": f"d-{rec.record_id}", "terminal_id": term.terminal_id, "record_id": str(rec.record_id),
                "seq": rec.seq, "rules": ",".join(v.rule.name for v in verdict.violations)[:200],
                "payer_account": payer_acct, "payee_account": payee, "amount_cents": verdict.excess_cents,
                "status": "open", "created_ms": now})
        if rec.kind is Kind.REFUND and verdict.allowed_cents:
            batch.refunds.append({"refund_tx": str(rec.record_id), "ref_tx": str(rec.ref_id),
                                  "fl_cents": verdict.allowed_cents})
        if rec.kind is Kind.SPEND:
            if has_refunds:  # a refund later in this batch may refer to this spend
                rules.remember_spend(facts, rec, payer, verdict.allowed_cents)
            # Online-authorized spends too: a stolen key can ask for authorizations as well.
            batch.payers[payer].add(card_hex)
        if tx is not None:
            batch.txs.append(tx)
            batch.postings_of[tx.tx_id] = tx.postings
    _write_batch(conn, accepted, ids, batch, now)
    batch.touched.update(_pay_from_pots(conn, term, dict(zip(ids, records, strict=True)), batch.txs, now))
    rules.save_usage(conn, facts, usage_changed)
    _alert_violations(conn, term.terminal_id, batch.violations, now)
    if batch.refunds:
        _alert_refund_share(conn, term, now, settings.thresholds)
    # The shared rows last, in the lock order of db.py (accounts by key, the version counter, cards): on
    # PostgreSQL each stays locked from its UPDATE to the commit, and every other upload touching it waits.
    batch.touched.discard("")
    offline = _offline_spends([r for r, rec_id in zip(records, ids, strict=True)
                               if r.kind is Kind.SPEND and rec_id not in online], look.member_of_card)
    version: int | None
    if conn.dialect.name == "postgresql" and batch.touched:
        version, balances = _shared_rows_at_once(conn, batch, offline, now)
        flagged = _flag_balances(conn, batch.payers, now, term.terminal_id, settings, balances)
    else:
        ledger.apply_deltas(conn, batch.deltas, now)
        flagged = _flag_balances(conn, batch.payers, now, term.terminal_id, settings)
        version = state.bump_version(conn) if batch.touched or flagged else None
        bulk.add_to_column(conn, s.cards.name, "offline_spent_cents", "card_id", offline)
        if version is not None:
            state.touch_members(conn, version, batch.touched)
    if version is not None:
        for card_hex, blocked in sorted(flagged.items()):
            conn.execute(update(s.cards).where(s.cards.c.card_id == card_hex).values(
                flagged_ms=func.coalesce(s.cards.c.flagged_ms, now), changed_version=version))
            if blocked:
                conn.execute(update(s.cards).where(s.cards.c.card_id == card_hex, s.cards.c.status == "active")
                             .values(status="blocked", blocked_reason="overspend"))
    return [v for _, verdict in batch.violations for v in verdict.violations]


_SAVE_RATE: Final = f"SELECT save_rate_bp FROM {s.merchants.name} WHERE merchant_id = {{mark}}"


def _pay_from_pots(conn: Connection, term: Any, by_id: dict[str, TxRecord], txs: Sequence[ledger.LedgerTx],
                   now: int) -> set[str]:
    """Joint campaigns with a pot pay their part of the saves and spends just posted (campaign_pots.py).

    `by_id`: the batch's records by record id."""
    posted = [(by_id[tx.tx_id], tx) for tx in txs
              if tx.kind in (ledger.TxKind.SAVE, ledger.TxKind.SPEND) and tx.tx_id in by_id]
    if not posted:
        return set()
    rate = int(bulk.run(conn, _SAVE_RATE, (term.merchant_id,)).scalar_one())
    return campaign_pots.after_batch(conn, term.merchant_id, rate, posted, now)


def _post_void(rec: TxRecord, look: _Lookups, facts: rules.BatchFacts, batch: _Batch) -> None:
    ref = str(rec.ref_id)
    verdict = rules.check_void(rec, facts, set(batch.postings_of))
    if verdict.violations:
        batch.violations.append((rec, verdict))
        return
    original = batch.postings_of.get(ref) or look.ref_postings.get(ref)
    assert original is not None, "check_void admits only a record of this terminal, posted before"
    tx = entries.reversal(str(rec.record_id), ledger.TxKind.VOID, ref, original, facts.now_ms,
                          terminal_id=rec.terminal_id, record_seq=rec.seq,
                          card_id=rec.card_id.hex() if rec.card_id else None, merchant_id=rec.merchant_id)
    batch.touched.update(ledger.account_kind(p.account)[2] or "" for p in original if p.account.startswith("member:"))
    batch.voided.append(ref)
    batch.txs.append(tx)
    batch.postings_of[tx.tx_id] = tx.postings


def _write_batch(conn: Connection, accepted: list[SignedRecord], ids: list[str], batch: _Batch, now: int) -> None:
    """`ids`: the accepted records' ids as stored, in the same order."""
    bulk.insert_rows(conn, s.records, ("terminal_id", "seq", "record_id", "hash", "raw", "kind", "received_ms"), [
        (sr.record.terminal_id, sr.record.seq, rec_id, sr.hash, sr.raw, int(sr.record.kind), now)
        for sr, rec_id in zip(accepted, ids, strict=True)])
    batch.deltas = ledger.write_entries(conn, batch.txs)
    if batch.disputes:
        conn.execute(s.disputes.insert(), batch.disputes)
    if batch.refunds:
        conn.execute(s.refunds.insert(), batch.refunds)
    if batch.voided:  # the parked excess of a voided record goes back with the void's reversal
        conn.execute(update(s.disputes).where(s.disputes.c.record_id.in_(batch.voided), s.disputes.c.status == "open")
                     .values(status="voided", resolved_ms=now))


def _alert_violations(conn: Connection, terminal_id: str, found: list[tuple[TxRecord, rules.Verdict]],
                      now: int) -> None:
    for rec, verdict in found:
        for v in verdict.violations:
            state.alert(conn, v.rule.name, now, terminal_id=terminal_id,
                        card_id=rec.card_id.hex() if rec.card_id else None, rule=v.rule.name, seq=rec.seq,
                        record_id=str(rec.record_id), record_kind=rec.kind.name.lower(), claimed_cents=v.claimed_cents,
                        allowed_cents=v.allowed_cents, posted_cents=verdict.allowed_cents,
                        parked_cents=verdict.excess_cents, quarantines=v.rule.quarantines, **v.detail)


def _payer(rec: TxRecord, wallet: str, look: _Lookups, touched: set[str], note: Any
           ) -> tuple[str, Any, list[str]]:
    """(account a spend or refund draws on, the budget row or None, the budget's owners)."""
    if rec.budget_id is None:
        return wallet, None, []
    budget = look.budgets.get(rec.budget_id)
    if budget is None:
        note("budget_unknown", rec.card_id.hex() if rec.card_id else None, seq=rec.seq, budget=rec.budget_id)
        return wallet, None, []
    owners = [budget.owner_member_id] if budget.owner_member_id else look.group_members.get(budget.owner_group_id, [])
    touched.update(owners)
    return ledger.budget_acct(rec.budget_id), budget, owners


# authorize never lets a terminal hold more than MAX_ACTIVE_HOLDS_PER_TERMINAL. Straight to the driver (bulk.run).
_ACTIVE_HOLDS: Final = (f"SELECT auth_id, request_id, card_id, amount_cents FROM {s.holds.name}"
                        " WHERE terminal_id = {mark} AND status = 'active' ORDER BY created_ms"
                        f" LIMIT {authz.MAX_ACTIVE_HOLDS_PER_TERMINAL}")


def _consume_holds(conn: Connection, terminal_id: str, records: list[TxRecord], ids: list[str]) -> set[str]:
    """A spend that arrives releases the online authorization it was made under; returns those spends' ids.

    Matched by request id when the till used the record id as the request id
    (as floreyn.terminal does), else by card and amount, oldest hold first.
    A spend whose hold lapsed or was consumed already still counts as online
    (asked under its record id): only spends with no authorization at all
    are offline (`_offline_spends`). `ids`: the records' ids as stored, in the same order.
    """
    spends = [(r, rec_id) for r, rec_id in zip(records, ids, strict=True) if r.kind is Kind.SPEND]
    if not spends:
        return set()
    # A spend asked for under its record id is online even when its hold lapsed or was consumed
    # before: only spends with no authorization at all count as offline (_offline_spends).
    asked = {request_id for request_id, in bulk.rows_in(
        conn, "SELECT request_id FROM holds WHERE terminal_id = {mark}"
              " AND status IN ('active', 'consumed', 'expired') AND request_id IN ({values})", (terminal_id,),
        [rec_id for _, rec_id in spends])}
    active = bulk.run(conn, _ACTIVE_HOLDS, (terminal_id,)).all()
    if not active:
        return asked
    by_request = {h.request_id: h.auth_id for h in active}
    pool: dict[tuple[str, int], list[str]] = defaultdict(list)
    for h in active:
        pool[(h.card_id, h.amount_cents)].append(h.auth_id)
    used: list[str] = []
    online: set[str] = set(asked)
    for r, rec_id in spends:
        assert r.card_id is not None
        auth_id = by_request.get(rec_id)
        candidates = pool.get((r.card_id.hex(), r.fl_cents), [])
        if auth_id is None:
            auth_id = next((a for a in candidates if a not in used), None)
        if auth_id is not None and auth_id not in used:
            used.append(auth_id)
            online.add(rec_id)
    if used:
        conn.execute(update(s.holds).where(s.holds.c.auth_id == bindparam("a")).values(status="consumed"),
                     [{"a": a} for a in used])
    return online


def _offline_spends(spends: list[TxRecord], known_cards: Container[str]) -> list[tuple[str, int]]:
    """(card, cents) to add to the cards' offline_spent_cents, by card id: the server's half of the card trail.

    The card's trail counts every offline spend made with it (floreyn/cardtrail.py); a till
    subtracts what the trail counts beyond this sum, i.e. what is spent but not yet uploaded.
    One statement for the batch (a statement per card was a sixth of the upload's time).
    """
    per_card: dict[str, int] = defaultdict(int)
    for r in spends:
        assert r.card_id is not None
        per_card[r.card_id.hex()] += r.fl_cents
    return [(card, cents) for card, cents in sorted(per_card.items()) if card in known_cards]


def _shared_rows_at_once(conn: Connection, batch: _Batch, offline: list[tuple[str, int]], now: int
                         ) -> tuple[int, dict[str, int]]:
    """PostgreSQL, a batch that changed members: the shared rows' statements in one round trip, in the lock
    order of db.py (the balances, the version counter, the cards' offline spends, the members' cards), then
    the payers' balances read. Returns the new data version and those balances.

    Every other upload waits while this one holds the shared rows, and their holders follow one another
    (uploads serialize here). Sent one by one, five round trips, each answer then waiting for the GIL behind
    the other uploads, these statements took ~26 ms of the ~35 ms an upload held the rows (40 tills, one
    worker, timed in the server: bench/server_http_ingest.py)."""
    statements = [bulk.Statement(ledger.APPLY_DELTAS, ledger.delta_rows(batch.deltas, now), many=True)
                  ] if batch.deltas else []
    bump = len(statements)
    statements.append(bulk.Statement(state.BUMP_VERSION))
    if offline:
        statements.append(bulk.Statement(bulk.add_to_column_sql(s.cards.name, "offline_spent_cents", "card_id"),
                                         bulk.add_to_column_rows(offline), many=True))
    statements += bulk.statements_in(state.TOUCH_MEMBERS_AT_CURRENT, sorted(batch.touched))
    payers = sorted(batch.payers)
    reads = len(statements)
    statements += bulk.statements_in(ledger.BALANCES, payers)
    done = bulk.pipelined(conn, statements)
    if offline:
        changed = done[bump + 1].rowcount
        assert changed in (-1, len(offline)), ("a card to count an offline spend on is missing", changed, offline)
    version = done[bump].rows
    assert version is not None and len(version) == 1, "the version counter exists"
    found = dict(row for d in done[reads:] for row in (d.rows or []))
    return int(version[0][0]), {k: int(found.get(k, 0)) for k in payers}


def _flag_balances(conn: Connection, payers: dict[str, set[str]], now: int, terminal_id: str,
                   settings: state.Settings, balances: dict[str, int] | None = None) -> dict[str, bool]:
    """After spends: alert a wallet or budget emptied to exactly zero; flag (and beyond the threshold
    block) the cards that took one below zero; alert when one till empties many cards in a short window.
    `balances`: the payers' balances after the batch, when already read. Returns card -> blocked."""
    if not payers:
        return {}
    threshold = settings.overspend_block_cents
    out: dict[str, bool] = {}
    emptied = False
    for account, cents in (balances if balances is not None else ledger.balances(conn, payers)).items():
        if cents > 0:
            continue
        emptied = True
        for card_hex in sorted(payers[account]):
            if cents == 0:
                state.alert(conn, "emptied", now, terminal_id=terminal_id, card_id=card_hex, account=account,
                            balance_cents=0)
                continue
            blocked = cents < -threshold
            out[card_hex] = out.get(card_hex, False) or blocked
            state.alert(conn, "overspend", now, terminal_id=terminal_id, card_id=card_hex, account=account,
                        balance_cents=cents, blocked=blocked)
    if emptied:
        _alert_drain(conn, terminal_id, now, settings.thresholds)
    return out


def _alert_drain(conn: Connection, terminal_id: str, now: int, th: state.Thresholds) -> None:
    """Many distinct cards emptied by one till within the window: a stolen key draining wallets looks like this."""
    since = now - th.drain_window_s * 1000
    recent = conn.execute(select(s.alerts.c.kind, s.alerts.c.card_id).where(
        s.alerts.c.terminal_id == terminal_id, s.alerts.c.at_ms >= since,
        s.alerts.c.kind.in_(("emptied", "overspend", "cards_drained")))).all()
    if any(k == "cards_drained" for k, _ in recent):
        return  # one alert per window
    cards = {c for k, c in recent if c}
    if len(cards) >= th.drain_cards:
        state.alert(conn, "cards_drained", now, terminal_id=terminal_id, cards=len(cards),
                    window_s=th.drain_window_s, threshold=th.drain_cards)


def _alert_refund_share(conn: Connection, term: Any, now: int, th: state.Thresholds) -> None:
    """Refunds today above a share of the merchant's spends today (and above a floor): once per day."""
    day_start = state.day_start_ms(state.local_date(now))
    account = ledger.merchant_acct(term.merchant_id)
    sums = dict(conn.execute(select(s.postings.c.kind, func.sum(s.postings.c.amount_cents)).where(
        s.postings.c.account == account, s.postings.c.created_ms >= day_start,
        s.postings.c.kind.in_((ledger.TxKind.SPEND.value, ledger.TxKind.REFUND.value)))
        .group_by(s.postings.c.kind)).tuples().all())
    refunded, spent = -int(sums.get("refund") or 0), int(sums.get("spend") or 0)
    if refunded <= th.refund_min_cents or refunded * 10_000 <= spent * th.refund_share_bp:
        return
    if conn.execute(select(s.alerts.c.id).where(s.alerts.c.kind == "refund_share", s.alerts.c.at_ms >= day_start,
                                                s.alerts.c.terminal_id == term.terminal_id).limit(1)).first():
        return
    state.alert(conn, "refund_share", now, terminal_id=term.terminal_id, merchant=term.merchant_id,
                refunded_cents=refunded, spent_cents=spent, share_bp=th.refund_share_bp)
