"""Save, top-up, refund, void, reprint, day close, the print queue and events."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from till_helpers import CASHIER_PIN, MANAGER_PIN, dump_db, kinds_of, open_till

from floreyn.money import Money
from floreyn.sync.record import Kind, Tender
from floreyn.sync.snapshot import Campaign
from floreyn.terminal import demo_setup
from floreyn.terminal.drivers.base import PrinterOutOfPaper
from floreyn.terminal.engine import errors as E


def confirm(till, quote, **kw):
    return till.engine.confirm(quote.quote_id, **kw)


def test_save_at_the_merchant_rate_times_the_best_campaign(till):
    till.present("anna")
    quote = till.engine.quote_save(Money.eur(2_450))
    assert quote.campaign == "Zomermarkt: dubbel sparen"  # the demo snapshot's campaign, x2
    result = confirm(till, quote)
    (rec,) = result.records
    assert (rec.kind, rec.eur_cents, rec.fl_cents, rec.tender) == (Kind.SAVE, 2_450, 245, Tender.NONE)


def test_campaign_outside_its_dates_or_merchants_does_not_count(config, clock):
    till = open_till(config, clock)
    snap = till.store.current_snapshot()
    campaigns = (
        Campaign("C-old", "Voorjaar", 30_000, "2020-01-01", "2020-12-31"),
        Campaign("C-other", "Markt", 50_000, "2020-01-01", "2099-12-31", ("M-someone-else",)),
    )
    till.store.store_snapshot(replace(snap, snapshot_version=snap.snapshot_version + 1, campaigns=campaigns))
    till.present("anna")
    quote = till.engine.quote_save(Money.eur(2_450))
    assert quote.campaign == "" and quote.fl.cents == 122  # floor(2450 * 5%)
    till.store.close()


def test_topup_at_the_ask_rate_in_cash(till):
    till.present("anna")
    result = confirm(till, till.engine.quote_topup(Money.eur(2_000)))
    (rec,) = result.records
    assert (rec.kind, rec.eur_cents, rec.fl_cents, rec.tender) == (Kind.TOPUP, 2_000, 2_000, Tender.CASH)
    with pytest.raises(E.AmountOverLimit):
        till.engine.quote_topup(Money.eur(till.config.till.max_topup_cents + 1))


def test_topup_refused_where_the_merchant_does_not_allow_it(config, clock):
    till = open_till(config, clock)
    snap = till.store.current_snapshot()
    merchant = replace(snap.merchant, topup_allowed=False)
    till.store.store_snapshot(replace(snap, snapshot_version=9, merchant=merchant))
    till.present("anna")
    before = dump_db(config.db_path)
    with pytest.raises(E.TopupNotAllowed):
        till.engine.quote_topup(Money.eur(1_000))
    assert dump_db(config.db_path) == before
    till.store.close()


def test_refund_partial_then_rest_never_more_than_the_original(till):
    till.present("anna")
    paid = till.spend(2_000)  # budget 1500 + own 500
    first = confirm(till, till.engine.quote_refund(paid.tx_id, Money.fl(700)), manager_pin=MANAGER_PIN)
    # own balance (the last record) first, then the budget
    assert [(r.budget_id, r.fl_cents) for r in first.records] == [(None, 500), ("B-gemeente-boodschap-1", 200)]
    assert all(r.kind is Kind.REFUND for r in first.records)
    with pytest.raises(E.RefundTooLarge) as info:
        till.engine.quote_refund(paid.tx_id, Money.fl(1_301))
    assert "fl 13,00" in info.value.message("nl")
    rest = confirm(till, till.engine.quote_refund(paid.tx_id), manager_pin=MANAGER_PIN)
    assert [(r.budget_id, r.fl_cents) for r in rest.records] == [("B-gemeente-boodschap-1", 1_300)]
    with pytest.raises(E.RefundTooLarge):
        till.engine.quote_refund(paid.tx_id)


def test_refund_of_a_mixed_payment_returns_the_euros_in_the_same_tender(till):
    till.present("bram")
    paid = till.spend(800, tender=Tender.CASH)
    refund = confirm(till, till.engine.quote_refund(paid.tx_id), manager_pin=MANAGER_PIN)
    (rec,) = refund.records
    assert (rec.fl_cents, rec.eur_cents, rec.tender) == (500, 300, Tender.CASH)


def test_a_refund_cannot_be_refunded_nor_a_save(till):
    till.present("anna")
    paid = till.spend(500)
    refund = confirm(till, till.engine.quote_refund(paid.tx_id), manager_pin=MANAGER_PIN)
    with pytest.raises(E.RefundNotAllowed) as info:
        till.engine.quote_refund(refund.tx_id)
    assert info.value.message("nl") == "Een terugbetaling kan niet worden terugbetaald."
    till.clock.advance(10)
    saved = confirm(till, till.engine.quote_save(Money.eur(1_000)))
    with pytest.raises(E.RefundNotAllowed):
        till.engine.quote_refund(saved.tx_id)
    with pytest.raises(E.TxNotFound):
        till.engine.quote_refund("00000000-0000-0000-0000-000000000000")


def test_a_double_confirmed_refund_quote_is_rechecked_in_the_transaction(till):
    till.present("anna")
    paid = till.spend(500)
    q1 = till.engine.quote_refund(paid.tx_id)
    q2 = till.engine.quote_refund(paid.tx_id)  # two screens, both showing the full refund
    confirm(till, q1, manager_pin=MANAGER_PIN)
    before = dump_db(till.config.db_path)
    with pytest.raises(E.RefundTooLarge):
        confirm(till, q2, manager_pin=MANAGER_PIN)
    assert dump_db(till.config.db_path) == before


def test_void_reverses_the_last_transaction_whole(till):
    till.present("anna")
    paid = till.spend(2_000)
    void = confirm(till, till.engine.quote_void(), manager_pin=MANAGER_PIN)
    assert [(r.kind, r.fl_cents, r.ref_id) for r in void.records] == [
        (Kind.VOID, r.fl_cents, r.record_id) for r in paid.records]
    with pytest.raises(E.NothingToVoid):
        till.engine.quote_void()  # the last transaction is now the void itself
    with pytest.raises(E.RefundNotAllowed):
        till.engine.quote_refund(paid.tx_id)  # voided: nothing left to refund


def test_void_quote_goes_stale_when_another_transaction_comes_first(till):
    till.present("anna")
    till.spend(100)
    quote = till.engine.quote_void()
    till.clock.advance(10)
    till.spend(200)
    with pytest.raises(E.NothingToVoid):
        confirm(till, quote, manager_pin=MANAGER_PIN)


def test_day_close_by_a_cashier_when_the_config_allows_it(config, clock):
    """[till] day_close_needs_manager = false: the cashier signed in closes the day without a manager's PIN."""
    till = open_till(replace(config, till=replace(config.till, day_close_needs_manager=False)), clock)
    try:
        till.present("bram")
        till.spend(200)
        closed = till.engine.close_day()
        assert closed.kind is Kind.DAY_CLOSE and closed.report["day_no"] == 1
        till.engine.sign_out()
        with pytest.raises(E.NotSignedIn):  # still nobody's act without a signed-in operator
            till.engine.close_day()
    finally:
        till.store.close()


