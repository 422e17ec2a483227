"""Issue 17 item 9: money in by bank card is booked only after "Is de pinbetaling gelukt?" is answered yes, and
a top-up can be paid by card and is counted apart from cash on the Z-report (before: "Rest met pin" booked
at once, and every top-up was cash)."""
import pytest

from floreyn.sync.record import Kind, Tender
from support import kivy_env
from till_ui import TillUITest

pytestmark = pytest.mark.ui


class BankCardWalk(TillUITest):
    __test__ = False

    def test_rest_by_card_asks_first_and_top_ups_by_card_are_counted_apart(self):
        self.sign_in("9999")  # the manager: the day close at the end
        self.present("fenna")
        self.wait_screen("member")
        self.tap(self.screen().ids.amount)
        self.type_keys(self.screen().ids.keypad, "99")  # more than her Floreyn: the rest in euros
        self.tap_text("Betalen")
        self.wait_screen("source")
        self.tap_text("Gecombineerd")
        self.wait_screen("confirm")
        self.tap_text("Rest met pin")
        self.wait_screen("bankcard")
        self.assertIn("Is de pinbetaling gelukt?", self.shown_text())
        self.shot("bank-card-prompt")
        self.assertEqual(self.records(), [])  # nothing booked while the customer pins
        self.tap(self.screen().ids.no)
        self.wait_screen("confirm")
        self.assertIn("niet gelukt", self.banner())
        self.assertEqual(self.records(), [])
        self.tap_text("Rest met pin")
        self.wait_screen("bankcard")
        self.tap(self.screen().ids.yes, after_s=0.5)  # too soon after the screen appeared: not a decision
        self.assertEqual(self.ctl.screen, "bankcard")
        self.tap(self.screen().ids.yes)
        self.wait_screen("done")
        self.assertEqual(self.records()[-1].tender, Tender.BANK_CARD)
        self.tap(self.screen().ids.done)
        self.wait_screen("idle")
        for how, euros in (("Gepind", "20"), ("Contant ontvangen", "5")):
            self.present("bram")
            self.wait_screen("member")
            self.tap(self.screen().ids.amount)
            self.type_keys(self.screen().ids.keypad, euros)
            self.tap_text("Opwaarderen")
            self.wait_screen("confirm")
            self.assertIn("contant of pin", self.shown_text())
            self.tap_text(how)
            if how == "Gepind":
                self.wait_screen("bankcard")
                self.tap(self.screen().ids.yes)
            self.wait_screen("done")
            self.tap(self.screen().ids.done)
            self.wait_screen("idle")
        topups = [r for r in self.records() if r.kind is Kind.TOPUP]
        self.assertEqual([(r.tender, r.eur_cents) for r in topups], [(Tender.BANK_CARD, 2_000), (Tender.CASH, 500)])
        self.tap(self.screen().ids.manager)
        self.wait_screen("manager")
        self.tap(self.screen().ids.dayclose)
        self.wait_screen("dayclose")
        self.tap(self.screen().ids.confirm)
        self.wait(lambda: "Dagafsluiting" in self.ctl.report_text)
        report = self.ctl.report_text
        self.assertIn("waarvan pin", report)
        self.assertIn("waarvan contant", report)


class TestBankCard800(BankCardWalk):
    __test__ = True
    window_size = kivy_env.SIZES["800x480"]


class TestBankCard1024(BankCardWalk):
    __test__ = True
    window_size = kivy_env.SIZES["1024x600"]
