"""The sale flows, driven by touches on the real app with the real engine and virtual devices.

Each screen is saved at 800x480 to the artifacts folder and checked not to be blank (1024x600: test_app_gallery.py).
"""
import pytest

from floreyn.sync.record import Kind, Tender
from till_ui import TillUITest

pytestmark = pytest.mark.ui


class TestSale(TillUITest):
    def test_pay_from_a_chosen_budget(self):
        self.assertEqual(self.ctl.screen, "signin")
        self.assert_touch_targets()
        self.shot("signin")
        self.sign_in("1234")
        self.assertIn("Houd de pas bij de lezer", self.shown_text())
        self.assertIn("Kassa", self.root.ids.operator.text)  # the operator has its own label beside the shop name
        self.assert_touch_targets()
        self.shot("idle")

        self.present("anna")
        self.wait_screen("member")
        shown = self.shown_text()
        self.assertIn("Anna", shown)
        self.assertIn("\u2248 Te besteden:", shown)  # the mark: figures from the snapshot, not live
        self.assertIn("Boodschappenbudget Gemeente: fl 15,00", shown)
        self.assert_touch_targets()
        self.shot("member")

        self.tap(self.screen().ids.amount)
        self.wait_screen("amount")
        scr = self.screen()
        self.type_keys(scr.ids.keypad, "12,5")
        self.assertEqual(scr.ids.display.text, "12,5")
        self.assertIn("fl 12,50", self.button("Betalen").text.replace("\u00a0", " "))
        self.assert_touch_targets()
        self.shot("amount")

        self.tap_text("Betalen")
        self.wait_screen("source")  # budget and own balance can both pay: the member chooses
        self.assert_touch_targets()
        self.shot("source")
        self.tap_text("Boodschappenbudget Gemeente")
        self.wait_screen("confirm")
        self.assertIn("Boodschappenbudget Gemeente: fl 12,50", self.shown_text())
        self.assertEqual(self.records(), [])  # nothing moves before the confirm step
        self.assert_touch_targets()
        self.shot("confirm")

        self.tap_text("Bevestigen")
        self.wait_screen("done")
        self.wait(lambda: self.ctl.receipt_state == "printed")
        recs = self.records()
        self.assertEqual([(r.kind, r.fl_cents, r.budget_id) for r in recs],
                         [(Kind.SPEND, 1250, "B-gemeente-boodschap-1")])
        self.assertEqual(len(self.printer.docs), 1)
        shown = self.shown_text()
        self.assertIn("Betaald", shown)
        self.assertIn("fl 12,50", shown)
        self.assertIn("Bon afgedrukt", shown)
        self.assert_touch_targets()
        self.shot("done")

    def test_mixed_payment_with_cash_rest_and_timeout_back_to_idle(self):
        self.ctl.settings = type(self.ctl.settings)(done_timeout_s=4)  # margin for a slow machine to see "done"
        self.sign_in()
        self.present("bram")  # fl 5 offline allowance: a fl 12,50 sale is partly euros
        self.wait_screen("member")
        self.tap(self.screen().ids.amount)
        self.wait_screen("amount")
        self.type_keys(self.screen().ids.keypad, "12,50")
        self.tap_text("Betalen")
        self.wait_screen("confirm")
        self.assertIn("Bij te betalen: € 7,50", self.shown_text())
        self.shot("confirm-tender")
        self.tap_text("Rest contant")
        self.wait_screen("done")
        recs = self.records()
        self.assertEqual([(r.kind, r.fl_cents, r.eur_cents, r.tender) for r in recs],
                         [(Kind.SPEND, 500, 750, Tender.CASH)])
        self.wait_screen("idle", timeout_s=10)  # back to the card prompt by itself
        self.assertIsNone(self.ctl.member)


    def test_save_and_top_up(self):
        self.sign_in()
        self.present("dirk")  # not in the snapshot: cannot pay offline, but saving and top-up work
        self.wait_screen("member")
        self.tap(self.screen().ids.amount)
        self.wait_screen("amount")
        self.type_keys(self.screen().ids.keypad, "20")
        self.tap_text("Sparen over\n€ 20,00")
        self.wait_screen("confirm")
        shown = self.shown_text()
        self.assertIn("Sparen over een aankoop van € 20,00", shown)
        self.assertIn("Actie: Zomermarkt: dubbel sparen", shown)
        self.assertIn("Klant krijgt fl 2,00", shown)  # 5 % doubled by the campaign
        self.shot("confirm-save")
        self.tap_text("Bevestigen")
        self.wait_screen("done")
        self.assertIn("Gespaard", self.shown_text())
        self.assertIn("fl 2,00 voor € 20,00", self.shown_text())
        self.tap(self.screen().ids.done)
        self.wait_screen("idle")

        self.present("dirk")
        self.wait_screen("member")
        self.tap(self.screen().ids.amount)
        self.wait_screen("amount")
        self.type_keys(self.screen().ids.keypad, "5")
        self.tap_text("Opwaarderen\n€ 5,00")
        self.wait_screen("confirm")
        self.assertIn("Klant betaalt € 5,00 (contant of pin)", self.shown_text())
        self.tap_text("Contant ontvangen")
        self.wait_screen("done")
        self.assertIn("Opgewaardeerd", self.shown_text())
        self.assertEqual([(r.kind, r.fl_cents, r.eur_cents, r.tender) for r in self.records()],
                         [(Kind.SAVE, 200, 2000, Tender.NONE), (Kind.TOPUP, 500, 500, Tender.CASH)])
