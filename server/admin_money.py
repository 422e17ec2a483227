"""Money moved at the cooperative's desk: top-up, cash-out, remit; budget grants and expiry; corrections.

Each runs inside the caller's write transaction, locks the balance rows it
checks (PostgreSQL: SELECT ... FOR UPDATE; SQLite: the write lock) and
posts one balanced transaction, or refuses and changes nothing.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Final

from sqlalchemy import Connection, select, update

from floreyn.money import Money, format_money
from floreyn.server import admin_categories, entries, ledger, state
from floreyn.server import schema as s
from floreyn.server.errors import ExistsWithDifferentParams, InsufficientFunds, NotFound, RequestInvalid, StateRefused
from floreyn.server.rates import rate_in_force

MAX_GRANT_BUDGETS: Final = 1000
MAX_EXPIRE_PER_CALL: Final = 1000


def _locked_balance(conn: Connection, key: str, now: int) -> Money:
    ledger.ensure_accounts(conn, [key], now)
    cents = conn.execute(select(s.accounts.c.balance_cents).where(s.accounts.c.key == key)
                         .with_for_update()).scalar_one()
    return Money(cents, ledger.account_kind(key)[1])


def _exists(conn: Connection, table, col: str, key: str, what: str):
    row = conn.execute(select(table).where(table.c[col] == key)).first()
    if row is None:
        raise NotFound(what=what, id=key)
    return row


def _tx_id() -> str:
    return str(uuid.uuid4())


def topup(conn: Connection, *, member_id: str | None, funder_id: str | None, eur_cents: int, request_id: str,
          now: int, merchant_id: str | None = None) -> dict[str, object]:
    """Euros in at the desk, Floreyn out at the ask rate, to a member's wallet, a funder's account, or a
    merchant's account (a merchant that granted more savings than it received buys the Floreyn it owes)."""
    if [member_id, funder_id, merchant_id].count(None) != 2:
        raise RequestInvalid(detail="give exactly one of member_id, funder_id and merchant_id")
    if member_id is not None:
        m = _exists(conn, s.members, "member_id", member_id, "member")
        if m.erased_ms is not None:
            raise StateRefused(detail=f"member {member_id} was erased")
        holder = ledger.member_acct(member_id)
    elif funder_id is not None:
        _exists(conn, s.funders, "funder_id", funder_id, "funder")
        holder = ledger.funder_acct(funder_id)
    else:
        assert merchant_id is not None
        _exists(conn, s.merchants, "merchant_id", merchant_id, "merchant")
        holder = ledger.merchant_acct(merchant_id)
    rates = rate_in_force(conn, now)
    fl = rates.topup_fl_for_eur(Money.eur(eur_cents))
    if fl.cents == 0:
        raise RequestInvalid(detail="amount too small to buy one cent of Floreyn")
    tx = entries.desk_topup(_tx_id(), holder, Money.eur(eur_cents), rates, now, request_id, merchant_id=merchant_id)
    ledger.post(conn, [tx])
    if member_id is not None:
        state.touch_members(conn, state.bump_version(conn), [member_id])
    return {"tx_id": tx.tx_id, "account": holder, "eur_cents": eur_cents, "fl_cents": fl.cents,
            "ask_bp": rates.ask_bp, "balance_cents": ledger.balance(conn, holder).cents}


def cashout(conn: Connection, *, merchant_id: str, fl_cents: int, request_id: str, now: int,
            to_bank: bool = False) -> dict[str, object]:
    """A merchant's or freelancer's Floreyn in, euros out at the bid rate; the spread is income.

    `to_bank`: the euros go to the merchant's IBAN in the next bank batch (settlement.py): they wait on
    its clearing account and count as paid only when the batch is confirmed."""
    m = _exists(conn, s.merchants, "merchant_id", merchant_id, "merchant")
    if to_bank and not m.iban:
        raise StateRefused(detail=f"merchant {merchant_id} has no IBAN; pay in cash or add one")
    fl = Money.fl(fl_cents)
    held = _locked_balance(conn, ledger.merchant_acct(merchant_id), now)
    if held < fl:
        raise InsufficientFunds(available=format_money(held), wanted=format_money(fl))
    rates = rate_in_force(conn, now)
    tx = entries.desk_cashout(_tx_id(), merchant_id, fl, rates, now, request_id, to_bank=to_bank)
    ledger.post(conn, [tx])
    paid, income = entries.cashout_amounts(fl, rates)
    if to_bank:
        conn.execute(s.payout_lines.insert().values(
            batch_id=None, merchant_id=merchant_id, method="transfer", eur_cents=paid.cents, iban=m.iban,
            account_holder=m.account_holder, reference=f"Floreyn uitbetaling {tx.tx_id[:8]}", source_tx_id=tx.tx_id,
            created_ms=now))
    return {"tx_id": tx.tx_id, "merchant_id": merchant_id, "fl_cents": fl_cents, "eur_paid_cents": paid.cents,
            "income_cents": income.cents, "bid_bp": rates.bid_bp, "to_bank": to_bank,
            "balance_cents": ledger.balance(conn, ledger.merchant_acct(merchant_id)).cents}


