"""Manager flows by touch: refund (manager PIN), void, day close (Z-report shown and printed), status."""
import threading

import pytest

from floreyn.sync.record import Kind
from till_ui import TillUITest

pytestmark = pytest.mark.ui


class TestManager(TillUITest):
    def pay(self, card: str, keys: str, source: str | None = None) -> None:
        self.present(card)
        self.wait_screen("member")
        self.tap(self.screen().ids.amount)
        self.wait_screen("amount")
        self.type_keys(self.screen().ids.keypad, keys)
        self.tap_text("Betalen")
        if source is not None:
            self.wait_screen("source")
            self.tap_text(source)
        self.wait_screen("confirm")
        self.tap_text("Bevestigen")
        self.wait_screen("done")
        self.tap(self.screen().ids.done)
        self.wait_screen("idle")

    def open_manager(self) -> None:
        self.tap(self.screen("idle").ids.manager)
        self.wait_screen("manager")

    def test_refund_needs_a_manager_pin(self):
        self.sign_in("1234")  # a cashier
        self.pay("anna", "7", source="Van eigen saldo")
        self.open_manager()
        self.assert_touch_targets()
        self.shot("manager")
        self.tap(self.screen().ids.refund)
        self.wait_screen("refunds")
        self.assertIn("fl 7,00", self.shown_text())
        self.assert_touch_targets()
        self.shot("refunds")
        self.tap_text("fl 7,00")
        self.wait_screen("amount")
        self.assertEqual(self.ctl.amount_mode, "refund")
        self.type_keys(self.screen().ids.keypad, "2")
        self.tap_text("Terugbetalen\nfl 2,00")
        self.wait_screen("confirm")
        scr = self.screen()
        self.assertIn("fl 2,00 terugbetalen aan de klant", self.shown_text())
        self.assertTrue(scr.pin_needed)
        self.assert_touch_targets()
        self.shot("confirm-refund")

        self.type_keys(scr.ids.keypad, "1234")  # the cashier's own PIN is not a manager's
        self.tap_text("Bevestigen")
        self.wait(lambda: "beheerder" in self.ctl.message)
        self.assertEqual([r.kind for r in self.records()], [Kind.SPEND])  # refused: nothing written

        self.type_keys(scr.ids.keypad, "9999")
        self.tap_text("Bevestigen")
        self.wait_screen("done")
        self.assertIn("Terugbetaald", self.shown_text())
        refund = [r for r in self.records() if r.kind is Kind.REFUND]
        self.assertEqual([r.fl_cents for r in refund], [200])
        self.assertEqual(self.ctl.screen, "done")

    def test_void_last_transaction(self):
        self.sign_in("9999")  # a manager: no extra PIN
        self.pay("fenna", "3", source="Gecombineerd")
        self.open_manager()
        self.tap(self.screen().ids.void)
        self.wait_screen("confirm")
        self.assertIn("Laatste transactie storneren: fl 3,00", self.shown_text())
        self.assertFalse(self.screen().pin_needed)
        self.tap_text("Bevestigen")
        self.wait_screen("done")
        self.assertIn("Gestorneerd", self.shown_text())
        self.assertEqual([r.kind for r in self.records()], [Kind.SPEND, Kind.VOID])
        self.wait(lambda: self.ctl.receipt_state == "printed")
        self.assertEqual(len(self.printer.docs), 2)

    def test_void_by_a_cashier_needs_a_manager_pin(self):
        self.sign_in("1234")  # a cashier
        self.pay("bram", "2")
        self.open_manager()
        self.tap(self.screen().ids.void)
        self.wait_screen("confirm")
        scr = self.screen()
        self.assertIn("Laatste transactie storneren: fl 2,00", self.shown_text())
        self.assertTrue(scr.pin_needed)  # the PIN pad is shown
        self.assertIsNotNone(scr.ids.keypad.get_root_window())
        self.assert_touch_targets()

        self.tap_text("Bevestigen")  # no PIN typed: asked for one, nothing sent
        self.wait(lambda: "minstens 4 cijfers" in self.banner())
        self.type_keys(scr.ids.keypad, "1234")  # the cashier's own PIN is not a manager's
        self.tap_text("Bevestigen")
        self.wait(lambda: "beheerder" in self.ctl.message)
        self.assertEqual(self.ctl.screen, "confirm")
        self.type_keys(scr.ids.keypad, "5555")
        self.tap_text("Bevestigen")
        self.wait(lambda: "Onjuiste pincode" in self.ctl.message)
        self.assertEqual([r.kind for r in self.records()], [Kind.SPEND])  # refused: nothing written

        self.type_keys(scr.ids.keypad, "9999")
        self.tap_text("Bevestigen")
        self.wait_screen("done")
        self.assertIn("Gestorneerd", self.shown_text())
        self.assertEqual([(r.kind, r.fl_cents) for r in self.records()], [(Kind.SPEND, 200), (Kind.VOID, 200)])

    def test_day_close_shows_and_prints_the_z_report(self):
        self.sign_in("9999")
        self.pay("anna", "4", source="Van eigen saldo")
        self.open_manager()
        self.tap(self.screen().ids.dayclose)
        self.wait_screen("dayclose")
        self.assert_touch_targets()
        self.shot("dayclose")
        self.tap(self.screen().ids.confirm)
        self.wait_screen("report")
        self.wait(lambda: "Dagafsluiting" in self.ctl.report_text and self.ctl.receipt_state == "printed")
        report = self.screen().ids.report.text
        self.assertIn("Betaling 1x", report)
        self.assertIn("fl 4,00", report)
        self.assertEqual(self.records()[-1].kind, Kind.DAY_CLOSE)
        self.assertEqual(self.printer.docs[-1].text(self.printer.columns), report)  # shown = printed
        self.assert_touch_targets()
        self.shot("report")

    def test_day_close_is_ready_while_the_last_sale_still_prints(self):
        """The sale is committed the moment the done screen shows; its paper may take a while (a slow
        printer, a loaded till). The day close's button must work meanwhile, not be greyed out by the
        sale's confirm call, which only returns once the receipt is printed."""
        gate = threading.Event()
        printer_print = self.printer.print_doc

        def slow_print(doc):  # noqa: ANN001 - the worker thread waits here until the test opens the gate
            assert gate.wait(60), "the test never let the printer go"
            printer_print(doc)

        self.printer.print_doc = slow_print
        try:
            self.sign_in("9999")
            self.pay("anna", "4", source="Van eigen saldo")  # the done screen showed; the receipt is not out
            self.assertEqual(self.printer.docs, [])
            self.open_manager()
            self.tap(self.screen().ids.dayclose)
            self.wait_screen("dayclose")
            confirm = self.screen().ids.confirm
            self.assertFalse(self.ctl.confirming)
            self.assertFalse(confirm.disabled)  # before the fix: disabled until the sale's paper was out
            self.tap(confirm)
            gate.set()
            self.wait_screen("report")
            self.wait(lambda: "Dagafsluiting" in self.ctl.report_text and self.ctl.receipt_state == "printed")
            self.assertEqual([r.kind for r in self.records()], [Kind.SPEND, Kind.DAY_CLOSE])
            self.assertEqual([d.doc_id.split("-", 1)[-1] for d in self.printer.docs], ["spend", "day-0001"])
        finally:
            gate.set()

    def test_refund_an_earlier_days_payment_by_its_receipt_number(self):
        self.sign_in("9999")
        self.pay("anna", "7", source="Van eigen saldo")  # receipt "Volgnummer 1"
        self.open_manager()
        self.tap(self.screen().ids.dayclose)
        self.wait_screen("dayclose")
        self.tap(self.screen().ids.confirm)
        self.wait_screen("report")
        self.tap(self.screen().ids.done)
        self.wait_screen("idle")
        self.open_manager()
        self.tap(self.screen().ids.refund)
        self.wait_screen("refunds")
        scr = self.screen()
        self.assertIn("Vandaag nog geen betalingen", self.shown_text())  # a new day: the list is empty
        self.assert_touch_targets()
        self.shot("refunds-receipt")
        self.tap(scr.ids.find)
        self.wait(lambda: "Typ eerst het volgnummer" in self.banner())
        self.type_keys(scr.ids.keypad, "9")
        self.tap(scr.ids.find)
        self.wait(lambda: "niet gevonden" in self.banner())
        self.assertEqual(self.ctl.screen, "refunds")
        self.tap(scr.ids.keypad.button("clear"))
        self.type_keys(scr.ids.keypad, "1")
        self.assertEqual(scr.ids.receipt.text, "1")
        self.tap(scr.ids.find)
        self.wait_screen("amount")
        self.assertEqual(self.ctl.amount_mode, "refund")
        self.assertIn("Terugbetaling van betaling nr. 1 (", self.shown_text())
        self.assertIn("fl 7,00", self.shown_text())
        self.tap_text("Alles terugbetalen")
        self.wait_screen("confirm")
        self.tap_text("Bevestigen")
        self.wait_screen("done")
        refund = [r for r in self.records() if r.kind is Kind.REFUND]
        self.assertEqual([(r.fl_cents, r.day_no) for r in refund], [(700, 2)])  # lands in today

    def test_refund_by_scanning_the_receipts_qr_code(self):
        from kivy.core.window import Window

        self.sign_in("9999")
        self.pay("bram", "2")
        tx_id = self.records()[0].tx_id
        self.open_manager()
        self.tap(self.screen().ids.refund)
        self.wait_screen("refunds")
        for ch in tx_id:  # a QR scanner types like a keyboard, then Enter
            Window.dispatch("on_key_down", ord(ch), 0, ch, [])
        self.assertEqual(self.screen().ids.receipt.text[-4:], tx_id[-4:])
        Window.dispatch("on_key_down", 13, 0, None, [])
        self.wait_screen("amount")
        self.assertEqual(self.ctl.refund_payment.tx_id, tx_id)
        self.assertIsNone(self.ctl.member)  # the digits were the receipt's, not demo card keys
        self.assertIn("fl 2,00", self.shown_text())

    def test_status_settings_and_language(self):
        self.sign_in("9999")
        self.pay("anna", "1", source="Van eigen saldo")
        self.open_manager()
        self.tap(self.screen().ids.status)
        self.wait_screen("status")
        self.wait(lambda: "Wachtend op verzending: 1" in self.shown_text())
        shown = self.shown_text()
        for line in ("Kaartlezer: klaar", "Printer: klaar", "Server: niet ingesteld", "Laatste synchronisatie: nooit",
                     "Servergegevens: versie 1"):
            self.assertIn(line, shown)
        self.assert_touch_targets()
        self.shot("status")

        self.tap(self.screen().ids.sync)  # no server here: a clear refusal, nothing else
        self.wait(lambda: "geen server ingesteld" in self.ctl.message)

        before = self.ctl.dim_after_s
        self.tap(self.screen().ids.dim)
        self.assertNotEqual(self.ctl.dim_after_s, before)
        self.assertIn("Scherm dimmen", self.screen().ids.dim.text)

        self.tap(self.screen().ids.lang)  # English, everywhere, at once
        self.wait(lambda: "Card reader: ready" in self.shown_text())
        self.assertIn("Records waiting to sync: 1", self.shown_text())
        self.assertIn("Reader: ready", self.root.ids.reader.text)
        self.assertIn("No connection to the server", self.ctl.message)  # the refusal shown is re-worded too
        self.shot("status-en")
        self.tap(self.screen().ids.back)
        self.wait_screen("manager")
        self.assertIn("Close the day", self.shown_text())
        saved = (self.tmp / "app_settings.json").read_text()
        self.assertIn('"lang": "en"', saved)

