"""Issue 17 items 4 and 12: the Dutch a shopkeeper reads, driven by touch through the real screens.

Each check names the words that misled or read oddly before ("poging(en)", "categorie winkel" for a
budget that is for odd jobs, "Eigen saldo" for what was paid, "met welk budget?", an unfinished hint).
"""
import pytest

from till_ui import TillUITest

pytestmark = pytest.mark.ui


class TestWording(TillUITest):
    def test_wrong_pin_says_how_many_tries_are_left_in_plain_dutch(self):
        scr = self.screen("signin")
        self.type_keys(scr.ids.keypad, "5555")
        self.tap(scr.ids.submit)
        self.wait(lambda: "pincode" in self.ctl.message)
        self.assertIn("Onjuiste pincode. U kunt het nog 4 keer proberen, daarna gaat de kassa even op slot.",
                      self.ctl.message)
        self.assertNotIn("(en)", self.ctl.message)

    def test_member_amount_source_and_confirm_screens_say_what_happens(self):
        self.sign_in()
        self.present("anna")  # Onderhoudsbudget Portaal is for odd jobs; this till is a shop
        self.wait_screen("member")
        shown = self.shown_text()
        self.assertIn("Onderhoudsbudget Portaal: alleen voor klussen, niet hier", shown)
        self.assertNotIn("categorie winkel", shown)
        self.tap(self.screen().ids.amount)
        self.wait_screen("amount")
        self.assertIn("Toets het bedrag in en tik dan op een knop", self.shown_text())
        self.type_keys(self.screen().ids.keypad, "10")
        self.tap_text("Betalen")
        self.wait_screen("source")
        shown = self.shown_text()
        self.assertIn("Waarmee wordt fl 10,00 betaald?", shown)
        self.assertNotIn("met welk budget", shown)
        self.tap_text("Van eigen saldo")
        self.wait_screen("confirm")
        shown = self.shown_text()
        self.assertIn("Van eigen saldo: fl 10,00", shown)  # what is paid from it, not what is left
        self.assertNotIn("Eigen saldo: fl 10,00", shown)
        self.tap_text("Bevestigen")
        self.wait_screen("done")
        self.wait(lambda: len(self.printer.docs) == 1)
        receipt = self.printer.docs[0].text(32)
        self.assertIn("Van eigen saldo", receipt)
        self.assertNotIn("€ 10,00", receipt)  # paid wholly in Floreyn: no euro total
