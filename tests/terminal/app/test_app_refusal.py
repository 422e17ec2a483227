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


class TestRefusal800(RefusalWalk):
    __test__ = True
    window_size = kivy_env.SIZES["800x480"]


class TestRefusal1024(RefusalWalk):
    __test__ = True
    window_size = kivy_env.SIZES["1024x600"]
