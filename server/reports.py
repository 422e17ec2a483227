"""Reports for the treasurer, the auditor and the merchants.

Reports sum postings over a period (that is what a report is); balances
themselves are never sums over history (see ledger.balance). The bookkeeping
CSV itself is server/export.py.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Final

from sqlalchemy import Connection, func, select

from floreyn.money import Money
from floreyn.server import disputes, ledger, reinstate, rules, state
from floreyn.server import schema as s
from floreyn.server.errors import NotFound, RequestInvalid
from floreyn.server.rates import rate_in_force


FIRST_REPORT_DATE: Final = dt.date(2000, 1, 1)
LAST_REPORT_DATE: Final = dt.date(2999, 12, 31)  # the day after must still be a date, in ms within BIGINT


def period(from_date: str, to_date: str) -> tuple[int, int]:
    """[start, end) in ms for whole days in Amersfoort, both dates inclusive."""
    try:
        start, end = dt.date.fromisoformat(from_date), dt.date.fromisoformat(to_date)
    except ValueError:
        raise RequestInvalid(detail="dates are YYYY-MM-DD") from None
    for day in (start, end):
        if not FIRST_REPORT_DATE <= day <= LAST_REPORT_DATE:
            raise RequestInvalid(detail=f"dates run from {FIRST_REPORT_DATE} to {LAST_REPORT_DATE}")
    if end < start:
        raise RequestInvalid(detail="the period must not end before it starts")
    return state.day_start_ms(start), state.day_start_ms(end + dt.timedelta(days=1))


def _sum(conn: Connection, account: str, *where) -> int:
    return int(conn.execute(select(func.coalesce(func.sum(s.postings.c.amount_cents), 0))
                            .where(s.postings.c.account == account, *where)).scalar_one())


def _by_kind(conn: Connection, account: str, start: int, end: int) -> dict[str, int]:
    rows = conn.execute(select(s.postings.c.kind, func.sum(s.postings.c.amount_cents))
                        .where(s.postings.c.account == account, s.postings.c.created_ms >= start,
                               s.postings.c.created_ms < end).group_by(s.postings.c.kind))
    return {k: int(v) for k, v in rows}


_NAMED_FL_KINDS: Final = frozenset({"spend", "refund", "save", "void", "reversal", "cashout", "payment", "topup",
                                    "pot_in", "pot_pay", "settle", "dispute"})


def settlement(conn: Connection, merchant_id: str, from_date: str, to_date: str) -> dict[str, Any]:
    """A merchant's statement: Floreyn received and paid, save cost, cash-outs, euros owed either way."""
    start, end = period(from_date, to_date)
    if conn.execute(select(s.merchants.c.merchant_id).where(s.merchants.c.merchant_id == merchant_id)).first() is None:
        raise NotFound(what="merchant", id=merchant_id)
    fl_acct, eur_acct = ledger.merchant_acct(merchant_id), ledger.merchant_eur_acct(merchant_id)
    fl = _by_kind(conn, fl_acct, start, end)
    eur = _by_kind(conn, eur_acct, start, end)
    fl_open = _sum(conn, fl_acct, s.postings.c.created_ms < start)
    eur_open = _sum(conn, eur_acct, s.postings.c.created_ms < start)
    cashout_txs = select(s.transactions.c.tx_id).where(
        s.transactions.c.merchant_id == merchant_id, s.transactions.c.kind == "cashout",
        s.transactions.c.created_ms >= start, s.transactions.c.created_ms < end)
    paid = _sum(conn, ledger.WORLD, s.postings.c.tx_id.in_(cashout_txs))
    fl_close = fl_open + sum(fl.values())
    eur_close = eur_open + sum(eur.values())
    rates = rate_in_force(conn, end - 1)
    coop_owes = rates.cashout_eur_for_fl(Money.fl(max(fl_close, 0))).cents
    merchant_owes = eur_close + rates.topup_eur_for_fl(Money.fl(max(-fl_close, 0))).cents
    return {
        "merchant_id": merchant_id, "from": from_date, "to": to_date,
        "fl": {"opening_cents": fl_open, "received_cents": fl.get("spend", 0), "refunded_cents": -fl.get("refund", 0),
               "save_cost_cents": -fl.get("save", 0), "voids_cents": fl.get("void", 0),
               "corrections_cents": fl.get("reversal", 0), "cashed_out_cents": -fl.get("cashout", 0),
               "payments_cents": fl.get("payment", 0), "bought_cents": fl.get("topup", 0),
               "campaign_pot_cents": fl.get("pot_in", 0) + fl.get("pot_pay", 0),
               "settled_cents": fl.get("settle", 0), "disputes_cents": fl.get("dispute", 0),
               "other_cents": sum(v for k, v in fl.items() if k not in _NAMED_FL_KINDS),
               "closing_cents": fl_close},
        "eur": {"opening_owed_cents": eur_open, "topups_taken_cents": eur.get("topup", 0),
                "remitted_cents": -eur.get("remit", 0), "voids_cents": eur.get("void", 0),
                "corrections_cents": eur.get("reversal", 0), "cashout_paid_cents": paid,
                "closing_owed_cents": eur_close},
        "settlement": {"coop_owes_merchant_eur_cents": coop_owes, "merchant_owes_coop_eur_cents": merchant_owes,
                       "net_eur_cents": coop_owes - merchant_owes,
                       "note": "net > 0: the cooperative pays the merchant (cash-out at bid); "
                               "net < 0: the merchant pays the cooperative (negative fl at ask, top-up euros)"},
        "rates": {"ask_bp": rates.ask_bp, "bid_bp": rates.bid_bp},
    }


