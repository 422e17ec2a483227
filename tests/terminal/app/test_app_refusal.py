"""Issue 17 item 3: a refused card fills the screen in the refusal colour with the reason and what to do, and
stays until a tap or the next card (before: a thin red strip under a big "Houd de pas bij de lezer")."""
import pytest

from floreyn.terminal.app import theme
from support import kivy_env
from till_ui import TillUITest

pytestmark = pytest.mark.ui


class RefusalWalk(TillUITest):
    __test__ = False

    def test_a_blocked_card_is_a_full_screen_state_until_a_tap_or_the_next_card(self):
        self.sign_in()
        self.present("cees")  # blocked
        self.wait_screen("refused")
        shown = self.shown_text()
        self.assertIn("Pas geblokkeerd", shown)
        self.assertIn("Neem deze pas niet aan", shown)
        self.assertNotIn("Houd de pas bij de lezer", shown)
        self.shot("refused-blocked")
        scr = self.screen()
        self.assertEqual(tuple(scr.size), tuple(self.root.ids.sm.size))  # the whole screen area
        self.pump(1.0)
        self.assertEqual(self.ctl.screen, "refused")  # it stays
        self.present("anna")  # the next card
        self.wait_screen("member")
        self.tap(self.screen().ids.cancel)
        self.wait_screen("idle")
        self.present("cees")
        self.wait_screen("refused")
        self.tap_at(self.screen().to_window(*self.screen().center))  # a tap anywhere
        self.wait_screen("idle")
        self.assertIsNone(self.ctl.refusal)
        self.assertEqual(theme.DANGER[:3], theme.rgba("#B00020")[:3])

    def test_a_torn_read_asks_to_hold_still_and_keeps_the_typed_amount(self):
        """A card that moved while it was read refuses nothing: the member screen and the amount typed stay
        (before: the refusal screen, and the sale was gone), and the strip asks to hold the card still."""
        self.sign_in()
        self.present("anna")
        self.wait_screen("member")
        self.tap(self.screen().ids.amount)
        self.wait_screen("amount")
        self.type_keys(self.screen().ids.keypad, "12,5")
        self.runtime.reader.present_torn()
        self.wait(lambda: "stil" in self.ctl.message)
        self.assertEqual(self.ctl.screen, "amount")
        self.assertEqual(self.screen().ids.display.text, "12,5")
        self.assertIn("Houd hem stil tegen de lezer", self.shown_text(self.root))
        self.shot("torn-read-amount")
        self.tap_text("Betalen")
        self.wait_screen("source")  # the sale goes on, for the same member
        self.assertIn("Anna", self.ctl.member.alias)
        self.present("cees")  # blocked: the refusal screen
        self.wait_screen("refused")
        self.runtime.reader.present_torn()  # a new try that broke off: back to the prompt, which says why
        self.wait_screen("idle")
        self.assertIn("stil", self.ctl.message)


class TestRefusal800(RefusalWalk):
    __test__ = True
    window_size = kivy_env.SIZES["800x480"]


class TestRefusal1024(RefusalWalk):
    __test__ = True
    window_size = kivy_env.SIZES["1024x600"]
