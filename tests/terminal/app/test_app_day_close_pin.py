"""Issue 17 item 11: closing the day is a manager's act. A cashier who closes the day is asked for a manager's
PIN on a screen of its own; a wrong PIN (or the cashier's own) is refused with the reason and nothing is
written; "Annuleren" goes back to the manager's menu; [till] day_close_needs_manager = false lets a cashier
close the day. Driven by touches at both panel sizes, with screenshots of the new states.

Before: the app sent a cashier's day close without a PIN, so the engine refused it ("Hiervoor is de pincode van
een beheerder nodig.") and the app offered no way to type one.
"""
from dataclasses import replace

import pytest

from floreyn.sync.record import Kind
from floreyn.terminal.app.guard import CONFIRM_READ_S
from support import kivy_env
from till_ui import TillUITest

pytestmark = pytest.mark.ui


class DayCloseWalk(TillUITest):
    __test__ = False

    def to_day_close(self) -> None:
        self.open_day_close()
        self.tap(self.screen().ids.confirm)

    def day_closes(self) -> list:
        return [r for r in self.records() if r.kind is Kind.DAY_CLOSE]

    def test_a_cashier_closes_the_day_with_a_managers_pin(self):
        self.sign_in("1234")  # a cashier
        self.to_day_close()
        self.wait_screen("managerpin")
        scr = self.screen()
        self.assertIn("Pincode beheerder", self.shown_text())
        self.assertIn("Alleen een beheerder mag de dag afsluiten", self.shown_text())
        self.assert_touch_targets()
        self.shot("manager-pin")

        self.type_keys(scr.ids.keypad, "99")
        self.tap(scr.ids.cancel)  # back to the menu, nothing closed, the half-typed PIN forgotten
        self.wait_screen("manager")
        self.assertEqual(self.day_closes(), [])
        self.tap(self.screen().ids.dayclose)
        self.wait_screen("dayclose")
        self.tap(self.screen().ids.confirm)
        self.wait_screen("managerpin")
        self.assertEqual(scr.pin_text, "")

        self.type_keys(scr.ids.keypad, "1234")  # the cashier's own PIN is not a manager's
        self.tap(scr.ids.confirm)
        self.wait(lambda: "beheerder" in self.banner(), what="the refusal")
        self.assertEqual((self.ctl.screen, scr.pin_text, self.day_closes()), ("managerpin", "", []))
        self.shot("manager-pin-refused")
        self.type_keys(scr.ids.keypad, "5")
        self.assertEqual(self.ctl.message, "")  # typing again puts the mistake right: the refusal goes
        self.assertNotIn("beheerder", self.banner())
        self.type_keys(scr.ids.keypad, "555")
        self.tap(scr.ids.confirm)
        self.wait(lambda: "Onjuiste pincode" in self.banner(), what="the wrong PIN refused")
        self.assertEqual((self.ctl.screen, self.day_closes()), ("managerpin", []))

        self.type_keys(scr.ids.keypad, "9999")
        self.tap(scr.ids.confirm)
        self.wait_screen("report")
        self.wait(lambda: "Dagafsluiting" in self.ctl.report_text)
        self.assertEqual(len(self.day_closes()), 1)
        self.assertEqual(self.ctl.operator, "Kassa")  # the cashier stays signed in; the manager only vouched

    def test_the_pin_screen_takes_no_tap_before_it_could_be_read(self):
        self.sign_in("1234")
        self.to_day_close()
        self.wait_screen("managerpin")
        scr = self.screen()
        self.type_keys(scr.ids.keypad, "9999")
        scr.ids.confirm.ready_at = self.tap_clock.now + CONFIRM_READ_S  # as if the screen had just appeared
        self.tap(scr.ids.confirm, after_s=0.3)
        self.pump(0.2)
        self.assertEqual((self.ctl.screen, self.day_closes()), ("managerpin", []))

    def test_a_manager_is_not_asked_again(self):
        self.sign_in("9999")
        self.to_day_close()
        self.wait_screen("report")
        self.assertEqual(len(self.day_closes()), 1)


class TestDayClosePin800(DayCloseWalk):
    __test__ = True
    window_size = kivy_env.SIZES["800x480"]


class TestDayClosePin1024(DayCloseWalk):
    __test__ = True
    window_size = kivy_env.SIZES["1024x600"]


class TestDayCloseByAnyOperator(TillUITest):
    """[till] day_close_needs_manager = false: the cashier's tap on "Dag afsluiten" closes the day."""

    def configure(self, config):
        return replace(config, till=replace(config.till, day_close_needs_manager=False))

    def test_a_cashier_closes_the_day_without_a_pin(self):
        self.sign_in("1234")
        self.open_day_close()
        self.tap(self.screen().ids.confirm)
        self.wait_screen("report")
        self.assertEqual([r.kind for r in self.records()], [Kind.DAY_CLOSE])
