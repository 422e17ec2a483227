"""Spending: sources, splits, mixed payments, the offline risk policy and the repeat-tap guard."""

from __future__ import annotations

import pytest
from till_helpers import MANAGER_PIN, dump_db, open_till

from floreyn.money import Money
from floreyn.sync.record import Kind, Tender, verify_chain
from floreyn.terminal.engine import errors as E
from floreyn.terminal.engine.model import Quote


def test_budget_pays_first_and_the_record_names_it(till):
    summary = till.present("anna")
    assert summary.alias == "Anna" and not summary.live and summary.known
    usable = [b for b in summary.budgets if b.usable]
    assert [b.budget_id for b in usable] == ["B-gemeente-boodschap-1"]
    assert any(not b.usable and b.why_not == "budget_wrong_category" for b in summary.budgets)
    result = till.spend(1_000)
    (rec,) = result.records
    assert rec.kind is Kind.SPEND and rec.budget_id == "B-gemeente-boodschap-1" and rec.fl_cents == 1_000
    assert rec.offline and result.receipt_status == "printed"
    assert rec.signed.record.budget_id == "B-gemeente-boodschap-1"  # in the signed bytes, not only a column


def test_budget_covering_part_splits_into_budget_and_own_records(till):
    till.present("anna")  # budget fl 15, own allowance fl 50, per-tx limit fl 25
    result = till.spend(2_000)
    assert [(r.budget_id, r.fl_cents) for r in result.records] == [("B-gemeente-boodschap-1", 1_500), (None, 500)]
    assert {r.tx_id for r in result.records} == {result.tx_id}
    assert [r.seq for r in result.records] == [1, 2]
    assert sum(r.fl_cents for r in result.records) == 2_000  # exact: nothing lost to the split
    assert len(till.printer.docs) == 1  # one transaction, one receipt
    text = till.printer.docs[0].text(32)
    assert "Boodschappenbudget Gemeente" in text and "Van eigen saldo" in text


def test_soonest_expiry_first_then_the_next_budget(till):
    summary = till.present("fenna")  # Zomerbudget fl 8 (10 days), Gemeente fl 30 (90 days)
    assert [b.remaining.cents for b in summary.budgets] == [800, 3_000]  # what is left on each
    assert summary.spendable.cents == 2_500  # what one offline payment may take: the per-tap limit
    result = till.spend(1_200)
    assert [(r.budget_id, r.fl_cents) for r in result.records] == [
        ("B-alliantie-zomer-3", 800), ("B-gemeente-boodschap-3", 400)]


def test_shopkeeper_picks_own_balance_or_another_budget(till):
    till.present("fenna")
    own = till.spend(300, source="own")
    assert [(r.budget_id, r.fl_cents) for r in own.records] == [(None, 300)]
    till.clock.advance(10)
    chosen = till.spend(500, source="B-gemeente-boodschap-3")
    assert [(r.budget_id, r.fl_cents) for r in chosen.records] == [("B-gemeente-boodschap-3", 500)]


def test_mixed_payment_needs_a_tender_and_records_it(till):
    till.present("bram")  # allowance fl 5
    quote = till.engine.quote_spend(Money.fl(800))
    assert quote.needs_tender and quote.fl.cents == 500 and quote.eur.cents == 300
    assert isinstance(quote.cap_reason, E.OfflineAllowanceUsed)
    with pytest.raises(E.MixedPaymentNeedsTender) as info:
        till.engine.confirm(quote.quote_id)
    assert "€ 3,00" in info.value.message("nl")
    with pytest.raises(E.TenderNotAllowed):
        till.engine.confirm(quote.quote_id, tender=Tender.NONE)
    result = till.engine.confirm(quote.quote_id, tender=Tender.BANK_CARD)  # the quote stayed open
    (rec,) = result.records
    assert (rec.fl_cents, rec.eur_cents, rec.tender) == (500, 300, Tender.BANK_CARD)
    assert "Pin" in till.printer.docs[-1].text(32)


def test_offline_per_transaction_limit_offers_mixed_and_says_why(till):
    till.present("fenna")  # plenty of sources, fl 25 per tap offline
    quote = till.engine.quote_spend(Money.fl(4_000))
    assert quote.fl.cents == 2_500 and quote.eur.cents == 1_500
    assert isinstance(quote.cap_reason, E.OfflinePerTxLimit)
    assert "fl 25,00" in quote.cap_reason.message("nl")


def test_offline_cumulative_and_count_limits(till):
    till.present("fenna")
    for _ in range(2):
        till.spend(2_400, repeat_ok=True)
        till.clock.advance(10)
    quote = till.engine.quote_spend(Money.fl(500))  # fl 48 of fl 50 used
    assert quote.fl.cents == 200 and isinstance(quote.cap_reason, E.OfflineCumulativeLimit)
    till.engine.cancel(quote.quote_id)
    for _ in range(3):  # taps 3, 4, 5 (fl 0,50 each fits in what is left)
        till.spend(50)
        till.clock.advance(10)
    with pytest.raises(E.OfflineCountLimit):
        till.engine.quote_spend(Money.fl(10))


