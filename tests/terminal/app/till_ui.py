"""Shared base for the till app's UI tests: a real engine and virtual devices behind the real UI.

Each test builds the demo till (SQLite store in a temp folder, virtual card
reader and printer, the engine's TillService worker) and puts the app's root
widget in the shared offscreen window. Taps are kivy UnitTestTouch events at
a widget's centre; waits pump Kivy's event loop until a condition holds, so
worker results (delivered through Clock) arrive as in the running app.
"""
from __future__ import annotations

import math
import shutil
import tempfile
import time
from pathlib import Path

from support import kivy_env
from support.kivy_testcase import FloreynGraphicTest, UnitTestTouch

from kivy.base import EventLoop  # noqa: E402  (kivy_testcase set the environment)
from kivy.clock import Clock
from kivy.metrics import Metrics

from floreyn.terminal import demo_setup
from floreyn.terminal.config import SecurityConfig
from floreyn.terminal.app import root as root_module
from floreyn.terminal.app import theme
from floreyn.terminal.app.app import build_root
from floreyn.terminal.app.i18n import tr
from floreyn.terminal.app.runtime import build_runtime
from floreyn.terminal.app.widgets import TButton, money_guard

PANEL_DPI = {(800, 480): 133.0, (1024, 600): 170.0}  # the Pi 7" panel; a 7" 1024x600 panel
# Waits end on the condition, never on time; the bound only decides how long a broken test hangs. It is
# generous: the worker's commits fsync, and a loaded 2-core machine can take seconds for one.
WAIT_S = 20.0