def test_day_close_report_is_frozen_and_a_new_day_begins(till):
    till.present("bram")
    till.spend(800, tender=Tender.CASH)  # fl 5 + cash 3
    till.present("anna")
    confirm(till, till.engine.quote_topup(Money.eur(1_000)))  # cash 10 in
    till.clock.advance(10)
    confirm(till, till.engine.quote_save(Money.eur(2_000)))
    with pytest.raises(E.ManagerRequired):  # the engine itself asks for a manager, not only the app's menu
        till.engine.close_day()
    with pytest.raises(E.ManagerRequired):
        till.engine.close_day(manager_pin=CASHIER_PIN)
    closed = till.engine.close_day(manager_pin=MANAGER_PIN)
    report = closed.report
    assert report["day_no"] == 1 and (report["first_seq"], report["last_seq"]) == (1, 4)
    assert report["kinds"]["SPEND"] == {"count": 1, "records": 1, "fl_cents": 500, "eur_cents": 300}
    assert report["kinds"]["TOPUP"]["fl_cents"] == 1_000 and report["kinds"]["SAVE"]["fl_cents"] == 200
    assert report["tenders"]["CASH"] == {"count": 2, "in_cents": 1_300, "out_cents": 0, "net_cents": 1_300}
    assert report["fl_received_cents"] == 500 and report["fl_issued_cents"] == 1_200
    assert "Dagafsluiting" in till.printer.docs[-1].text(32)
    with pytest.raises(E.NothingToVoid):
        till.engine.quote_void()  # a closed day never changes
    till.clock.advance(10)
    till.present("anna")
    later = till.spend(100)
    assert later.records[0].day_no == 2
    reprinted = till.engine.reprint(closed.tx_id)
    assert reprinted.receipt_status == "printed"
    with till.store.txn() as view:
        assert json.loads(view.day_report(1)) == report
    assert "DUPLICAAT" in till.printer.docs[-1].text(32)
    refund = confirm(till, till.engine.quote_refund(till.store.all_records()[0].tx_id), manager_pin=MANAGER_PIN)
    assert refund.records[0].day_no == 2  # a refund of an old day's sale lands in today
    with till.store.txn() as view:
        assert json.loads(view.day_report(1)) == report


