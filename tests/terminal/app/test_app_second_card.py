"""Issue 15 (a block budget spent together) and issue 17 item 4, through the till's screens with touches at
both panel sizes: after Bevestigen a block-budget payment above the funder's threshold asks "Tweede bewoner:
houd uw pas bij de lezer", refuses a card that is not another tenant's of the group (in Dutch, still waiting),
books with the second tenant's card, and prints who confirmed it and what is left of the budget until when;
offline the member screen names the balance and what can be spent without a connection, both."""
import sys
from pathlib import Path

import pytest

from floreyn.terminal import demo_setup
from floreyn.terminal.drivers.escpos_render import choose_codepage, render_doc
from support import kivy_env
from test_app_layout import _overlap, _rect  # the layout walk's geometry: one definition
from till_ui import TillUITest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "drivers"))
from escpos_decode import decode as decode_escpos  # noqa: E402

pytestmark = pytest.mark.ui


class SecondCardWalk(TillUITest):
    __test__ = False

    def pay_from_the_block_budget(self, fl: str) -> None:
        self.present("gijs")
        self.wait_screen("member")
        self.tap(self.screen().ids.amount)
        self.type_keys(self.screen().ids.keypad, fl)
        self.tap_text("Betalen")
        self.wait_screen("source")  # his own balance and the block budget can pay
        self.tap_text("Blokbudget Portaal")
        self.wait_screen("confirm")

    def test_a_second_tenants_card_confirms_a_block_budget_payment(self):
        self.sign_in()
        self.present("gijs")
        self.wait_screen("member")
        member = self.shown_text()
        self.assertIn("Saldo (laatst bekend): fl 62,50", member)  # the balance, named ...
        self.assertIn("Zonder verbinding te besteden: fl 10,00", member)  # ... and the offline allowance
        self.tap(self.screen().ids.cancel)
        self.wait_screen("idle")

        self.pay_from_the_block_budget("20")
        confirm = self.button("Bevestigen")
        confirm_rect = _rect(confirm)
        self.tap(confirm)
        self.wait_screen("secondcard")
        self.pump(0.1)
        shown = self.shown_text()
        self.assertIn("Tweede bewoner: houd uw pas bij de lezer", shown)
        self.assertIn("Een andere bewoner uit de groep moet deze betaling van fl 20,00 uit Blokbudget Portaal "
                      "goedkeuren.", shown)
        cancel = self.button("Annuleren")
        self.assertFalse(_overlap(_rect(cancel), confirm_rect), "Annuleren lies under Bevestigen")
        self.shot("second-card")
        self.assertEqual(self.records(), [])

        for name, why in (("gijs", "dezelfde pas als die van de betaler"),
                          ("bram", "hoort niet bij een bewoner van dezelfde groep")):
            self.present(name)
            self.wait(lambda why=why: why in self.ctl.message, what=f"refusal of {name}")
            self.assertEqual(self.ctl.screen, "secondcard")  # still waiting for a tenant of the group
            self.assertIn("andere bewoner uit de groep", self.ctl.message)
        self.shot("second-card-refused")
        self.assertEqual(self.records(), [])

        self.present("hanna")
        # Offline the payment goes onto the payer's card: it comes back to the reader after the second card.
        self.wait(lambda: "Houd nu de pas van Gijs weer bij de lezer" in self.shown_text(), what="the payer again")
        self.shot("second-card-payer-again")
        self.present("bram")  # not the payer's card
        self.wait(lambda: "pas van de betaler weer bij de lezer" in self.ctl.message, what="refusal of bram")
        self.assertEqual((self.ctl.screen, self.records()), ("secondcard", []))
        self.present("gijs")
        self.wait_screen("done")
        [rec] = self.records()
        self.assertEqual((rec.budget_id, rec.fl_cents), (demo_setup.DEMO_BLOCK_BUDGET, 2_000))
        self.assertEqual(rec.confirm_card_hex, demo_setup.demo_card_id("hanna").hex())
        self.wait(lambda: self.printer.docs, what="the receipt")
        data = render_doc(self.printer.docs[-1], profile="ZJ-5870", columns=32, codepage=choose_codepage("ZJ-5870"))
        paper = decode_escpos(data, "ZJ-5870").text(32)
        for line in ("Blokbudget Portaal", "  betaald", "  nog over", "fl 280,00", "  geldig t/m",
                     "  bevestigd met pas"):
            self.assertIn(line, paper)

    def test_cancel_while_waiting_books_nothing_and_the_next_card_is_a_customer(self):
        self.sign_in()
        self.pay_from_the_block_budget("15")
        self.tap_text("Bevestigen")
        self.wait_screen("secondcard")
        self.tap(self.button("Annuleren"))
        self.wait_screen("amount")
        self.present("hanna")
        self.wait_screen("member")
        self.assertEqual(self.ctl.member.alias, "Hanna")
        self.assertEqual(self.records(), [])


class TestSecondCard800(SecondCardWalk):
    __test__ = True
    window_size = kivy_env.SIZES["800x480"]


class TestSecondCard1024(SecondCardWalk):
    __test__ = True
    window_size = kivy_env.SIZES["1024x600"]
