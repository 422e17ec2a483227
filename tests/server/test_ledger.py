"""The ledger at the service layer: balanced postings per currency, immutability, replay, desk money."""

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from floreyn.money import Currency, ExchangeRates, Money
from floreyn.server import admin_auth, admin_business, admin_money, admin_people, entries, ledger
from floreyn.server.errors import InsufficientFunds
from floreyn.server.replay import replay

NOW = 1_780_000_000_000


def uid(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_a_transaction_must_balance_in_each_currency():
    with pytest.raises(ledger.Unbalanced):
        ledger.LedgerTx("t1", ledger.TxKind.SPEND, ledger.legs(("member:a", Money.fl(-100)),
                                                               ("merchant:b", Money.fl(99))), NOW)
    # Balanced in total cents but not per currency: Floreyn never becomes euros inside one leg.
    with pytest.raises(ledger.Unbalanced):
        ledger.LedgerTx("t2", ledger.TxKind.TOPUP, ledger.legs(("member:a", Money.fl(100)),
                                                               (ledger.RESERVE, Money.eur(-100))), NOW)
    with pytest.raises(ValueError):  # an fl account cannot take a euro posting
        ledger.Posting("member:a", Money.eur(100))
    with pytest.raises(ValueError):
        ledger.Posting("nonsense", Money.fl(1))


def test_a_memo_longer_than_the_column_is_refused_not_cut():
    legs = ledger.legs(("member:a", Money.fl(-100)), ("merchant:b", Money.fl(100)))
    fits = ledger.LedgerTx("t3", ledger.TxKind.SPEND, legs, NOW, memo="x" * ledger.MAX_MEMO_CHARS)
    assert len(fits.memo) == ledger.MAX_MEMO_CHARS
    with pytest.raises(ledger.MemoTooLong):
        ledger.LedgerTx("t4", ledger.TxKind.SPEND, legs, NOW, memo="x" * (ledger.MAX_MEMO_CHARS + 1))


def test_every_kind_balances_per_currency():
    rates = ExchangeRates(ask_bp=10_300, bid_bp=9_100)
    txs = [
        entries.desk_topup("a", "member:m", Money.eur(1_234), rates, NOW, "r"),
        entries.desk_cashout("b", "M1", Money.fl(9_999), rates, NOW, "r"),
        entries.remit("c", "M1", Money.eur(500), NOW, "r"),
        entries.grant("d", "F1", [("B1", Money.fl(100)), ("B2", Money.fl(250))], NOW, "r"),
        entries.expiry("e", "B1", "F1", Money.fl(40), NOW, "r"),
    ]
    for tx in txs:
        assert all(v == 0 for v in ledger.currency_totals(tx.postings).values())
    paid, income = entries.cashout_amounts(Money.fl(9_999), rates)
    assert paid == Money.eur(9_099) and income == Money.eur(10_298 - 9_099)


def _setup(database):
    merchant, member, funder = uid("M"), uid("m"), uid("F")

    def run(conn):
        admin_business.create_merchant(conn, merchant, {"name": "W", "category": "winkel", "save_rate_bp": 500,
                                                        "topup_allowed": True}, NOW)
        admin_people.create_member(conn, {"member_id": member}, NOW)
        admin_business.create_funder(conn, funder, "Portaal", NOW)
    database.write(run)
    return merchant, member, funder


def test_desk_operations_refuse_without_changing_anything(database):
    merchant, member, funder = _setup(database)
    with pytest.raises(InsufficientFunds):
        database.write(lambda c: admin_money.cashout(c, merchant_id=merchant, fl_cents=1, request_id="x", now=NOW))
    with pytest.raises(InsufficientFunds):
        database.write(lambda c: admin_money.grant(c, funder_id=funder, request_id="y", now=NOW, budgets=[
            {"budget_id": uid("B"), "member_id": member, "label": "L", "categories": [], "expires_on": "2099-01-01",
             "amount_cents": 1}]))
    assert database.read(lambda c: ledger.balance(c, ledger.funder_acct(funder))) == Money.fl(0)
    report = replay(database)
    assert report.ok, report.to_dict()


def test_postings_and_records_are_append_only(database):
    merchant, member, _ = _setup(database)
    database.write(lambda c: admin_money.topup(c, member_id=member, funder_id=None, eur_cents=100, request_id="t",
                                               now=NOW))
    database.write(lambda c: admin_auth.audit(c, actor=None, method="GET", path="/", action=None, request_id=None,
                                              status=200, detail={}, now=NOW))
    for statement in ("UPDATE postings SET amount_cents = amount_cents + 1",
                      "DELETE FROM postings", "UPDATE transactions SET memo = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError):
            database.write(lambda c: c.execute(text(statement)))  # noqa: B023 (runs at once)
    assert replay(database).ok


def test_replay_finds_a_tampered_balance(database):
    _, member, _ = _setup(database)
    database.write(lambda c: admin_money.topup(c, member_id=member, funder_id=None, eur_cents=700, request_id="t",
                                               now=NOW))
    assert replay(database).ok
    key = ledger.member_acct(member)
    database.write(lambda c: c.execute(text("UPDATE accounts SET balance_cents = balance_cents + 1 WHERE key = :k"),
                                       {"k": key}))
    report = replay(database)
    assert not report.ok
    assert {"account": key, "stored_cents": 701, "recomputed_cents": 700} in report.balance_mismatches
    database.write(lambda c: c.execute(text("UPDATE accounts SET balance_cents = balance_cents - 1 WHERE key = :k"),
                                       {"k": key}))
    assert replay(database).ok


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(st.tuples(st.sampled_from(["topup", "grant", "cashout", "remit", "reverse"]),
                              st.integers(min_value=1, max_value=50_000)), min_size=1, max_size=12))
def test_random_desk_sequences_keep_balances_equal_to_their_postings(database, ops):
    merchant, member, funder = _setup(database)
    done: list[str] = []
    for op, cents in ops:
        def run(c, op=op, cents=cents):
            if op == "topup":
                return admin_money.topup(c, member_id=None if cents % 2 else member,
                                         funder_id=funder if cents % 2 else None, eur_cents=cents,
                                         request_id="r", now=NOW)
            if op == "grant":
                return admin_money.grant(c, funder_id=funder, request_id="r", now=NOW, budgets=[
                    {"budget_id": uid("B"), "member_id": member, "label": "L", "categories": [],
                     "expires_on": "2099-01-01", "amount_cents": cents}])
            if op == "cashout":
                return admin_money.cashout(c, merchant_id=merchant, fl_cents=cents, request_id="r", now=NOW)
            if op == "remit":
                return admin_money.remit(c, merchant_id=merchant, eur_cents=cents, request_id="r", now=NOW)
            return admin_money.reverse(c, tx_id=done[-1], reason="fix", request_id="r", now=NOW) if done else None
        try:
            out = database.write(run)
        except Exception as exc:  # refusals must be typed refusals, never a half-written transaction
            assert type(exc).__module__.startswith("floreyn"), exc
            continue
        if out and "tx_id" in out:
            done.append(out["tx_id"])
    report = replay(database, records=False)
    assert report.ok, report.to_dict()
    fl = database.read(lambda c: ledger.balance(c, ledger.funder_acct(funder)))
    assert fl.currency is Currency.FL