def test_printer_failure_marks_failed_and_retry_prints_later(till):
    till.present("anna")
    till.printer.fail_with(PrinterOutOfPaper())
    result = till.spend(100)
    assert result.receipt_status == "failed" and result.receipt_error.code == "printer_paper_out"
    assert till.store.tx(result.tx_id)[0].receipt_status == "failed"  # the sale itself is committed
    assert kinds_of(till.events)[-2:] == ["TxCommitted", "ReceiptFailed"]
    assert till.engine.retry_pending_receipts() == 0
    till.printer.fail_with(None)
    assert till.engine.retry_pending_receipts() == 1
    assert till.store.tx(result.tx_id)[0].receipt_status == "printed"
    assert "DUPLICAAT" not in till.printer.docs[-1].text(32)  # it was never printed before


def test_pending_receipts_resume_printing_after_a_restart(till):
    till.present("anna")
    till.printer.fail_with(PrinterOutOfPaper())
    tx = till.spend(100).tx_id
    t2 = till.reopen()  # engine.start() resumes the queue with a working printer
    assert t2.store.tx(tx)[0].receipt_status == "printed"
    assert len(t2.printer.docs) == 1 and t2.printer.docs[0].qr_data == tx
    t2.store.close()


def test_reprint_any_receipt(till):
    till.present("anna")
    first = till.spend(100)
    till.clock.advance(10)
    till.spend(200)
    result = till.engine.reprint(first.records[0].record_id)
    assert result.tx_id == first.tx_id and result.receipt_status == "printed"
    assert till.printer.docs[-1].text(32).count("DUPLICAAT") == 1
    with pytest.raises(E.TxNotFound):
        till.engine.reprint("nope")


def test_events_for_the_app(till):
    till.present("anna")
    till.spend(100)
    assert kinds_of(till.events)[-4:] == ["SignedIn", "CardShown", "TxCommitted", "ReceiptPrinted"]
    with pytest.raises(E.CardBlocked):
        till.present("cees")
    assert kinds_of(till.events)[-1] == "CardRefused"


def test_welcome_slip(till):
    till.present("anna")
    doc = till.engine.print_welcome()
    assert "Welkom bij Floreyn!" in doc.text(32) and "Anna" in doc.text(32)
    assert till.printer.docs[-1] is doc and till.store.head.seq == 0  # not a transaction