class TapClock:
    """The money guard's clock: advances only when a test says (taps are instant in tests)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TillUITest(FloreynGraphicTest):
    window_size = kivy_env.SIZES["800x480"]
    dpi: float | None = None  # default: the panel's (PANEL_DPI)

    def setUp(self):
        super().setUp()
        self._max_fps = Clock._max_fps
        self._active_fps = root_module.ACTIVE_FPS
        root_module.ACTIVE_FPS = 0  # tests pump the loop themselves: no frame pacing while they work it
        self._dpi = Metrics.dpi
        Metrics.dpi = self.dpi or PANEL_DPI[tuple(self.window_size)]
        if tr.lang != "nl":
            tr.switch("nl")
        self.tap_clock = TapClock()
        money_guard._clock = self.tap_clock
        money_guard.reset()
        self.tmp = Path(tempfile.mkdtemp(prefix="floreyn-app-"))
        config = self.configure(demo_setup.demo_config(self.tmp, security=SecurityConfig(scrypt_n=2**4)))
        self.runtime, relay = build_runtime(config, simulate=True)
        self.engine = self.runtime.service.engine
        self.printer = self.runtime.printer
        self.root = build_root(self.runtime, relay, window=self.Window)
        self.ctl = self.root.ctl
        self.render(self.root)
        self.ctl.start()
        self.wait(lambda: self.ctl.merchant is not None and self.ctl.reader_status is not None)

    def tearDown(self):
        try:
            self.ctl.stop()
            self.root.unlisten_keyboard()
            self.runtime.close()
        finally:
            Clock._max_fps = self._max_fps
            root_module.ACTIVE_FPS = self._active_fps
            money_guard._clock = time.monotonic
            Metrics.dpi = self._dpi
            if tr.lang != "nl":
                tr.switch("nl")
            shutil.rmtree(self.tmp, ignore_errors=True)
            super().tearDown()

    def configure(self, config):
        """The demo till's terminal.toml as this test class wants it (a class may change settings)."""
        return config

    # -- driving -------------------------------------------------------------------------------

    @property
    def size_tag(self) -> str:
        return "{}x{}".format(*self.window_size)

    def pump(self, seconds: float = 0.05) -> None:
        end = time.monotonic() + seconds
        while True:
            EventLoop.idle()
            if time.monotonic() >= end:
                return

    def wait(self, condition, timeout_s: float = WAIT_S, what: str = "") -> None:
        end = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > end:
                raise AssertionError(f"timed out waiting for {what or condition}; screen={self.ctl.screen} "
                                     f"message={self.ctl.message!r}")
            EventLoop.idle()
            time.sleep(0.002)
        self.pump(0.02)

    def wait_screen(self, name: str, timeout_s: float = WAIT_S) -> None:
        self.wait(lambda: self.ctl.screen == name and self.root.ids.sm.current == name, timeout_s,
                  what=f"screen {name}")

    def touch(self, widget) -> None:
        """One touch at the widget's centre, down and up."""
        assert widget.get_root_window() is not None, f"{widget} is not on screen"
        self.touch_at(*widget.to_window(*widget.center))

    def touch_at(self, x: float, y: float) -> None:
        """One touch at window position (x, y): whatever is shown there gets it."""
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        touch.touch_up()

    def tap_at(self, pos, after_s: float = 1.0) -> None:
        self.tap_clock.now += after_s
        self.touch_at(*pos)
        self.pump(0.04)

    def tap(self, widget, after_s: float = 1.0) -> None:
        """A deliberate tap: `after_s` after the previous one, as far as the double-tap guard knows.

        Like a person, it waits for a greyed-out button to come alive: a tap on a disabled button
        is lost without a trace, and the test would only time out later, somewhere else.
        """
        if widget.disabled:
            self.wait(lambda: not widget.disabled, what=f"button {getattr(widget, 'text', widget)!r} enabled")
        self.tap_clock.now += after_s
        self.touch(widget)
        self.pump(0.04)  # ButtonBehavior releases after min_state_time (35 ms)

    def screen(self, name: str | None = None):
        return self.root.screen(name or self.ctl.screen)

    def buttons(self, container=None) -> list[TButton]:
        container = container or self.screen()
        return [w for w in container.walk(restrict=True) if isinstance(w, TButton)]

    def button(self, text: str, container=None) -> TButton:
        """The visible button whose text contains `text` (exactly one)."""
        found = [b for b in self.buttons(container) if text in b.text.replace("\u00a0", " ") and b.opacity > 0]
        assert len(found) == 1, f"{len(found)} buttons with {text!r}: {[b.text for b in self.buttons(container)]}"
        return found[0]

    def tap_text(self, text: str, container=None, after_s: float = 1.0) -> None:
        self.tap(self.button(text, container), after_s)

    def type_keys(self, keypad, keys: str) -> None:
        for key in keys:
            self.tap(keypad.button(key), after_s=0.5)

    def shown_text(self, container=None) -> str:
        """All label text on a screen (buttons included), for asserting what the shopkeeper sees."""
        from kivy.uix.label import Label

        container = container or self.screen()
        text = "\n".join(w.text for w in container.walk(restrict=True) if isinstance(w, Label) and w.text)
        return text.replace("\u00a0", " ")  # amounts and dates are joined by no-break spaces (they read the same)

    def banner(self) -> str:
        """What the banners say: a refusal over the header when there is one, else the card's state under it."""
        return (self.root.ids.banner.text or self.root.ids.status.text).replace("\u00a0", " ")

    def present(self, name: str) -> None:
        """Lay demo card `name` on the virtual reader and wait for the member screen."""
        self.runtime.present(demo_setup.demo_payload(name))

    def sign_in(self, pin: str = "1234") -> None:
        scr = self.screen("signin")
        self.type_keys(scr.ids.keypad, pin)
        self.tap(scr.ids.submit)
        self.wait_screen("idle")

    def open_day_close(self) -> None:
        """From the card prompt: Beheer, then "Dag afsluiten": the day close screen that asks first."""
        self.tap(self.screen("idle").ids.manager)
        self.wait_screen("manager")
        self.tap(self.screen().ids.dayclose)
        self.wait_screen("dayclose")

    def shot(self, name: str) -> Path:
        path = kivy_env.save_screenshot(f"app-{name}-{self.size_tag}", self.Window)
        kivy_env.assert_not_blank(path)
        return path

    def records(self):
        return self.engine.store.all_records()

    def assert_touch_targets(self) -> None:
        """Every visible, enabled button on the current screen and the header is >= 9 mm."""
        need = math.ceil(9 * Metrics.dpi / 25.4)
        assert theme.theme.touch_px == need
        for b in self.buttons(self.screen()) + self.buttons(self.root.ids.header):
            if b.opacity == 0 or b.disabled:
                continue
            assert b.width >= need and b.height >= need, (
                f"{self.ctl.screen}: button {b.text!r} is {b.width:.0f}x{b.height:.0f} px, needs {need} px "
                f"(9 mm at {Metrics.dpi} dpi)")

    def header_overflow(self) -> list[str]:
        """What sticks out of the header's box or lies over its neighbour (a long name, a long reader state):
        nothing may, at any panel size (the shop's name gives way first, then the operator and the reader)."""
        header = self.root.ids.header
        shown = [w for w in reversed(header.children) if w.opacity > 0 and w.width > 0]
        problems = [f"{getattr(w, 'text', w)!r} sticks out of the header ({w.x:.0f}..{w.right:.0f} in "
                    f"{header.x:.0f}..{header.right:.0f})"
                    for w in shown if w.x < header.x - 1 or w.right > header.right + 1]
        problems += [f"{getattr(a, 'text', a)!r} lies over {getattr(b, 'text', b)!r}"
                     for a, b in zip(shown, shown[1:], strict=False) if a.right > b.x + 1]
        return problems

    def reader_reports(self, state, message: str = "") -> None:
        """The reader's state as the TillService reports it (a USB reader unplugged, reconnecting)."""
        from floreyn.terminal.drivers.base import ReaderStatus
        from floreyn.terminal.engine import events as ev

        self.ctl.on_event(ev.ReaderChanged(ReaderStatus(state, message)))
        self.pump(0.1)
