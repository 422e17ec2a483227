"""The monthly circulation report: issued, spent, re-spent, cashed out, velocity, twice-used share."""

import datetime as dt
import uuid

from floreyn.money import Money
from floreyn.server import circulation, ledger, state


def test_a_month_of_movements(database):
    nov = state.day_start_ms(dt.date(2031, 11, 5))
    a, b, m = f"M-a-{uuid.uuid4().hex[:6]}", f"M-b-{uuid.uuid4().hex[:6]}", f"m-{uuid.uuid4().hex[:6]}"

    def tx(kind: ledger.TxKind, *pairs: tuple[str, Money]) -> ledger.LedgerTx:
        return ledger.LedgerTx(uuid.uuid4().hex, kind, ledger.legs(*pairs), nov)

    fl = Money.fl
    database.write(lambda conn: ledger.post(conn, [
        tx(ledger.TxKind.TOPUP, (ledger.member_acct(m), fl(10_000)), (ledger.ISSUED, fl(-10_000)),
           (ledger.RESERVE, Money.eur(10_000)), (ledger.WORLD, Money.eur(-10_000))),
        tx(ledger.TxKind.SPEND, (ledger.member_acct(m), fl(-6_000)), (ledger.merchant_acct(a), fl(6_000))),
        # a merchant paying another (the payments API books such a transaction; its kind is not excluded)
        tx(ledger.TxKind.SPEND, (ledger.merchant_acct(a), fl(-4_000)), (ledger.merchant_acct(b), fl(4_000))),
        tx(ledger.TxKind.SAVE, (ledger.merchant_acct(a), fl(-100)), (ledger.member_acct(m), fl(100))),
        tx(ledger.TxKind.CASHOUT, (ledger.merchant_acct(b), fl(-5_000)), (ledger.ISSUED, fl(5_000)),
           (ledger.WORLD, Money.eur(4_750)), (ledger.RESERVE, Money.eur(-5_000)), (ledger.INCOME, Money.eur(250))),
    ]))
    r = database.read(lambda conn: circulation.report(conn, "2031-11", "2031-11"))["months"][0]
    assert (r["issued_cents"], r["spent_cents"], r["respent_cents"], r["cashed_out_cents"]) == \
        (10_000, 6_000, 4_000, 5_000)
    assert r["stock_end_cents"] - r["stock_start_cents"] == 5_000
    assert r["twice_cents"] == 4_000 and r["twice_share"] == 0.8  # b received 4,000 from a, cashed out 5,000
    assert r["velocity"] == round(10_000 / r["stock_average_cents"], 3)
