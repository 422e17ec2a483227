"""Kivy and SDL settings for the till, applied before `import kivy` (Kivy reads most of them once).

Where it runs decides how:
* Raspberry Pi OS console (no X/Wayland, a DRM device): SDL's kmsdrm
  driver, full screen, the touchscreen read by ONE input provider.
* A desktop session: a window (800x480 unless told otherwise), mouse only.

Touch input on the Pi, and the double tap to avoid: the official 7" panel
is one evdev device. Kivy's default Linux config reads it through the
`mouse` provider (SDL turns touches into mouse clicks) AND a probesysfs
provider; listing both mtdev and hidinput probesysfs lines makes it three.
Each touch then arrives two or three times: a double tap on every tap. So
in kiosk mode the app rewrites [input] to exactly one touch source:

    mouse = mouse,disable_on_activity,disable_multitouch    (a USB mouse still works)
    touch_%(name)s = probesysfs,provider=hidinput           (FLOREYN_TOUCH=hidinput, default)
                    or probesysfs,provider=mtdev             (FLOREYN_TOUCH=mtdev)
  and SDL_TOUCH_MOUSE_EVENTS=0, so SDL does not also make mouse clicks of touches.
  FLOREYN_TOUCH=sdl keeps only SDL's mouse emulation (single touch).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

TOUCH_PROVIDERS = ("hidinput", "mtdev", "sdl")
DEFAULT_MAXFPS = 30


def on_console() -> bool:
    """True on a Linux console with a DRM device and no desktop session (the kiosk)."""
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return False
    return any(Path("/dev/dri").glob("card*")) if Path("/dev/dri").is_dir() else False


def window_choice(display: Any, *, size: tuple[int, int] | None = None,
                  fullscreen: bool | None = None) -> tuple[tuple[int, int], bool]:
    """(window size, full screen?) on a desktop, from terminal.toml [display] unless the command line says.

    The window must cover the panel whose millimetres [display] gives, or the sizes in mm come out wrong:
    so it opens at the panel's resolution (width_px x height_px), full screen with `fullscreen`. On the
    console (kiosk) neither matters: the window is the whole panel, whatever its resolution."""
    if fullscreen:
        return size or (display.width_px, display.height_px), True
    if size is not None:  # --size: a developer's window of that size
        return size, False
    return (display.width_px, display.height_px), bool(display.fullscreen)


def prepare_environment(*, kiosk: bool | None = None, size: tuple[int, int] | None = None,
                        fullscreen: bool | None = None) -> dict[str, str]:
    """Set Kivy/SDL environment variables; returns what it set (for logs and tests)."""
    env = os.environ
    kiosk = on_console() if kiosk is None else kiosk
    wanted = {
        "KIVY_NO_ARGS": "1",  # our own command line, not Kivy's
        "KIVY_NO_FILELOG": "1",  # no log files piling up on an SD card
        "KIVY_NO_CONFIG": "1",  # our settings, not a ~/.kivy/config.ini left from another app
        "KIVY_WINDOW": "sdl2",
        "SDL_AUDIODRIVER": "dummy",
        "KCFG_KIVY_EXIT_ON_ESCAPE": "0",  # Esc must not close a till
        "KCFG_GRAPHICS_MAXFPS": str(DEFAULT_MAXFPS),
        "KCFG_KIVY_KEYBOARD_MODE": "system",  # no on-screen keyboard pops up
    }
    if kiosk:
        wanted["SDL_VIDEODRIVER"] = "kmsdrm"
        if env.get("FLOREYN_TOUCH", "hidinput") != "sdl":  # Kivy reads the panel itself
            wanted["SDL_TOUCH_MOUSE_EVENTS"] = "0"
        wanted["KCFG_GRAPHICS_FULLSCREEN"] = "auto"
        wanted["KCFG_GRAPHICS_SHOW_CURSOR"] = "0"
    else:
        w, h = size or (800, 480)
        wanted["KCFG_GRAPHICS_WIDTH"], wanted["KCFG_GRAPHICS_HEIGHT"] = str(w), str(h)
        wanted["KCFG_GRAPHICS_RESIZABLE"] = "1"
        if fullscreen:
            wanted["KCFG_GRAPHICS_FULLSCREEN"] = "auto"
    done = {}
    for key, value in wanted.items():
        if key not in env:  # whoever runs us may override any of these
            env[key] = value
            done[key] = value
    return done


def configure_input(*, kiosk: bool, provider: str | None = None) -> dict[str, str]:
    """Rewrite Kivy's [input] section (after `import kivy`, before the window opens)."""
    from kivy.config import Config

    provider = provider or os.environ.get("FLOREYN_TOUCH", "hidinput")
    if provider not in TOUCH_PROVIDERS:
        raise ValueError(f"FLOREYN_TOUCH must be one of {TOUCH_PROVIDERS}, not {provider!r}")
    for option in Config.options("input"):
        Config.remove_option("input", option)
    section = {"mouse": "mouse,disable_multitouch"}  # desktop: a right click makes no red touch dots
    if kiosk:
        section["mouse"] = "mouse,disable_on_activity,disable_multitouch"
        if provider != "sdl":
            section["touch_%(name)s"] = f"probesysfs,provider={provider}"
    for key, value in section.items():
        Config.set("input", key, value)
    return section