def test_demo_cards_are_stable():
    assert demo_setup.demo_card_id("anna").hex() == demo_setup.demo_card("anna").card_hex
    assert demo_setup.demo_payload("anna") == demo_setup.demo_payload("anna")  # Ed25519 is deterministic


def test_recent_payments_are_the_open_days_payments_newest_first(till):
    till.present("anna")
    first = till.spend(100)
    till.engine.confirm(till.engine.quote_save(Money.eur(1_000)).quote_id)  # not a payment: not listed
    till.clock.advance(10)
    second = till.spend(2_000)  # two records, one payment
    payments = till.engine.recent_payments()
    assert [(p.tx_id, p.fl_cents, p.seq) for p in payments] == [(second.tx_id, 2_000, 3), (first.tx_id, 100, 1)]
    assert payments[0].card_hex == demo_setup.demo_card("anna").card_hex and payments[0].day_no == 1
    assert [p.tx_id for p in till.engine.recent_payments(1)] == [second.tx_id]
    till.engine.sign_in(MANAGER_PIN)
    till.engine.close_day()
    assert till.engine.recent_payments() == []  # a new day: yesterday's are found by their receipt


def test_find_a_payment_of_an_earlier_day_by_its_receipt(till):
    till.present("anna")
    paid = till.spend(2_000)  # split: the receipt says "Volgnummer 1-2"
    saved = till.engine.confirm(till.engine.quote_save(Money.eur(1_000)).quote_id)
    till.engine.close_day(manager_pin=MANAGER_PIN)
    till.clock.advance(3 * 86_400)
    for typed in ("1", "1-2", " 1 - 2 ", "2", paid.tx_id, paid.tx_id.upper(), paid.records[1].record_id):
        found = till.engine.find_payment(typed)
        assert (found.tx_id, found.seq, found.fl_cents, found.day_no) == (paid.tx_id, 1, 2_000, 1), typed
    before = dump_db(till.config.db_path)
    for typed in ("99", "", "abc", "1x", "9" * 13, "0" * 100, "00000000-0000-0000-0000-000000000000"):
        with pytest.raises(E.TxNotFound):
            till.engine.find_payment(typed)
    with pytest.raises(E.RefundNotAllowed) as info:
        till.engine.find_payment(str(saved.records[0].seq))
    assert info.value.params["why"] == "not_a_payment"
    assert dump_db(till.config.db_path) == before
    refund = confirm(till, till.engine.quote_refund(till.engine.find_payment("1").tx_id), manager_pin=MANAGER_PIN)
    assert refund.fl.cents == 2_000 and refund.records[0].day_no == 2  # lands in today
    till.engine.sign_out()
    with pytest.raises(E.NotSignedIn):
        till.engine.find_payment("1")


def test_overview_gathers_status_printer_sync_and_merchant(till):
    overview = till.engine.overview()
    assert overview.status.terminal_id == till.config.terminal_id and overview.sync is None
    assert overview.printer.online and overview.merchant.name == "Bakkerij De Korenbloem"

    def broken() -> None:
        raise PrinterOutOfPaper()

    till.printer.status = broken  # a printer that cannot say: shown as such, the rest still answers
    overview = till.engine.overview()
    assert overview.printer is None and isinstance(overview.printer_error, PrinterOutOfPaper)
    assert overview.status.head_seq == 0


def test_status_and_start_prunes_old_acknowledged_records(till):
    till.present("anna")
    for _ in range(3):
        till.spend(100, repeat_ok=True)
    status = till.engine.status()
    assert (status.head_seq, status.pending_uploads, status.receipts_to_print) == (3, 3, 0)
    assert status.operator == "Carla" and not status.snapshot_stale and status.online is None
    till.store.acknowledge(2)
    till.clock.advance(31 * 86_400)  # past the 30-day retention
    t2 = till.reopen()
    assert [r.seq for r in t2.store.all_records()] == [3]  # the head stays, and it is unacknowledged anyway
    assert t2.engine.status().pending_uploads == 1
    t2.store.close()
