"""Manager flows by touch: refund (manager PIN), void, day close (Z-report shown and printed), status."""
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
        self.pay("anna", "7", source="Eigen saldo")
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
        self.pay("anna", "4", source="Eigen saldo")
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

    def test_status_settings_and_language(self):
        self.sign_in("9999")
        self.pay("anna", "1", source="Eigen saldo")
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