def remit(conn: Connection, *, merchant_id: str, eur_cents: int, request_id: str, now: int) -> dict[str, object]:
    """A merchant hands in the euros it took for top-ups at its till."""
    _exists(conn, s.merchants, "merchant_id", merchant_id, "merchant")
    owed = _locked_balance(conn, ledger.merchant_eur_acct(merchant_id), now)
    eur = Money.eur(eur_cents)
    if eur > owed:
        raise StateRefused(detail=f"the merchant owes {format_money(owed)}, not {format_money(eur)}")
    tx = entries.remit(_tx_id(), merchant_id, eur, now, request_id)
    ledger.post(conn, [tx])
    return {"tx_id": tx.tx_id, "merchant_id": merchant_id, "eur_cents": eur_cents,
            "eur_owed_cents": (owed - eur).cents}


def grant(conn: Connection, *, funder_id: str, budgets: list[dict[str, Any]], request_id: str, now: int
          ) -> dict[str, object]:
    """Bulk grant: the funder's Floreyn into new labeled budgets, one balanced transaction."""
    if not 1 <= len(budgets) <= MAX_GRANT_BUDGETS:
        raise RequestInvalid(detail=f"grant 1 to {MAX_GRANT_BUDGETS} budgets at a time")
    _exists(conn, s.funders, "funder_id", funder_id, "funder")
    ids = [b["budget_id"] for b in budgets]
    if len(set(ids)) != len(ids):
        raise RequestInvalid(detail="a budget id appears twice")
    admin_categories.require_known(conn, {c for b in budgets for c in b["categories"]})
    taken = set(conn.execute(select(s.budgets.c.budget_id).where(s.budgets.c.budget_id.in_(ids))).scalars())
    if taken:
        raise ExistsWithDifferentParams(what="budget", id=sorted(taken)[0])
    owners: set[str] = set()
    for b in budgets:
        if (b.get("member_id") is None) == (b.get("group_id") is None):
            raise RequestInvalid(detail=f"budget {b['budget_id']}: give exactly one of member_id and group_id")
        if b.get("member_id"):
            _exists(conn, s.members, "member_id", b["member_id"], "member")
            owners.add(b["member_id"])
        else:
            _exists(conn, s.member_groups, "group_id", b["group_id"], "group")
            owners.update(conn.execute(select(s.group_members.c.member_id)
                                       .where(s.group_members.c.group_id == b["group_id"])).scalars())
    total = Money.fl(sum(b["amount_cents"] for b in budgets))
    held = _locked_balance(conn, ledger.funder_acct(funder_id), now)
    if held < total:
        raise InsufficientFunds(available=format_money(held), wanted=format_money(total))
    conn.execute(s.budgets.insert(), [{
        "budget_id": b["budget_id"], "funder_id": funder_id, "owner_member_id": b.get("member_id"),
        "owner_group_id": b.get("group_id"), "label": b["label"], "categories": json.dumps(sorted(b["categories"])),
        "expires_on": b["expires_on"], "status": "active", "granted_ms": now,
        "member_cap_cents": b.get("member_cap_cents"), "confirm_above_cents": b.get("confirm_above_cents"),
        "keep_share_bp": b.get("keep_share_bp") or 0} for b in budgets])
    tx = entries.grant(_tx_id(), funder_id, [(b["budget_id"], Money.fl(b["amount_cents"])) for b in budgets],
                       now, request_id)
    ledger.post(conn, [tx])
    state.touch_members(conn, state.bump_version(conn), owners)
    return {"tx_id": tx.tx_id, "funder_id": funder_id, "budgets": ids, "total_cents": total.cents}


