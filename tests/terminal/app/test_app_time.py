"""Issue 17 item 5: one time zone, the cooperative's, on screen and on paper. The refund list showed the
machine's local time (19:55) while the receipt said Europe/Amsterdam (20:55)."""
import os
import re
import time

import pytest

from till_ui import TillUITest

pytestmark = pytest.mark.ui


class TestOneTimeZone(TillUITest):
    def setUp(self):
        self._tz = os.environ.get("TZ")
        os.environ["TZ"] = "America/New_York"  # a machine whose clock is set to anything but Amsterdam
        time.tzset()
        super().setUp()

    def tearDown(self):
        try:
            super().tearDown()
        finally:
            if self._tz is None:
                os.environ.pop("TZ", None)
            else:
                os.environ["TZ"] = self._tz
            time.tzset()

    def test_refund_list_shows_the_receipts_time(self):
        self.sign_in("9999")
        self.present("bram")
        self.wait_screen("member")
        self.tap(self.screen().ids.amount)
        self.type_keys(self.screen().ids.keypad, "2")
        self.tap_text("Betalen")
        self.wait_screen("confirm")
        self.tap_text("Bevestigen")
        self.wait_screen("done")
        self.wait(lambda: len(self.printer.docs) == 1)
        receipt_time = re.search(r"Datum\s+\d\d-\d\d-\d{4} (\d\d:\d\d)", self.printer.docs[0].text(32)).group(1)
        self.tap(self.screen().ids.done)
        self.wait_screen("idle")
        self.tap(self.screen().ids.manager)
        self.wait_screen("manager")
        self.tap(self.screen().ids.refund)
        self.wait_screen("refunds")
        self.wait(lambda: "Nr. 1" in self.shown_text())
        row = next(line for line in self.shown_text().splitlines() if line.startswith("Nr. 1"))
        self.assertIn(receipt_time, row)
