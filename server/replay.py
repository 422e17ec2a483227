"""Replay: recompute every balance from the postings and check the whole ledger and all record chains.

Checks, each reported with what it found:
- every account's stored balance equals the sum of its postings;
- every transaction's postings sum to zero per currency, and each posting's
  currency is its account's;
- each currency's balances sum to zero over all accounts;
- every terminal's stored records form an unbroken, correctly signed chain
  from seq 1 up to the head the terminal row records.
It reads only; nothing is repaired automatically.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import Connection, func, select

from floreyn import keys
from floreyn.errors import FloreynError
from floreyn.server import ledger
from floreyn.server import schema as s
from floreyn.server.db import Database
from floreyn.sync.record import ChainHead, decode, verify_next

PAGE = 5000
MAX_LISTED = 100  # problems listed in full; the counts are always complete


@dataclass
class ReplayReport:
    accounts: int = 0
    postings: int = 0
    records: int = 0
    balance_mismatches: list[dict[str, object]] = field(default_factory=list)
    unbalanced_txs: list[dict[str, object]] = field(default_factory=list)
    currency_mismatches: list[dict[str, object]] = field(default_factory=list)
    currency_totals: dict[str, int] = field(default_factory=dict)
    chain_errors: list[dict[str, object]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.balance_mismatches or self.unbalanced_txs or self.currency_mismatches or self.chain_errors
                    or any(self.currency_totals.values()))

    def to_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "accounts": self.accounts, "postings": self.postings, "records": self.records,
                "balance_mismatches": self.balance_mismatches[:MAX_LISTED],
                "unbalanced_txs": self.unbalanced_txs[:MAX_LISTED],
                "currency_mismatches": self.currency_mismatches[:MAX_LISTED],
                "currency_totals": self.currency_totals, "chain_errors": self.chain_errors[:MAX_LISTED]}


def replay(db: Database, *, records: bool = True) -> ReplayReport:
    report = ReplayReport()
    db.read(lambda conn: _ledger(conn, report), snapshot=True)
    if records:
        db.read(lambda conn: _chains(conn, report), snapshot=True)
    return report


def _ledger(conn: Connection, report: ReplayReport) -> None:
    recomputed = dict(conn.execute(select(s.postings.c.account, func.sum(s.postings.c.amount_cents))
                                   .group_by(s.postings.c.account)).tuples().all())
    report.postings = conn.execute(select(func.count()).select_from(s.postings)).scalar_one()
    totals: dict[str, int] = defaultdict(int)
    for key, currency, stored in conn.execute(select(s.accounts.c.key, s.accounts.c.currency,
                                                     s.accounts.c.balance_cents)):
        report.accounts += 1
        totals[currency] += stored
        summed = int(recomputed.pop(key, 0))
        if summed != stored:
            report.balance_mismatches.append({"account": key, "stored_cents": stored, "recomputed_cents": summed})
    for key, summed in recomputed.items():  # postings on an account that has no row
        report.balance_mismatches.append({"account": key, "stored_cents": None, "recomputed_cents": int(summed)})
    report.currency_totals = dict(totals)
    unbalanced = conn.execute(select(s.postings.c.tx_id, s.postings.c.currency, func.sum(s.postings.c.amount_cents))
                              .group_by(s.postings.c.tx_id, s.postings.c.currency)
                              .having(func.sum(s.postings.c.amount_cents) != 0).limit(MAX_LISTED))
    report.unbalanced_txs = [{"tx_id": t, "currency": c, "sum_cents": int(v)} for t, c, v in unbalanced]
    wrong = conn.execute(select(s.postings.c.id, s.postings.c.account, s.postings.c.currency)
                         .join(s.accounts, s.accounts.c.key == s.postings.c.account)
                         .where(s.accounts.c.currency != s.postings.c.currency).limit(MAX_LISTED))
    report.currency_mismatches = [{"posting_id": i, "account": a, "currency": c} for i, a, c in wrong]
    for key in list(recomputed):
        try:
            ledger.account_kind(key)
        except ValueError:
            report.currency_mismatches.append({"account": key, "problem": "not an account key"})


def _chains(conn: Connection, report: ReplayReport) -> None:
    for term in conn.execute(select(s.terminals).order_by(s.terminals.c.terminal_id)).all():
        public = keys.public_from_raw(bytes(term.public_key))
        head, after = ChainHead(), 0
        try:
            while True:
                raws = conn.execute(select(s.records.c.seq, s.records.c.raw, s.records.c.hash).where(
                    s.records.c.terminal_id == term.terminal_id, s.records.c.seq > after)
                    .order_by(s.records.c.seq).limit(PAGE)).all()
                if not raws:
                    break
                for seq, raw, stored_hash in raws:
                    signed = decode(bytes(raw))
                    head = verify_next(head, signed, public)
                    if signed.hash != bytes(stored_hash) or signed.record.seq != seq:
                        raise ValueError(f"stored hash or seq of record {seq} does not match its bytes")
                    report.records += 1
                after = raws[-1][0]
        except (FloreynError, ValueError) as exc:
            report.chain_errors.append({"terminal_id": term.terminal_id, "after_seq": head.seq, "error": str(exc)})
            continue
        if (head.seq, head.hash) != (term.head_seq, bytes(term.head_hash)):
            report.chain_errors.append({"terminal_id": term.terminal_id, "after_seq": head.seq,
                                        "error": f"records end at {head.seq}, terminal head says {term.head_seq}"})