def expire(conn: Connection, *, as_of: str | None, budget_ids: list[str] | None, request_id: str, now: int
           ) -> dict[str, object]:
    """Expire budgets whose last day is before `as_of` (default today), or the ones named; the rest goes
    back to the funder. A budget overspent below zero expires with nothing to return (it stays flagged)."""
    q = select(s.budgets).where(s.budgets.c.status == "active")
    if budget_ids:
        q = q.where(s.budgets.c.budget_id.in_(budget_ids))
    else:
        q = q.where(s.budgets.c.expires_on < (as_of or state.local_date(now).isoformat()))
    due = conn.execute(q.order_by(s.budgets.c.budget_id).limit(MAX_EXPIRE_PER_CALL + 1)).all()
    more = len(due) > MAX_EXPIRE_PER_CALL
    due = due[:MAX_EXPIRE_PER_CALL]
    returned, txs, owners = [], [], set()
    for b in due:
        rest = _locked_balance(conn, ledger.budget_acct(b.budget_id), now)
        holders = [b.owner_member_id] if b.owner_member_id else sorted(conn.execute(
            select(s.group_members.c.member_id).where(s.group_members.c.group_id == b.owner_group_id)).scalars())
        kept = entries.kept_shares(rest, b.keep_share_bp, holders)
        if rest.cents > 0:
            txs.append(entries.expiry(_tx_id(), b.budget_id, b.funder_id, rest, now, request_id, kept))
        kept_cents = sum(k.cents for _, k in kept)
        line = {"budget_id": b.budget_id, "funder_id": b.funder_id, "returned_cents": max(rest.cents, 0) - kept_cents}
        if kept:
            line |= {"kept_cents": kept_cents, "kept_by": {acct.split(":", 1)[1]: k.cents for acct, k in kept}}
        returned.append(line)
        owners.update(holders)
    ledger.post(conn, txs)
    if due:
        conn.execute(update(s.budgets).where(s.budgets.c.budget_id.in_([b.budget_id for b in due]))
                     .values(status="expired"))
        state.touch_members(conn, state.bump_version(conn), owners)
    return {"expired": returned, "more": more}


def budget_dict(conn: Connection, b) -> dict[str, object]:
    return {"budget_id": b.budget_id, "funder_id": b.funder_id, "member_id": b.owner_member_id,
            "group_id": b.owner_group_id, "label": b.label, "categories": json.loads(b.categories),
            "expires_on": b.expires_on, "status": b.status, "member_cap_cents": b.member_cap_cents,
            "confirm_above_cents": b.confirm_above_cents, "keep_share_bp": b.keep_share_bp,
            "remaining_cents": ledger.balance(conn, ledger.budget_acct(b.budget_id)).cents}


def reverse(conn: Connection, *, tx_id: str, reason: str, request_id: str, now: int) -> dict[str, object]:
    """A correction: a new transaction with the original's postings negated (once per transaction)."""
    original = conn.execute(select(s.transactions).where(s.transactions.c.tx_id == tx_id)).first()
    if original is None:
        raise NotFound(what="transaction", id=tx_id)
    if conn.execute(select(s.transactions.c.tx_id).where(s.transactions.c.reverses == tx_id)).first():
        raise StateRefused(detail=f"transaction {tx_id} was already reversed")
    postings = ledger.tx_postings(conn, [tx_id])[tx_id]
    tx = entries.reversal(_tx_id(), ledger.TxKind.REVERSAL, tx_id, postings, now, request_id=request_id,
                          memo=reason, merchant_id=original.merchant_id, card_id=original.card_id)
    ledger.post(conn, [tx])
    members = [p.account.split(":", 1)[1] for p in postings if p.account.startswith("member:")]
    if members:
        state.touch_members(conn, state.bump_version(conn), members)
    return {"tx_id": tx.tx_id, "reverses": tx_id,
            "postings": [{"account": p.account, "currency": p.amount.currency.value, "amount_cents": p.amount.cents}
                         for p in tx.postings]}
