"""Every screen on the 1024x600 panel (the flow tests cover 800x480): shown, >= 9 mm targets, saved as PNG.

One walk through the app by touch, at the DPI of a 7" 1024x600 panel (170 dpi: 9 mm = 61 px).
"""
import pytest

from floreyn.terminal.drivers.base import PrinterCoverOpen
from support import kivy_env
from till_ui import TillUITest

pytestmark = pytest.mark.ui


class TestGallery1024(TillUITest):
    window_size = kivy_env.SIZES["1024x600"]

    def visit(self, name: str, shot: str | None = None) -> None:
        self.wait_screen(name)
        self.assert_touch_targets()
        self.shot(shot or name)

    def test_every_screen(self):
        self.visit("signin")
        self.sign_in("9999")
        self.visit("idle")
        self.present("fenna")
        self.visit("member")
        self.tap(self.screen().ids.amount)
        self.visit("amount")
        self.type_keys(self.screen().ids.keypad, "9,5")
        self.tap_text("Betalen")
        self.visit("source")
        self.tap_text("Zomerbudget")
        self.visit("confirm")
        self.printer.fail_with(PrinterCoverOpen())
        self.tap_text("Bevestigen")
        self.wait(lambda: self.ctl.receipt_state == "failed")
        self.visit("done", "done-printer-failed")
        self.printer.fail_with(None)
        self.tap(self.screen().ids.reprint)
        self.wait(lambda: self.ctl.receipt_state == "printed")
        self.shot("done")
        self.tap(self.screen().ids.done)
        self.wait_screen("idle")
        self.tap(self.screen().ids.manager)
        self.visit("manager")
        self.tap(self.screen().ids.refund)
        self.visit("refunds")
        self.tap_text("fl 9,50")
        self.visit("amount", "amount-refund")
        self.tap_text("Alles terugbetalen")
        self.visit("confirm", "confirm-refund")
        self.tap_text("Annuleren")
        self.wait_screen("manager")
        self.tap(self.screen().ids.status)
        self.visit("status")
        self.tap(self.screen().ids.back)
        self.wait_screen("manager")
        self.tap(self.screen().ids.dayclose)
        self.visit("dayclose")
        self.tap(self.screen().ids.confirm)
        self.wait(lambda: "Dagafsluiting" in self.ctl.report_text)
        self.visit("report")
