"""Look and size: a high-contrast light theme, the bundled font, touch targets in millimetres.

Why light: a dark screen in sunlight at a market stall shows mostly the
reflection of the sky; black text on white keeps the most contrast under
glare. Button colours are deep (white text on them is >= 7:1 contrast, WCAG
AAA), never pastel, and each money action has its own colour.

Touch targets: at least 9 mm on the glass, whatever the panel. The size in
pixels comes from the screen's DPI (Kivy's Metrics.dpi, which honours
KIVY_DPI; the Raspberry Pi 7" panel is 800x480 at about 133 dpi, so 9 mm is
48 px there). Layouts read `theme.touch_px`; a test checks every button.
"""

from __future__ import annotations

import math
from pathlib import Path

from kivy.core.text import DEFAULT_FONT, LabelBase
from kivy.event import EventDispatcher
from kivy.metrics import Metrics
from kivy.properties import NumericProperty

FONT_DIR = Path(__file__).resolve().parent / "fonts"
FONT_REGULAR = FONT_DIR / "DejaVuSans.ttf"
FONT_BOLD = FONT_DIR / "DejaVuSans-Bold.ttf"
FONT_MONO = FONT_DIR / "DejaVuSansMono.ttf"
MONO = "FloreynMono"

TOUCH_MM = 9.0
MM_PER_INCH = 25.4
DESIGN_SIZE = (800, 480)  # layouts are drawn for the Pi 7" panel and scale up from it


def touch_target_px(dpi: float, mm: float = TOUCH_MM) -> int:
    """Pixels that span `mm` millimetres at `dpi`, rounded up (a target is never smaller)."""
    assert dpi > 0 and mm > 0
    return math.ceil(mm * dpi / MM_PER_INCH)


def rgba(hex_colour: str, alpha: float = 1.0) -> tuple[float, float, float, float]:
    h = hex_colour.lstrip("#")
    return (int(h[0:2], 16) / 255, int(h[2:4], 16) / 255, int(h[4:6], 16) / 255, alpha)


# Colours. Text on buttons is white unless the name says light.
BACKGROUND = rgba("#FFFFFF")
TEXT = rgba("#101010")
TEXT_MUTED = rgba("#444444")  # 9.7:1 on white: still readable in the sun
PAY = rgba("#00662B")  # green: spend
SAVE = rgba("#0B4F9C")  # blue: save
TOPUP = rgba("#6A1B9A")  # purple: top-up
DANGER = rgba("#B00020")  # red: cancel, void, refund
NEUTRAL = rgba("#2B2B2B")  # dark grey: navigation
KEY = rgba("#E4E4E4")  # light: keypad keys, black text
KEY_TEXT = TEXT
BORDER = rgba("#101010")
BANNER_WARN = rgba("#FFC400")  # amber with black text: offline, limits
BANNER_ERROR = rgba("#B00020")
DIM = rgba("#000000", 0.78)

# Font sizes at the 800x480 design size; `Theme.scale` grows them on bigger panels.
FONT_SMALL = 18
FONT_BODY = 22
FONT_LARGE = 30
FONT_HUGE = 44
FONT_KEY = 30


class Theme(EventDispatcher):
    """Sizes that follow the window and the screen's DPI; kv files bind to these."""

    dpi = NumericProperty(96.0)
    touch_px = NumericProperty(touch_target_px(96.0))
    scale = NumericProperty(1.0)
    font_small = NumericProperty(FONT_SMALL)
    font_body = NumericProperty(FONT_BODY)
    font_large = NumericProperty(FONT_LARGE)
    font_huge = NumericProperty(FONT_HUGE)
    font_key = NumericProperty(FONT_KEY)
    gap = NumericProperty(8)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.fbind("dpi", self._update_touch)
        self.fbind("scale", self._update_fonts)

    def follow(self, window) -> None:
        """Track Metrics.dpi and the window size from now on."""
        Metrics.fbind("dpi", self._on_metrics_dpi)
        self.dpi = float(Metrics.dpi)
        window.fbind("size", self._on_window_size)
        self._on_window_size(window, window.size)

    def _on_metrics_dpi(self, _metrics, dpi: float) -> None:
        self.dpi = float(dpi)

    def _on_window_size(self, _window, size) -> None:
        w, h = size
        self.scale = max(1.0, min(w / DESIGN_SIZE[0], h / DESIGN_SIZE[1]))

    def _update_touch(self, *_args) -> None:
        self.touch_px = touch_target_px(self.dpi)

    def _update_fonts(self, *_args) -> None:
        s = self.scale
        self.font_small, self.font_body = round(FONT_SMALL * s), round(FONT_BODY * s)
        self.font_large, self.font_huge = round(FONT_LARGE * s), round(FONT_HUGE * s)
        self.font_key = round(FONT_KEY * s)
        self.gap = round(8 * s)


theme = Theme()

_fonts_registered = False


def register_fonts() -> None:
    """Make the bundled DejaVu Sans (it has the euro sign) every label's default font."""
    global _fonts_registered
    if _fonts_registered:
        return
    for path in (FONT_REGULAR, FONT_BOLD, FONT_MONO):
        if not path.is_file():
            raise FileNotFoundError(f"bundled font missing: {path}")
    LabelBase.register(DEFAULT_FONT, fn_regular=str(FONT_REGULAR), fn_bold=str(FONT_BOLD))
    LabelBase.register(MONO, fn_regular=str(FONT_MONO))
    _fonts_registered = True
