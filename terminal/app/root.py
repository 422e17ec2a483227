"""The root widget: header (with its sync chip), banner, the screens, the dim overlay, and the demo card picker.

Battery: nothing here runs on a timer while the till waits for a card. Two
Clock events are re-armed by every touch (and by a screen change, e.g. a
card laid on the reader): after REST_AFTER_S the frame cap drops from
ACTIVE_FPS to REST_FPS (Kivy's loop polls input once a frame, so fewer
frames is less CPU); after the dim time the overlay darkens the screen, the
backlight goes down (where allowed) and the cap drops to IDLE_FPS.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kivy.clock import Clock
from kivy.core.window import Window
from kivy.lang import Builder
from kivy.properties import BooleanProperty, ObjectProperty
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.modalview import ModalView
from kivy.uix.screenmanager import NoTransition, ScreenManager

from floreyn.terminal.app import screens, theme
from floreyn.terminal.app.backlight import set_backlight
from floreyn.terminal.app.i18n import tr
from floreyn.terminal.app.widgets import TButton

KV_DIR = Path(__file__).resolve().parent / "kv"
KV_FILES = ("widgets.kv", "screens.kv", "root.kv")
# The manager's screens' rules: read when the first of them is built (a till that only sells never reads them;
# the parsed rules of its 270 lines are about 1 MB the card prompt does not need, issue 19 goal 5).
MANAGER_KV = "manager.kv"
MANAGER_SCREENS = frozenset({"manager", "refunds", "dayclose", "managerpin", "report", "status"})
ACTIVE_FPS = 30  # while someone works the till: a tap feels instant; nothing on these screens animates
REST_FPS = 10  # REST_AFTER_S after the last touch: a touch or a card shows within 100 ms
REST_AFTER_S = 10.0
IDLE_FPS = 5  # while dimmed: the first touch wakes within 200 ms
DIM_BRIGHTNESS = 0.15

SCREENS = {
    "signin": screens.SignInScreen, "idle": screens.IdleScreen, "member": screens.MemberScreen,
    "amount": screens.AmountScreen, "source": screens.SourceScreen, "confirm": screens.ConfirmScreen,
    "done": screens.DoneScreen, "refused": screens.RefusedScreen,
    "bankcard": screens.BankCardScreen, "secondcard": screens.SecondCardScreen,
    "manager": screens.ManagerScreen, "refunds": screens.RefundsScreen,
    "dayclose": screens.DayCloseScreen, "managerpin": screens.ManagerPinScreen, "report": screens.ReportScreen,
    "status": screens.StatusScreen,
}

_kv_loaded = False
_manager_kv_loaded = False


def load_kv() -> None:
    global _kv_loaded
    if _kv_loaded:
        return
    theme.register_fonts()
    for name in KV_FILES:
        Builder.load_file(str(KV_DIR / name))
    _kv_loaded = True


def load_manager_kv() -> None:
    global _manager_kv_loaded
    if not _manager_kv_loaded:
        Builder.load_file(str(KV_DIR / MANAGER_KV))
        _manager_kv_loaded = True


class TillRoot(FloatLayout):
    ctl = ObjectProperty(None, rebind=True)
    dimmed = BooleanProperty(False)

    def __init__(self, ctl: Any, **kwargs: Any) -> None:
        load_kv()
        super().__init__(ctl=ctl, **kwargs)
        sm = self.ids.sm
        sm.transition = NoTransition()  # no animation: no frames to draw, nothing to wait for
        sm.current = self.screen(ctl.screen).name
        ctl.fbind("screen", self._on_screen)
        self.ids.banner.bind(on_dismiss=lambda _banner: ctl.clear_message())  # a tap on a refusal puts it away
        self.ids.sync.bind(on_tap=lambda _chip: ctl.explain_sync())  # the offline chip's full wording
        ctl.fbind("dim_after_s", lambda *_a: self.wake())
        self._dim_event = Clock.create_trigger(self._dim, max(1, ctl.dim_after_s))
        self._rest_event = Clock.create_trigger(self._rest, REST_AFTER_S)
        self._picker: ModalView | None = None
        self.listen_keyboard()
        self.wake()

    @property
    def screen_manager(self) -> ScreenManager:
        return self.ids.sm

    def screen(self, name: str) -> Any:
        """The screen called `name`, built the first time it is needed (a till that only sells
        never builds the manager screens: less memory and a faster start)."""
        sm = self.ids.sm
        if not sm.has_screen(name):
            if name in MANAGER_SCREENS:
                load_manager_kv()  # before the screen is made: Kivy applies a class's rules as it is created
            sm.add_widget(SCREENS[name](name=name, ctl=self.ctl))
        return sm.get_screen(name)

    def _on_screen(self, _ctl: Any, name: str) -> None:
        sm = self.ids.sm
        self.wake()  # a card on the reader, a result: the shopkeeper must see it
        self.screen(name)
        if sm.current == name:
            sm.current_screen.refresh()
        else:
            sm.current = name

    # -- dimming -------------------------------------------------------------------------------

    def on_touch_down(self, touch: Any) -> bool:
        was_dimmed = self.dimmed
        self.wake()
        self.ctl.touched()
        if was_dimmed:
            return True  # the waking touch does nothing else
        return super().on_touch_down(touch)

    def wake(self) -> None:
        self._dim_event.cancel()
        self._rest_event.cancel()
        if self.dimmed:
            self.dimmed = False
            set_backlight(1.0)
        Clock._max_fps = float(ACTIVE_FPS)
        self._rest_event()
        seconds = self.ctl.dim_after_s
        if seconds > 0:
            self._dim_event.timeout = seconds
            self._dim_event()

    def _rest(self, *_args: object) -> None:
        if not self.dimmed:
            Clock._max_fps = float(REST_FPS)

    def _dim(self, *_args: object) -> None:
        self.dimmed = True
        set_backlight(DIM_BRIGHTNESS)
        Clock._max_fps = float(IDLE_FPS)

    # -- simulate: the demo card picker and keys 1-9 ---------------------------------------------

    def open_card_picker(self) -> ModalView:
        runtime = self.ctl.runtime
        view = ModalView(size_hint=(0.9, 0.9), auto_dismiss=True)
        from kivy.uix.gridlayout import GridLayout

        grid = GridLayout(cols=3, spacing=theme.theme.gap * 2, padding=theme.theme.gap * 2)
        for card in runtime.demo_cards:
            button = TButton(text=f"{card.key}  {card.name.capitalize()}", bg=theme.SAVE)
            button.bind(on_tap=lambda _b, c=card: (view.dismiss(animation=False), self.present_demo(c.key)))
            grid.add_widget(button)
        close = TButton(text=tr._("Close"), bg=theme.NEUTRAL)
        close.bind(on_tap=lambda _b: view.dismiss(animation=False))
        grid.add_widget(close)
        view.add_widget(grid)
        view.open(animation=False)
        self._picker = view
        return view

    def present_demo(self, key: str) -> bool:
        """Lay demo card `key` ("1".."9") on the virtual reader, as a customer would."""
        runtime = self.ctl.runtime
        for card in runtime.demo_cards:
            if card.key == key and runtime.present is not None:
                runtime.present(card.payload)
                return True
        return False

    def on_key_down(self, _window: Any, key: int, _scancode: int, codepoint: str | None, _mods: Any) -> bool:
        take = getattr(self.ids.sm.current_screen, "key_input", None)  # a screen that reads a scanner
        if take is not None and take(key, codepoint):
            self.wake()
            return True
        if codepoint and codepoint in "123456789" and self.ctl.runtime.simulate:
            self.wake()
            return self.present_demo(codepoint)
        return False

    def listen_keyboard(self) -> None:
        Window.fbind("on_key_down", self.on_key_down)

    def unlisten_keyboard(self) -> None:
        Window.funbind("on_key_down", self.on_key_down)
