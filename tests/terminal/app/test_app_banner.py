"""Issue 17 item 11: a banner never moves the keypad, and a refusal goes once the mistake is being put right.

The banner lies over the header (the fixed slot), not in the column above the screen: before, a wrong PIN's
banner pushed the whole screen down by its height, so the next tap meant for "5" landed on "8" or "2".
Driven by touches at both panel sizes; the screenshots show the banner over the header with the keypad in place.
"""
import pytest

from support import kivy_env
from till_ui import TillUITest

pytestmark = pytest.mark.ui


def places(widgets) -> list[tuple[float, float, float, float]]:
    return [(*w.to_window(w.x, w.y), w.width, w.height) for w in widgets]


class BannerWalk(TillUITest):
    __test__ = False

    def keys_and_buttons(self):
        scr = self.screen()
        return [*scr.ids.keypad.children, *self.buttons(scr)]

    def assert_in_place(self, before, what: str) -> None:
        self.pump(0.1)  # a layout pass after the banner changed
        after = places(self.keys_and_buttons())
        self.assertEqual(after, before, f"{self.size_tag}: {what} moved the keypad or the buttons")

    def banner_shows(self, words: str) -> None:
        self.wait(lambda: words in self.banner(), what=f"banner {words!r}")
        banner, header = self.root.ids.banner, self.root.ids.header
        self.assertGreater(banner.height, 0)
        self.assertGreaterEqual(banner.y, header.y - 1)  # within the header's slot: the screen is not covered

    def test_a_wrong_pin_does_not_move_the_keypad(self):
        scr = self.screen("signin")
        before = places(self.keys_and_buttons())
        self.type_keys(scr.ids.keypad, "55")
        self.tap(scr.ids.submit)  # too short
        self.banner_shows("minstens 4 cijfers")
        self.assert_in_place(before, "the 'too short' banner")
        self.type_keys(scr.ids.keypad, "5")
        self.assertEqual(self.ctl.message, "")  # typing puts it right: the refusal goes
        self.assert_in_place(before, "the banner going")
        self.type_keys(scr.ids.keypad, "55")
        self.tap(scr.ids.submit)  # a wrong PIN
        self.banner_shows("Onjuiste pincode")
        self.assert_in_place(before, "the wrong PIN's banner")
        self.shot("banner-over-keypad")
        self.type_keys(scr.ids.keypad, "1234")
        self.assertEqual(self.ctl.message, "")
        self.tap(scr.ids.submit)
        self.wait_screen("idle")

    def test_no_amount_does_not_move_the_keypad_and_typing_one_clears_it(self):
        self.sign_in()
        self.present("eva")
        self.wait_screen("member")
        self.tap(self.screen().ids.amount)
        self.wait_screen("amount")
        before = places(self.keys_and_buttons())
        self.tap_text("Betalen")  # nothing typed
        self.banner_shows("Vul een bedrag in")
        self.assert_in_place(before, "the 'no amount' banner")
        self.shot("banner-over-amount-keypad")
        self.type_keys(self.screen().ids.keypad, "2")
        self.assertEqual(self.ctl.message, "")
        self.assert_in_place(before, "the banner going")
        self.ctl.show_text(lambda: "Let op: dit is een waarschuwing.", "warn")
        self.type_keys(self.screen().ids.keypad, "5")
        self.assertEqual(self.ctl.message, "Let op: dit is een waarschuwing.")  # typing puts right refusals only

    def test_a_tap_on_the_banner_clears_a_refusal_and_reaches_nothing_under_it(self):
        scr = self.screen("signin")
        self.tap(scr.ids.submit)
        self.banner_shows("minstens 4 cijfers")
        banner = self.root.ids.banner
        self.tap_at(banner.to_window(*banner.center))
        self.assertEqual((self.ctl.message, self.ctl.screen), ("", "signin"))
        self.ctl.show_text(lambda: "Een lange melding. " * 12)  # longer than the header holds: it covers the top
        self.pump(0.1)
        self.assertGreater(banner.height, self.root.ids.header.height)
        two = scr.ids.keypad.button("2")
        top_of_two = two.to_window(two.x, two.top)[1]
        self.assertLess(banner.y + 2, top_of_two)  # the banner lies over the key "2"
        self.tap_at((two.to_window(*two.center)[0], banner.y + 2))
        self.assertEqual(self.ctl.message, "")
        self.assertEqual(scr.pin_text, "")  # the key under the banner did not take the tap

class TestBanner800(BannerWalk):
    __test__ = True
    window_size = kivy_env.SIZES["800x480"]


class TestBanner1024(BannerWalk):
    __test__ = True
    window_size = kivy_env.SIZES["1024x600"]
