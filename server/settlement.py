"""Merchant settlement in both directions, per calendar month, and the bank batch that pays or collects it.

The rule (written once, here; statements quote it):

  For each merchant, at the period's cut (the first moment of the next month, Amersfoort time):
    handed_in  = its Floreyn at the cut above what it keeps for re-spending (merchants.keep_fl_cents),
                 never more than it still holds when the run is made
    bought     = its Floreyn below zero at the cut (it granted more savings or paid more campaign shares
                 than it received): the merchant buys them at the ASK rate
    till_eur   = the euros of top-ups taken at its till and not yet handed in (at the cut, at most now)
    paid       = floor(handed_in x bid)         euros the cooperative pays for Floreyn handed in (BID rate)
    owed       = ceil(bought x ask) + till_eur  euros the merchant owes
    net        = paid - owed                    > 0: the cooperative pays it by bank transfer (or cash at
                                                the desk without an IBAN); < 0: the merchant pays, by SEPA
                                                direct debit with a mandate, else on an invoice
  Rates are the ones in force at the last moment of the period (rates.rate_in_force).

Booking (entries.settle) happens in the run; the euros wait on the merchant's
clearing account and count as paid or received only when the treasurer
confirms the batch (`settle confirm BATCH`). Desk cash-outs to the bank wait
the same way and go into the next run's batch.

A period is closed once: its settlement is never rewritten. Postings carry
the moment the server booked them, so a till record for November that
arrives after the cut is booked in December and settled with December.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import asdict, dataclass
from typing import Final

from sqlalchemy import Connection, func, select, update

from floreyn.money import Currency, ExchangeRates, Money
from floreyn.server import entries, ledger, state
from floreyn.server import schema as s
from floreyn.server.errors import NotFound, RequestInvalid, StateRefused
from floreyn.server.rates import rate_in_force
from floreyn.server.rows import TableRow

MAX_MERCHANTS_PER_RUN: Final = 5_000  # one run settles every merchant in one transaction; far above a neighbourhood
RULE: Final = ("net = floor(handed_in x bid) - ceil(bought x ask) - till_eur; > 0 the cooperative pays, "
               "< 0 the merchant pays; rates in force at the end of the period")


@dataclass(frozen=True, slots=True)
class Components:
    """What one merchant settles for one period; every amount in cents (fl or euro as named)."""

    fl_at_cut_cents: int
    fl_now_cents: int
    keep_fl_cents: int
    handed_in_fl_cents: int
    bought_fl_cents: int
    till_eur_cents: int
    paid_eur_cents: int
    spread_eur_cents: int
    bought_eur_cents: int
    net_eur_cents: int
    ask_bp: int
    bid_bp: int


def components(*, fl_at_cut: int, fl_now: int, keep: int, eur_at_cut: int, eur_now: int,
               rates: ExchangeRates) -> Components:
    """The settlement rule (module docstring) as a pure function."""
    handed_in = max(0, min(fl_at_cut, fl_now) - keep)
    bought = max(0, -fl_at_cut)
    till = max(0, min(eur_at_cut, eur_now))
    paid, spread = entries.cashout_amounts(Money.fl(handed_in), rates)
    bought_eur = rates.topup_eur_for_fl(Money.fl(bought))
    net = paid.cents - bought_eur.cents - till
    return Components(fl_at_cut_cents=fl_at_cut, fl_now_cents=fl_now, keep_fl_cents=keep,
                      handed_in_fl_cents=handed_in, bought_fl_cents=bought, till_eur_cents=till,
                      paid_eur_cents=paid.cents, spread_eur_cents=spread.cents, bought_eur_cents=bought_eur.cents,
                      net_eur_cents=net, ask_bp=rates.ask_bp, bid_bp=rates.bid_bp)


def period_bounds(period: str) -> tuple[dt.date, dt.date, int, int]:
    """(first day, last day, start ms, cut ms) of 'YYYY-MM'."""
    try:
        first = dt.date.fromisoformat(period + "-01")
    except ValueError:
        raise RequestInvalid(detail="a period is YYYY-MM") from None
    if len(period) != 7:
        raise RequestInvalid(detail="a period is YYYY-MM")
    nxt = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first, nxt - dt.timedelta(days=1), state.day_start_ms(first), state.day_start_ms(nxt)


def _sum_before(conn: Connection, account: str, cut_ms: int) -> int:
    return int(conn.execute(select(func.coalesce(func.sum(s.postings.c.amount_cents), 0))
                            .where(s.postings.c.account == account, s.postings.c.created_ms < cut_ms)).scalar_one())


def _locked(conn: Connection, key: str, now: int) -> int:
    ledger.ensure_accounts(conn, [key], now)
    return int(conn.execute(select(s.accounts.c.balance_cents).where(s.accounts.c.key == key)
                            .with_for_update()).scalar_one())


def _method(m: TableRow, net: int) -> str:
    if net > 0:
        return "transfer" if m.iban else "cash"
    return "debit" if m.mandate_id and m.iban and m.mandate_signed_on else "invoice"


def run(conn: Connection, *, period: str, execution_date: str | None, request_id: str, now: int) -> dict[str, object]:
    """Settle every merchant for `period`, close it and open its bank batch (nothing is paid yet)."""
    first, last, _, cut = period_bounds(period)
    if now < cut:
        raise StateRefused(detail=f"period {period} is not over yet (it ends after {last.isoformat()})")
    if conn.execute(select(s.settlement_periods.c.period).where(s.settlement_periods.c.period == period)).first():
        raise StateRefused(detail=f"period {period} is already settled and closed")
    later = conn.execute(select(s.settlement_periods.c.period).where(s.settlement_periods.c.period > period)
                         .limit(1)).scalar()
    if later:
        raise StateRefused(detail=f"period {later} is already closed; settle periods in order")
    rates = rate_in_force(conn, cut - 1)
    merchants = conn.execute(select(s.merchants).order_by(s.merchants.c.merchant_id)
                             .limit(MAX_MERCHANTS_PER_RUN + 1)).all()
    if len(merchants) > MAX_MERCHANTS_PER_RUN:
        raise StateRefused(detail=f"more than {MAX_MERCHANTS_PER_RUN} merchants; split the run")
    batch_id = f"B-{period}"
    execution = execution_date or state.local_date(now).isoformat()
    conn.execute(s.payout_batches.insert().values(batch_id=batch_id, period=period, status="open", created_ms=now,
                                                  execution_date=execution))
    lines, txs = [], []
    for m in merchants:
        fl_key, eur_key = ledger.merchant_acct(m.merchant_id), ledger.merchant_eur_acct(m.merchant_id)
        c = components(fl_at_cut=_sum_before(conn, fl_key, cut), fl_now=_locked(conn, fl_key, now),
                       keep=m.keep_fl_cents, eur_at_cut=_sum_before(conn, eur_key, cut),
                       eur_now=_locked(conn, eur_key, now), rates=rates)
        tx = entries.settle(str(uuid.uuid4()), m.merchant_id, handed_in=Money.fl(c.handed_in_fl_cents),
                            bought=Money.fl(c.bought_fl_cents), till_eur=Money.eur(c.till_eur_cents), rates=rates,
                            now_ms=now, request_id=request_id, memo=f"settlement {period}")
        if tx is not None:
            txs.append(tx)
            assert ledger.currency_totals(tx.postings).get(Currency.EUR, 0) == 0
        detail = {**asdict(c), "kind": m.kind, "method": _method(m, c.net_eur_cents) if c.net_eur_cents else None}
        conn.execute(s.settlement_lines.insert().values(period=period, merchant_id=m.merchant_id,
                                                        tx_id=tx.tx_id if tx else None,
                                                        net_eur_cents=c.net_eur_cents, detail=json.dumps(detail)))
        if c.net_eur_cents != 0 and tx is not None:
            conn.execute(s.payout_lines.insert().values(
                batch_id=batch_id, merchant_id=m.merchant_id, method=detail["method"], eur_cents=c.net_eur_cents,
                iban=m.iban, account_holder=m.account_holder, reference=f"Floreyn {period} {m.merchant_id}"[:140],
                source_tx_id=tx.tx_id, created_ms=now))
        lines.append({"merchant_id": m.merchant_id, **detail})
    ledger.post(conn, txs)
    # Desk cash-outs to the bank since the last run travel in this batch too.
    conn.execute(update(s.payout_lines).where(s.payout_lines.c.batch_id.is_(None)).values(batch_id=batch_id))
    conn.execute(s.settlement_periods.insert().values(period=period, cut_ms=cut, run_ms=now, batch_id=batch_id))
    return {"period": period, "from": first.isoformat(), "to": last.isoformat(), "batch_id": batch_id,
            "rates": {"ask_bp": rates.ask_bp, "bid_bp": rates.bid_bp}, "rule": RULE, "merchants": lines,
            "batch": batch_view(conn, batch_id)}


def batch_view(conn: Connection, batch_id: str) -> dict[str, object]:
    b = conn.execute(select(s.payout_batches).where(s.payout_batches.c.batch_id == batch_id)).first()
    if b is None:
        raise NotFound(what="batch", id=batch_id)
    rows = conn.execute(select(s.payout_lines).where(s.payout_lines.c.batch_id == batch_id)
                        .order_by(s.payout_lines.c.id)).all()
    lines = [{"line_id": r.id, "merchant_id": r.merchant_id, "method": r.method, "eur_cents": r.eur_cents,
              "iban": r.iban, "account_holder": r.account_holder, "reference": r.reference,
              "source_tx_id": r.source_tx_id, "paid": r.paid_tx_id is not None} for r in rows]
    totals: dict[str, int] = {}
    for line in lines:
        totals[line["method"]] = totals.get(line["method"], 0) + line["eur_cents"]
    return {"batch_id": b.batch_id, "period": b.period, "status": b.status, "execution_date": b.execution_date,
            "created_ms": b.created_ms, "confirmed_ms": b.confirmed_ms, "lines": lines,
            "totals_eur_cents": totals}


def confirm(conn: Connection, *, batch_id: str, merchant_ids: list[str] | None, request_id: str,
            now: int) -> dict[str, object]:
    """The treasurer saw the bank carry out the batch (or the euros arrive): book it through the world.

    With `merchant_ids`, only those merchants' lines (an invoice paid, a debit that did not bounce); the
    batch is confirmed when its last line is."""
    b = conn.execute(select(s.payout_batches).where(s.payout_batches.c.batch_id == batch_id)
                     .with_for_update()).first()
    if b is None:
        raise NotFound(what="batch", id=batch_id)
    if b.status == "confirmed":
        raise StateRefused(detail=f"batch {batch_id} was already confirmed")
    q = select(s.payout_lines).where(s.payout_lines.c.batch_id == batch_id, s.payout_lines.c.paid_tx_id.is_(None))
    if merchant_ids:
        q = q.where(s.payout_lines.c.merchant_id.in_(merchant_ids))
    rows = conn.execute(q.order_by(s.payout_lines.c.id)).all()
    if not rows and merchant_ids:
        raise StateRefused(detail="no open lines of these merchants in the batch")
    nets: dict[str, int] = {}
    for r in rows:
        nets[r.merchant_id] = nets.get(r.merchant_id, 0) + r.eur_cents
    tx = entries.payout(str(uuid.uuid4()), [(m, Money.eur(c)) for m, c in sorted(nets.items())], now, request_id,
                        memo=f"bank batch {batch_id}")
    tx_id = tx.tx_id if tx else f"none-{request_id}"
    if tx is not None:
        ledger.post(conn, [tx])
    if rows:
        conn.execute(update(s.payout_lines).where(s.payout_lines.c.id.in_([r.id for r in rows]))
                     .values(paid_tx_id=tx_id))
    open_left = conn.execute(select(func.count()).select_from(s.payout_lines).where(
        s.payout_lines.c.batch_id == batch_id, s.payout_lines.c.paid_tx_id.is_(None))).scalar_one()
    if open_left == 0:
        conn.execute(update(s.payout_batches).where(s.payout_batches.c.batch_id == batch_id)
                     .values(status="confirmed", confirmed_ms=now, confirm_tx_id=tx_id))
    return {**batch_view(conn, batch_id), "tx_id": tx.tx_id if tx else None, "confirmed_lines": len(rows)}


def lines(conn: Connection, period: str) -> dict[str, object]:
    p = conn.execute(select(s.settlement_periods).where(s.settlement_periods.c.period == period)).first()
    if p is None:
        raise NotFound(what="settlement period", id=period)
    rows = conn.execute(select(s.settlement_lines).where(s.settlement_lines.c.period == period)
                        .order_by(s.settlement_lines.c.merchant_id)).all()
    return {"period": period, "cut_ms": p.cut_ms, "run_ms": p.run_ms, "batch_id": p.batch_id, "rule": RULE,
            "merchants": [{"merchant_id": r.merchant_id, "tx_id": r.tx_id, **json.loads(r.detail)} for r in rows]}


def periods(conn: Connection) -> list[dict[str, object]]:
    rows = conn.execute(select(s.settlement_periods, s.payout_batches.c.status)
                        .join(s.payout_batches, s.payout_batches.c.batch_id == s.settlement_periods.c.batch_id)
                        .order_by(s.settlement_periods.c.period)).all()
    return [{"period": r.period, "batch_id": r.batch_id, "run_ms": r.run_ms, "batch_status": r.status}
            for r in rows]
