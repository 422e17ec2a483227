"""The app's few widget types: a big flat button, the keypads, the dim overlay.

Layout and looks are in kv/widgets.kv; this file holds behaviour.
"""

from __future__ import annotations

from kivy.clock import Clock
from kivy.core.text import Label as CoreLabel
from kivy.properties import (
    BooleanProperty, ColorProperty, NumericProperty, ObjectProperty, OptionProperty, StringProperty,
)
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label
from kivy.uix.widget import Widget

from floreyn.terminal.app import theme
from floreyn.terminal.app.entry import BACKSPACE_KEY, CLEAR_KEY, DECIMAL_KEY
from floreyn.terminal.app.guard import TapGuard
from floreyn.terminal.app.i18n import tr

money_guard = TapGuard()
"""Shared by every money button of the app (see guard.py for why shared)."""


class TButton(ButtonBehavior, Label):
    """A flat, high-contrast button at least one touch target big; fires `on_tap` on release.

    With `money` set, a tap that follows another money tap within the guard
    window is ignored: the second half of a double tap never moves money.
    A touch that began before `ready_at` (money_guard's clock) is ignored too:
    a confirm button sets it to when its screen appeared plus CONFIRM_READ_S.
    """

    bg = ColorProperty(theme.NEUTRAL)
    fg = ColorProperty((1, 1, 1, 1))
    money = BooleanProperty(False)
    radius = NumericProperty(8)
    ready_at = NumericProperty(float("-inf"))
    __events__ = ("on_tap",)

    def on_touch_down(self, touch) -> bool:
        if self.collide_point(*touch.pos) and not self.disabled:
            self._down_at = money_guard.now()
        return bool(super().on_touch_down(touch))

    def on_release(self) -> None:
        if getattr(self, "_down_at", float("inf")) < self.ready_at:
            money_guard.ignored += 1  # began before the screen could be read: not a decision
            return
        if self.money and not money_guard.allow():
            return
        self.dispatch("on_tap")

    def on_tap(self) -> None:
        pass


class OneLineWidth(Label):
    """`words_width`: the text on one line at the widget's font, measured apart from the texture. A
    width that follows it cannot loop (a width that followed texture_size would, through a text_size
    that follows the width, as TButton's does)."""

    words_width = NumericProperty(0)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        for name in ("text", "font_size", "bold", "font_name"):
            self.fbind(name, self._measure)
        self._measure()

    def _measure(self, *_args) -> None:
        core = CoreLabel(font_size=self.font_size, bold=self.bold, font_name=self.font_name)
        self.words_width = core.get_extents(self.text)[0] if self.text else 0


class HeaderWord(OneLineWidth):
    """A word or two in the header (the operator, the reader's state): as wide as its text up to
    `max_width`, shortened only beyond it, so the header never overflows whatever the names."""

    max_width = NumericProperty(float("inf"))


class StatusChip(OneLineWidth, TButton):
    """The header's chip: a lasting state (the till offline) in a word or two, coloured by `level`; a tap
    asks for the full sentence. Zero wide, see-through and dead to the touch when it has nothing to say."""

    level = StringProperty("")  # "", "warn", "error"


class KeyButton(TButton):
    """A keypad key: its font size is the key role's (widgets.kv), which TButton's body font rule would override."""


class Keypad(GridLayout):
    """3x4 keys. mode "amount": 1-9, decimal, 0, backspace; mode "pin": 1-9, clear, 0, backspace.

    Emits on_key(key) with "0".."9", entry.DECIMAL_KEY, CLEAR_KEY or BACKSPACE_KEY.
    """

    mode = OptionProperty("amount", options=["amount", "pin"])
    __events__ = ("on_key",)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._keys: list[TButton] = []
        self._trigger = Clock.create_trigger(self._build, -1)
        self.fbind("mode", self._trigger)
        tr.on_switch(self._relabel)
        self._build()

    def _relabel(self, _lang: str) -> None:
        self._trigger()

    def _labels(self) -> list[tuple[str, str]]:
        keys = [(str(d), str(d)) for d in range(1, 10)]
        if self.mode == "amount":
            mark = "," if tr.lang == "nl" else "."
            keys += [(DECIMAL_KEY, mark), ("0", "0"), (BACKSPACE_KEY, "\u232b")]
        else:
            keys += [(CLEAR_KEY, "C"), ("0", "0"), (BACKSPACE_KEY, "\u232b")]
        return keys

    def _build(self, *_args) -> None:
        labels = self._labels()
        if len(self._keys) == len(labels):  # a new mode or language: the same keys, relabelled
            for button, (key, label) in zip(self._keys, labels, strict=True):
                button.key, button.text = key, label
            return
        self.clear_widgets()
        self._keys = []
        for key, label in labels:
            button = KeyButton(text=label, bg=theme.KEY, fg=theme.KEY_TEXT)
            button.key = key
            button.bind(on_tap=self._on_button)
            self.add_widget(button)
            self._keys.append(button)

    def _on_button(self, button: TButton) -> None:
        self.dispatch("on_key", button.key)

    def on_key(self, key: str) -> None:
        pass

    def button(self, key: str) -> TButton:
        """The button that sends `key` (tests press it)."""
        for b in self._keys:
            if b.key == key:
                return b
        raise KeyError(key)


class DimOverlay(Widget):
    """Darkens the screen when idle; the touch that wakes it does nothing else."""

    active = BooleanProperty(False)

    def on_touch_down(self, touch) -> bool:
        return self.active

    def on_touch_move(self, touch) -> bool:
        return self.active

    def on_touch_up(self, touch) -> bool:
        return self.active


class Banner(Label):
    """The last refusal, laid over the header, or the card's state (its offline limits), in the column under
    the header (root.kv): at least `slot_height` tall, taller only for a long text. Zero height when empty.

    A touch on it goes no further (a long refusal covers the top of the screen: no hidden button may take
    it) and dispatches on_dismiss: the root clears a refusal then (the card's state stays)."""

    level = StringProperty("")  # "", "warn", "error", "info"
    owner = ObjectProperty(None, allownone=True)
    slot_height = NumericProperty(0)
    __events__ = ("on_dismiss",)

    def on_touch_down(self, touch) -> bool:
        if self.text and self.collide_point(*touch.pos):
            self.dispatch("on_dismiss")
            return True
        return False

    def on_dismiss(self) -> None:
        pass