def test_a_void_gives_the_offline_allowance_back(till):
    till.present("bram")
    till.spend(500)
    with pytest.raises(E.OfflineAllowanceUsed):
        till.engine.quote_spend(Money.fl(100))
    till.engine.confirm(till.engine.quote_void().quote_id, manager_pin=MANAGER_PIN)
    till.present("bram")
    assert till.engine.quote_spend(Money.fl(100), ).fl.cents == 100


def test_stale_snapshot_refuses_offline_spend_but_saving_works(till):
    till.clock.advance(24 * 3600 + 1)
    till.present("anna")
    before = dump_db(till.config.db_path)
    with pytest.raises(E.SnapshotStale) as info:
        till.engine.quote_spend(Money.fl(100))
    assert info.value.params["age"].endswith("uur")
    assert dump_db(till.config.db_path) == before
    result = till.engine.confirm(till.engine.quote_save(Money.eur(1_000)).quote_id)
    assert result.records[0].kind is Kind.SAVE


def test_after_a_reboot_the_snapshot_age_is_unknown_so_stale(till):
    till.present("anna")
    till.spend(100)
    t2 = till.reopen()  # same boot: the age carries over exactly
    assert t2.engine.snapshot()[1] == pytest.approx(0.0)
    t2.clock.advance(60)
    assert t2.engine.snapshot()[1] == pytest.approx(60.0)
    t3 = t2.reopen(reboot=True)
    assert t3.engine.snapshot()[1] is None and t3.engine.status().snapshot_stale
    t3.engine.sign_in("1111")
    t3.present("anna")
    with pytest.raises(E.SnapshotStale):
        t3.engine.quote_spend(Money.fl(100))
    t3.store.close()


def test_trusted_wall_clock_keeps_the_age_across_a_reboot(config, clock):
    from dataclasses import replace

    cfg = replace(config, trust_wall_clock=True)
    till = open_till(cfg, clock)
    clock.advance(100)
    t2 = till.reopen(reboot=True)
    assert t2.engine.snapshot()[1] == pytest.approx(100.0)
    t2.store.close()


def test_unknown_genuine_card_cannot_spend_offline_but_can_save(till):
    summary = till.present("dirk")
    assert not summary.known and summary.alias == "Onbekende pas" and summary.spendable.cents == 0
    with pytest.raises(E.UnknownCardOffline):
        till.engine.quote_spend(Money.fl(100))
    assert till.engine.confirm(till.engine.quote_save(Money.eur(500)).quote_id).records[0].fl_cents == 50


def test_repeat_tap_needs_a_new_confirmation(till):
    till.present("anna")
    till.spend(100)
    till.present("anna")  # the same card again, a second later
    till.clock.advance(1)
    quote = till.engine.quote_spend(Money.fl(100))
    assert quote.repeat_ago_s is not None
    before = dump_db(till.config.db_path)
    with pytest.raises(E.RepeatNeedsConfirmation):
        till.engine.confirm(quote.quote_id)
    assert dump_db(till.config.db_path) == before
    result = till.engine.confirm(quote.quote_id, repeat_ok=True)
    assert result.records[0].seq == 2
    till.clock.advance(6)  # past the guard: no question asked
    assert till.spend(100).records[0].seq == 3


def test_repeat_guard_survives_a_restart(till):
    till.present("anna")
    till.spend(100)
    t2 = till.reopen()
    t2.present("anna")
    q = t2.engine.quote_spend(Money.fl(100))
    with pytest.raises(E.RepeatNeedsConfirmation):
        t2.engine.confirm(q.quote_id)
    t2.store.close()


def test_a_quote_is_confirmed_once(till):
    till.present("anna")
    quote: Quote = till.engine.quote_spend(Money.fl(100))
    till.engine.confirm(quote.quote_id)
    with pytest.raises(E.QuoteUnknown):
        till.engine.confirm(quote.quote_id, repeat_ok=True)
    assert till.store.head.seq == 1


def test_quote_expires(till):
    till.present("anna")
    quote = till.engine.quote_spend(Money.fl(100))
    till.clock.advance(till.config.till.quote_ttl_s + 1)
    with pytest.raises(E.QuoteUnknown):
        till.engine.confirm(quote.quote_id)


def test_chain_of_mixed_operations_verifies(till):
    till.present("anna")
    till.spend(2_000)
    till.engine.confirm(till.engine.quote_save(Money.eur(2_450)).quote_id)
    till.clock.advance(10)
    till.present("fenna")
    till.spend(1_200)
    signed = [r.signed for r in till.store.all_records()]
    head = verify_chain(signed, till.engine.public_key)
    assert head.seq == 5 == till.store.head.seq  # split, save, split
    monos = [s.record.mono_ms for s in signed]
    assert monos == sorted(monos) and len(set(monos)) == len(monos)


def test_record_ids_follow_a_client_reference_per_terminal():
    from floreyn.terminal.engine.quoting import record_ids

    a, b = record_ids("T-a-01", "run:x"), record_ids("T-a-01", "run:x")
    assert [a(), a()] == [b(), b()]  # a retry gets the same ids
    assert record_ids("T-b-02", "run:x")() != record_ids("T-a-01", "run:x")()  # never across terminals
    assert record_ids("T-a-01", None)() != record_ids("T-a-01", None)()
