"""Issue 17 items 6, 7 and 8, over every screen at 800x480 and 1024x600, driven by touches:

- text is at least its role's size in millimetres on the glass (keys, amounts, body, secondary);
- every text has WCAG AA contrast (4.5:1) against what it is drawn on;
- no word is broken inside, no amount, date or "fl"/"€" is split over two lines, nothing overflows its box;
- with no trustworthy DPI (96 from the desktop, no KIVY_DPI) the panel's size from config decides.

Before: keypad digits at 22 px (the key font overridden by widgets.kv), 18 px status lines, the green
"Gesynchroniseerd" banner at 2.66:1, "Annuler/en" and "€ / 24,50" broken over lines.
"""
import math
import re

import pytest
from kivy.uix.label import Label

from floreyn.terminal.app import theme
from floreyn.terminal.drivers.base import ReaderState
from floreyn.terminal.app.widgets import Banner, KeyButton, TButton
from support import kivy_env
from till_ui import TillUITest

pytestmark = pytest.mark.ui

AA = 4.5


def luminance(rgba) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgba[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a, b) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


class Readability(TillUITest):
    __test__ = False

    def background(self, label):
        if isinstance(label, TButton):
            return theme.DISABLED_BG if label.disabled else label.bg
        if isinstance(label, Banner):
            return {"error": theme.BANNER_ERROR, "info": theme.BANNER_INFO}.get(label.level, theme.BANNER_WARN)
        w, seen = label.parent, set()
        while w is not None and id(w) not in seen:  # the window is its own parent
            seen.add(id(w))
            if w is self.root.ids.header.__self__:
                return theme.NEUTRAL
            if type(w).__name__ == "RefusedScreen":
                return theme.DANGER
            w = w.parent
        return theme.BACKGROUND

    def labels(self):
        for container in (self.screen(), self.root.ids.header, self.root.ids.banner, self.root.ids.status):
            for w in ([container] if isinstance(container, Label) else container.walk(restrict=True)):
                if isinstance(w, Label) and w.text.strip() and w.opacity > 0 and w.width > 1:
                    yield w

    def check(self, what: str) -> None:
        self.pump(0.1)
        dpi = theme.theme.dpi
        problems = []
        for label in self.labels():
            label.texture_update()
            text = label.text.replace("\n", " / ")
            need_mm = theme.KEY_MIN_MM if isinstance(label, KeyButton) else theme.SECONDARY_MIN_MM
            if label.font_size < math.ceil(need_mm * dpi / 25.4) - 0.5:
                problems.append(f"{text!r}: {label.font_size:.0f} px < {need_mm} mm")
            fg = theme.DISABLED_TEXT if isinstance(label, TButton) and label.disabled else label.color
            ratio = contrast(fg, self.background(label))
            if ratio < AA:
                problems.append(f"{text!r}: contrast {ratio:.2f}:1")
            if label.texture_size[0] > label.width + 2:
                problems.append(f"{text!r}: {label.texture_size[0]:.0f} px wide in {label.width:.0f}")
            lines = [" ".join(w.text for w in line.words).strip() for line in label._label._cached_lines]
            lines = [line for line in lines if line]
            rendered = " ".join(" ".join(lines).split())
            wanted = " ".join(label.text.split())
            if rendered.replace(" ", "") == wanted.replace(" ", "") and rendered != wanted:
                problems.append(f"{text!r}: broken inside a word: {lines}")
            for a, b in zip(lines, lines[1:], strict=False):
                if (re.search(r"(?:\bfl|€|\(tot|\(until)$", a) and re.match(r"^\d", b)) or (
                        re.search(r"\d$", a) and re.match(r"^(?:/|min\b|s\b)", b)):
                    problems.append(f"{text!r}: an amount or date split: {a!r} / {b!r}")
        problems += self.header_overflow()
        assert not problems, f"{self.size_tag} {what}:\n" + "\n".join(problems)

    def test_every_screen_is_readable(self):
        self.check("signin")
        self.sign_in("9999")
        self.check("idle")
        self.present("fenna")
        self.wait_screen("member")
        self.check("member")
        self.tap(self.screen().ids.amount)
        self.wait_screen("amount")
        self.type_keys(self.screen().ids.keypad, "99,5")
        self.check("amount")
        self.tap_text("Betalen")
        self.wait_screen("source")
        self.check("source")
        self.tap_text("Gecombineerd")
        self.wait_screen("confirm")
        self.check("confirm")
        self.tap_text("Rest met pin")
        self.wait_screen("bankcard")
        self.check("bankcard")
        self.tap(self.screen().ids.yes)
        self.wait_screen("done")
        self.check("done")
        self.tap(self.screen().ids.done)
        self.wait_screen("idle")
        self.tap(self.screen().ids.manager)
        self.wait_screen("manager")
        self.check("manager")
        self.tap(self.screen().ids.status)
        self.wait_screen("status")
        self.check("status")
        self.tap(self.screen().ids.back)
        self.wait_screen("manager")
        self.tap(self.screen().ids.refund)
        self.wait_screen("refunds")
        self.check("refunds")
        self.tap(self.screen().ids.back)
        self.wait_screen("manager")
        self.ctl.show_text(lambda: "Gesynchroniseerd met de server.", "info")
        self.check("info banner")
        self.tap(self.screen().ids.dayclose)
        self.wait_screen("dayclose")
        self.check("dayclose")
        self.present("cees")
        self.wait_screen("refused")
        self.check("refused")

    def test_the_manager_pin_screen_is_readable(self):
        self.sign_in("1234")  # a cashier closes the day: the manager's PIN screen, then its refusal over the header
        self.open_day_close()
        self.tap(self.screen().ids.confirm)
        self.wait_screen("managerpin")
        self.check("managerpin")
        self.type_keys(self.screen().ids.keypad, "5555")
        self.tap(self.screen().ids.confirm)
        self.wait(lambda: "Onjuiste pincode" in self.banner())
        self.check("managerpin with a refusal")
        self.ctl.show_text(lambda: "Tik nog een keer op Uitzetten om de kassa uit te zetten. "
                                   "Wacht tot het scherm donker is voordat je de stekker eruit trekt.", "warn")
        self.check("a long warning")


    def test_the_header_offline_with_the_reader_away(self):
        self.sign_in()  # the demo till has no server: offline, the chip in the header
        self.wait(lambda: self.root.ids.sync.text == "Offline")
        self.reader_reports(ReaderState.UNAVAILABLE, "Geen kaartlezer gevonden.")
        self.check("offline, reader unplugged")
        self.reader_reports(ReaderState.RECONNECTING)
        self.check("offline, reader reconnecting")
        self.tap(self.root.ids.sync)
        self.check("the offline chip explained")
        self.tap(self.root.ids.banner)
        self.tap_text("English")
        self.check("offline, reader reconnecting, in English")


class TestReadable800(Readability):
    __test__ = True
    window_size = kivy_env.SIZES["800x480"]


class TestReadable1024(Readability):
    __test__ = True
    window_size = kivy_env.SIZES["1024x600"]


class TestPanelSizeWhenDpiIsUntrustworthy(TillUITest):
    dpi = 96.0  # what an X11 desktop says whatever the glass

    def test_touch_targets_come_from_the_panel_size(self):
        official = theme.panel_dpi((800, 480), theme.OFFICIAL_PANEL_MM)
        self.assertAlmostEqual(theme.theme.dpi, official, places=3)
        self.assertGreater(theme.theme.dpi, 130)
        for b in self.buttons(self.screen()):
            if b.opacity > 0 and not b.disabled:
                self.assertGreaterEqual(min(b.size) * 25.4 / official, 9.0 - 0.01, b.text)
