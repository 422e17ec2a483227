"""Look and size: a high-contrast light theme, the bundled font, touch targets in millimetres.

Why light: a dark screen in sunlight at a market stall shows mostly the
reflection of the sky; black text on white keeps the most contrast under
glare. Button colours are deep (white text on them is >= 7:1 contrast, WCAG
AAA), never pastel, and each money action has its own colour.

Touch targets: at least 9 mm on the glass, whatever the panel. The size in
pixels comes from the screen's DPI: KIVY_DPI when it is set (the deployed
unit sets it), else the panel's size from terminal.toml [display] (default:
the official Raspberry Pi 7" panel, 800x480 on 154 mm: ~132 dpi, so 9 mm is
47 px), because an X11 desktop reports 96 dpi whatever the glass is.
Layouts read `theme.touch_px`; a test checks every button.

Text: at least a size in millimetres per role (keys, amounts, body,
secondary), whatever the window's scale; colours: every text/background
pair of the theme has WCAG AA contrast (4.5:1) or better
(tests/terminal/app/test_app_readability.py checks every screen).
"""

from __future__ import annotations

import math
import os
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
OFFICIAL_PANEL_MM = (154.08, 85.92)  # the Pi 7" display's visible area (800x480)
UNTRUSTED_DPI = 96.0  # what SDL/X11 report when they do not know the glass

# Minimum text size (the font's em, in mm on the glass) by role; a font is never drawn smaller.
KEY_MIN_MM = 7.0  # keypad digits: read at arm's length while typing
AMOUNT_MIN_MM = 6.0  # amounts and titles (font_large, font_huge)
BODY_MIN_MM = 4.2  # what a screen says
SECONDARY_MIN_MM = 3.4  # status lines, hints, the banner: still readable by a 70-year-old in daylight


def panel_dpi(window_px: tuple[float, float], panel_mm: tuple[float, float]) -> float:
    """The DPI of a full-screen window on a panel of `panel_mm`: pixels over inches, the smaller of the two."""
    w, h = window_px
    assert w > 0 and h > 0 and panel_mm[0] > 0 and panel_mm[1] > 0
    return min(w / (panel_mm[0] / MM_PER_INCH), h / (panel_mm[1] / MM_PER_INCH))


def dpi_trusted(reported: float) -> bool:
    """KIVY_DPI set by the deployment is the truth; a bare 96 (or none) from the desktop is not."""
    return bool(os.environ.get("KIVY_DPI")) or (reported > 0 and reported != UNTRUSTED_DPI)


def mm_px(mm: float, dpi: float) -> int:
    return math.ceil(mm * dpi / MM_PER_INCH)


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
BANNER_INFO = PAY  # green with white text (7.3:1); black on it was 2.66:1
DISABLED_BG = rgba("#6E6E6E")  # a greyed-out button: white text on it is 5.1:1
DISABLED_TEXT = rgba("#FFFFFF")
DIM = rgba("#000000", 0.78)
BUTTON_BORDER_PX = 1.2  # a button's outline reaches this far out of and into its edge (2.4 px in all)

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

    panel_mm = OFFICIAL_PANEL_MM

    def follow(self, window, panel_mm: tuple[float, float] = OFFICIAL_PANEL_MM) -> None:
        """Track the DPI (Metrics.dpi when trusted, else the panel's size) and the window size from now on."""
        self.panel_mm = panel_mm
        Metrics.fbind("dpi", self._on_metrics_dpi)
        window.fbind("size", self._on_window_size)
        self._window_size = tuple(window.size)
        self._on_metrics_dpi(Metrics, Metrics.dpi)
        self._on_window_size(window, window.size)

    def _on_metrics_dpi(self, _metrics, dpi: float) -> None:
        size = getattr(self, "_window_size", DESIGN_SIZE)
        self.dpi = float(dpi) if dpi_trusted(float(dpi)) else panel_dpi(size, self.panel_mm)

    def _on_window_size(self, _window, size) -> None:
        w, h = size
        self._window_size = (w, h)
        if not dpi_trusted(float(Metrics.dpi)):
            self.dpi = panel_dpi((w, h), self.panel_mm)
        self.scale = max(1.0, min(w / DESIGN_SIZE[0], h / DESIGN_SIZE[1]))
        self._update_fonts()

    def _update_touch(self, *_args) -> None:
        self.touch_px = touch_target_px(self.dpi)
        self._update_fonts()

    def _update_fonts(self, *_args) -> None:
        s, d = self.scale, self.dpi
        self.font_small = max(round(FONT_SMALL * s), mm_px(SECONDARY_MIN_MM, d))
        self.font_body = max(round(FONT_BODY * s), mm_px(BODY_MIN_MM, d))
        self.font_large = max(round(FONT_LARGE * s), mm_px(AMOUNT_MIN_MM, d))
        self.font_huge = max(round(FONT_HUGE * s), mm_px(AMOUNT_MIN_MM, d))
        self.font_key = max(round(FONT_KEY * s), mm_px(KEY_MIN_MM, d))
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