def circulation(conn: Connection) -> dict[str, Any]:
    """Floreyn in circulation against the euro reserve."""
    rows = conn.execute(select(s.accounts.c.kind, s.accounts.c.currency, func.sum(s.accounts.c.balance_cents))
                        .group_by(s.accounts.c.kind, s.accounts.c.currency)).all()
    totals = {(k, c): int(v) for k, c, v in rows}
    negatives = dict(conn.execute(select(s.accounts.c.kind, func.sum(s.accounts.c.balance_cents))
                                  .where(s.accounts.c.balance_cents < 0, s.accounts.c.currency == "fl",
                                         s.accounts.c.kind != "coop")
                                  .group_by(s.accounts.c.kind)).tuples().all())
    fl_holders = {k: v for (k, c), v in totals.items() if c == "fl" and k != "coop"}
    issued = -totals.get(("coop", "fl"), 0)
    assert sum(fl_holders.values()) == issued, "fl balances sum to zero"
    # Parked excess (server/rules.py) is frozen: nobody can spend or cash it out until an admin decides,
    # so it is not held against the reserve.
    in_dispute = fl_holders.get("dispute", 0) - int(negatives.get("dispute", 0))
    positive = sum(fl_holders.values()) - sum(int(v) for v in negatives.values()) - in_dispute
    rates = state.get_settings(conn).rates
    reserve = ledger.balance(conn, ledger.RESERVE).cents
    receivable = totals.get(("merchant_eur", "EUR"), 0)
    bid_value = rates.cashout_eur_for_fl(Money.fl(positive)).cents
    return {
        "fl_issued_cents": issued, "fl_held_cents": positive, "fl_in_dispute_cents": in_dispute,
        "fl_held_counts": "positive balances only; below-zero balances are in fl_negative_by_holder_cents",
        "fl_by_holder_cents": dict(sorted(fl_holders.items())),
        "fl_negative_by_holder_cents": {k: int(v) for k, v in sorted(negatives.items())},
        "eur_reserve_cents": reserve, "eur_income_cents": ledger.balance(conn, ledger.INCOME).cents,
        "eur_owed_by_merchants_cents": receivable, "eur_bid_value_of_held_cents": bid_value,
        "eur_coverage_cents": reserve + receivable - bid_value, "rates": {"ask_bp": rates.ask_bp,
                                                                          "bid_bp": rates.bid_bp},
    }


