"""The demo's tour of the till app (floreyn.terminal.app.tour, what `make demo` shows without a display), run on the
demo till at both panel sizes: it must show the bank-card question ("Is de pinbetaling gelukt?") and the manager's
PIN for a cashier's day close (issue 17 items 9 and 11). And the README, the demo and the app agree on which keys
lay which demo card.

Before: the tour paid only from Floreyn (no "Rest met pin", so never the bank-card question) and signed a manager
in to close the day.
"""
import json
import re
import time
from pathlib import Path

import pytest

from floreyn import demo
from floreyn.terminal.app.tour import Tour
from floreyn.terminal.app.widgets import money_guard
from support import kivy_env
from till_ui import TillUITest

pytestmark = pytest.mark.ui

README = Path(__file__).resolve().parents[3] / "README.md"


class TourWalk(TillUITest):
    __test__ = False

    def test_the_tour_shows_the_bank_card_question_and_the_managers_pin(self):
        money_guard._clock = time.monotonic  # the tour waits in real time, as the demo does (tearDown restores it)
        out = kivy_env.artifacts_dir() / f"tour-{self.size_tag}"
        out.mkdir(exist_ok=True)
        for old in out.glob("*.png"):
            old.unlink()
        tour = Tour(self.root, self.runtime, out)
        tour.run(demo.CASHIER_PIN, demo.MANAGER_PIN)
        (out / "index.json").write_text(json.dumps(tour.shots, indent=1, ensure_ascii=False) + "\n")
        screens = [s["screen"] for s in tour.shots]
        for wanted in ("bankcard", "managerpin", "refused", "report"):
            self.assertIn(wanted, screens)
        self.assertLess(screens.index("confirm"), screens.index("bankcard"))
        by_file = {s["file"]: s for s in tour.shots}
        refused = next(f for f in by_file if "pincode-beheerder-fout" in f)
        self.assertEqual(by_file[refused]["screen"], "managerpin")
        for shot in tour.shots:
            kivy_env.assert_not_blank(out / shot["file"])
        self.assertEqual(self.records()[-1].kind.name, "DAY_CLOSE")
        self.assertEqual(self.ctl.screen, "signin")


class TestTour800(TourWalk):
    __test__ = True
    window_size = kivy_env.SIZES["800x480"]


class TestTour1024(TourWalk):
    __test__ = True
    window_size = kivy_env.SIZES["1024x600"]


class TestDemoKeys(TillUITest):
    def test_readme_demo_and_app_agree_on_the_demo_card_keys(self):
        cards = [(c.key, c.name) for c in self.runtime.demo_cards]
        text = " ".join(README.read_text(encoding="utf-8").split())
        listed = re.search(r"keys 1–(\d), lays a demo card on the reader: (.*?)\. Receipts", text)
        assert listed, "README: the demo card keys are not listed"
        self.assertEqual(re.findall(r"(\d) (\w+)", listed.group(2)), cards)
        self.assertEqual(listed.group(1), cards[-1][0])
        last = cards[-1][0]
        self.assertIn(f"keys 1–{last} or the *Demopas* button", text)  # the demo's steps in the README
        source = Path(demo.__file__).read_text(encoding="utf-8")
        self.assertIn(f"toetsen 1-{last}", source)
        self.assertIn(f"keys 1-{last}", source)
        for key, _name in cards:  # each key lays its card, as the README says
            self.ctl.back_to_idle()
            self.assertTrue(self.root.present_demo(key))
        self.assertFalse(self.root.present_demo(str(int(last) + 1)))
