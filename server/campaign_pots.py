"""Joint campaigns with a pot: participating merchants pay in Floreyn; the pot pays, while it lasts, the
saving extra of the campaign (what its multiplier adds above the merchant's own rate, given back to the
merchant that granted it) and a redeeming bonus (redeem_bonus_bp of a spend, to the payer's wallet), at every
participating till. The server books both when the till's records arrive, so every till takes part without
knowing the pot.

When the pot runs dry:
- the server pays nothing more from it; a saving extra granted after that stays the merchant's own cost,
  as with a campaign without a pot, and no bonus is booked;
- tills learn the pot's balance in each snapshot (Campaign.pot_left_cents) and stop applying the campaign
  when it is 0 (floreyn.sync.rules.best_campaign). A till offline with an older snapshot keeps applying it
  until its snapshot is too old (OfflineLimits.max_snapshot_age_s, 24 h): the most a merchant can grant
  beyond the pot is its campaign extra on the saves it makes in that time; the pot itself never goes below
  zero (payouts are capped at its balance, under the write lock).
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Sequence

from sqlalchemy import Connection, func, select

from floreyn.money import Money, format_money, save_reward
from floreyn.server import bulk, ledger, state
from floreyn.server import schema as s
from floreyn.server.errors import InsufficientFunds, NotFound, StateRefused
from floreyn.server.rows import TableRow
from floreyn.sync.record import Kind, TxRecord


def _campaign(conn: Connection, campaign_id: str) -> TableRow:
    c = conn.execute(select(s.campaigns).where(s.campaigns.c.campaign_id == campaign_id)).first()
    if c is None:
        raise NotFound(what="campaign", id=campaign_id)
    return c


def _participates(c: TableRow, merchant_id: str) -> bool:
    merchants = json.loads(c.merchant_ids)
    return not merchants or merchant_id in merchants


def _locked(conn: Connection, key: str, now: int) -> int:
    ledger.ensure_accounts(conn, [key], now)
    return int(conn.execute(select(s.accounts.c.balance_cents).where(s.accounts.c.key == key)
                            .with_for_update()).scalar_one())


def pay_in(conn: Connection, *, campaign_id: str, merchant_id: str, fl_cents: int, request_id: str,
           now: int) -> dict[str, object]:
    c = _campaign(conn, campaign_id)
    if not c.pot:
        raise StateRefused(detail=f"campaign {campaign_id} has no pot")
    if not _participates(c, merchant_id):
        raise StateRefused(detail=f"merchant {merchant_id} does not take part in {campaign_id}")
    held = _locked(conn, ledger.merchant_acct(merchant_id), now)
    if held < fl_cents:
        raise InsufficientFunds(available=format_money(Money.fl(held)), wanted=format_money(Money.fl(fl_cents)))
    tx = ledger.LedgerTx(str(uuid.uuid4()), ledger.TxKind.POT_IN, ledger.legs(
        (ledger.merchant_acct(merchant_id), Money.fl(-fl_cents)), (ledger.pot_acct(campaign_id), Money.fl(fl_cents))),
        now, merchant_id=merchant_id, request_id=request_id, memo=f"pot {campaign_id}")
    ledger.post(conn, [tx])
    state.bump_version(conn)  # tills see the pot's balance
    return {"tx_id": tx.tx_id, "campaign_id": campaign_id, "merchant_id": merchant_id, "fl_cents": fl_cents,
            "pot_cents": ledger.balance(conn, ledger.pot_acct(campaign_id)).cents}


# Every upload with a save or spend asks: straight to the driver (bulk.run). TRUE: SQLite knows it since 3.23.
_ACTIVE_POTS = (f"SELECT campaign_id, merchant_ids, redeem_bonus_bp FROM {s.campaigns.name}"
                " WHERE pot = TRUE AND starts_on <= {mark} AND ends_on >= {mark} ORDER BY campaign_id")


def active_pots(conn: Connection, merchant_id: str, today: str) -> list[TableRow]:
    """The pot campaigns paying at `merchant_id` on `today`: their id, merchants and redeem bonus."""
    rows = bulk.run(conn, _ACTIVE_POTS, (today, today)).all()
    return [c for c in rows if _participates(c, merchant_id)]


def after_batch(conn: Connection, merchant_id: str, save_rate_bp: int, posted: Sequence[tuple[TxRecord, Any]],
                now: int) -> set[str]:
    """Pay from the pots for the saves and spends just posted at `merchant_id`; returns the members paid.

    `posted`: each record with its posted transaction. One pot pays a record (the first active one with
    Floreyn left, by campaign id); what the pot lacks, it does not pay."""
    pots = active_pots(conn, merchant_id, state.local_date(now).isoformat())
    if not pots:
        return set()
    left = {c.campaign_id: _locked(conn, ledger.pot_acct(c.campaign_id), now) for c in pots}
    txs, members = [], set()
    for rec, tx in posted:
        wallet = next((p.account for p in tx.postings if p.account.startswith(("member:", "card:"))), None)
        for c in pots:
            if left[c.campaign_id] <= 0:
                continue
            if rec.kind is Kind.SAVE:
                base = save_reward(Money.eur(rec.eur_cents), save_rate_bp).cents
                given = sum(p.amount.cents for p in tx.postings if p.account == ledger.merchant_acct(merchant_id))
                want, to = max(0, -given - base), ledger.merchant_acct(merchant_id)
            elif rec.kind is Kind.SPEND and c.redeem_bonus_bp and wallet is not None:
                paid = sum(p.amount.cents for p in tx.postings if p.account == ledger.merchant_acct(merchant_id))
                want, to = paid * c.redeem_bonus_bp // 10_000, wallet
            else:
                continue
            pay = min(want, left[c.campaign_id])
            if pay > 0:
                left[c.campaign_id] -= pay
                txs.append(ledger.LedgerTx(str(uuid.uuid4()), ledger.TxKind.POT_PAY, ledger.legs(
                    (ledger.pot_acct(c.campaign_id), Money.fl(-pay)), (to, Money.fl(pay))), now,
                    merchant_id=merchant_id, terminal_id=rec.terminal_id, card_id=rec.card_id.hex() if rec.card_id
                    else None, memo=f"pot {c.campaign_id} {'extra' if rec.kind is Kind.SAVE else 'bonus'} "
                                    f"for {rec.record_id}"))
                if to.startswith("member:"):
                    members.add(to.split(":", 1)[1])
            break
    ledger.post(conn, txs)
    return members


def pot_left(conn: Connection, campaign_id: str) -> int:
    return ledger.balance(conn, ledger.pot_acct(campaign_id)).cents


def report(conn: Connection, campaign_id: str) -> dict[str, object]:
    """What each merchant put in, and what its customers (and it, for saving extras) got from the pot."""
    c = _campaign(conn, campaign_id)
    acct = ledger.pot_acct(campaign_id)
    rows = conn.execute(select(s.transactions.c.merchant_id, s.postings.c.kind, func.sum(s.postings.c.amount_cents))
                        .select_from(s.postings.join(s.transactions, s.transactions.c.tx_id == s.postings.c.tx_id))
                        .where(s.postings.c.account == acct)
                        .group_by(s.transactions.c.merchant_id, s.postings.c.kind)).all()
    per: dict[str, dict[str, int]] = {}
    for merchant, kind, cents in rows:
        line = per.setdefault(merchant or "", {"paid_in_cents": 0, "paid_out_cents": 0})
        if kind == ledger.TxKind.POT_IN.value:
            line["paid_in_cents"] += int(cents)
        else:
            line["paid_out_cents"] += -int(cents)
    total_in = sum(v["paid_in_cents"] for v in per.values())
    total_out = sum(v["paid_out_cents"] for v in per.values())
    assert total_in - total_out == pot_left(conn, campaign_id), "the report adds up to the pot's balance"
    return {"campaign_id": campaign_id, "name": c.name, "multiplier_bp": c.multiplier_bp,
            "redeem_bonus_bp": c.redeem_bonus_bp, "pot_cents": pot_left(conn, campaign_id),
            "paid_in_cents": total_in, "paid_out_cents": total_out,
            "merchants": [{"merchant_id": m, **v} for m, v in sorted(per.items())]}