def overspend(conn: Connection) -> dict[str, Any]:
    """Cards flagged for offline overspend, every wallet or budget below zero, open disputes, violations by rule."""
    flagged = conn.execute(select(s.cards).where(s.cards.c.flagged_ms.is_not(None)).order_by(s.cards.c.flagged_ms))
    cards = []
    for c in flagged:
        cards.append({"card_id": c.card_id, "member_id": c.member_id, "status": c.status,
                      "blocked_reason": c.blocked_reason, "flagged_ms": c.flagged_ms,
                      "balance_cents": ledger.balance(conn, ledger.member_acct(c.member_id)).cents})
    negative = conn.execute(select(s.accounts.c.key, s.accounts.c.balance_cents).where(
        s.accounts.c.balance_cents < 0, s.accounts.c.kind.in_(["member", "budget", "card"]))
        .order_by(s.accounts.c.balance_cents).limit(10_000))
    open_disputes = conn.execute(select(s.disputes).where(s.disputes.c.status == "open")
                                 .order_by(s.disputes.c.created_ms).limit(10_000))
    rule_names = [r.name for r in rules.ALL_RULES]
    violations = dict(conn.execute(select(s.alerts.c.kind, func.count()).where(s.alerts.c.kind.in_(rule_names))
                                   .group_by(s.alerts.c.kind)).tuples().all())
    return {"cards": cards, "negative_accounts": [{"account": k, "balance_cents": b} for k, b in negative],
            "open_disputes": [disputes.dispute_dict(d) for d in open_disputes],
            "rule_violations": {k: int(v) for k, v in sorted(violations.items())},
            "blocked": reinstate.overspend_cards(conn)}


def account_view(conn: Connection, key: str, after_id: int, limit: int) -> dict[str, Any]:
    try:
        ledger.account_kind(key)
    except ValueError:
        raise NotFound(what="account", id=key) from None
    row = conn.execute(select(s.accounts).where(s.accounts.c.key == key)).first()
    if row is None:
        raise NotFound(what="account", id=key)
    postings = conn.execute(select(s.postings).where(s.postings.c.account == key, s.postings.c.id > after_id)
                            .order_by(s.postings.c.id).limit(limit))
    return {"account": key, "kind": row.kind, "currency": row.currency, "balance_cents": row.balance_cents,
            "postings": [{"id": p.id, "tx_id": p.tx_id, "kind": p.kind, "amount_cents": p.amount_cents,
                          "created_ms": p.created_ms} for p in postings]}


def transaction_view(conn: Connection, tx_id: str) -> dict[str, Any]:
    tx = conn.execute(select(s.transactions).where(s.transactions.c.tx_id == tx_id)).first()
    if tx is None:
        raise NotFound(what="transaction", id=tx_id)
    postings = ledger.tx_postings(conn, [tx_id]).get(tx_id, [])
    reversed_by = conn.execute(select(s.transactions.c.tx_id).where(s.transactions.c.reverses == tx_id)).scalar()
    return {**dict(tx._mapping), "reversed_by": reversed_by,
            "postings": [{"account": p.account, "currency": p.amount.currency.value,
                          "amount_cents": p.amount.cents} for p in postings]}


def listing(conn: Connection, table, after_id: int, limit: int, **filters: Any) -> list[dict[str, Any]]:
    q = select(table).where(table.c.id > after_id)
    for col, value in filters.items():
        if value is not None:
            q = q.where(table.c[col] == value)
    out = []
    for row in conn.execute(q.order_by(table.c.id).limit(limit)):
        item = dict(row._mapping)
        item["detail"] = json.loads(item["detail"])
        out.append(item)
    return out
