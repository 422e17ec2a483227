"""The Kivy App: builds the root from a Runtime, starts and stops the till service with it."""

from __future__ import annotations

import logging
import os
import signal
import time
from typing import Any

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window

from floreyn.terminal.app import theme
from floreyn.terminal.app.controller import Controller
from floreyn.terminal.app.i18n import tr
from floreyn.terminal.app.root import TillRoot
from floreyn.terminal.app.services import Runtime
from floreyn.terminal.app.settings import load_settings

log = logging.getLogger(__name__)

START_LIMIT_S = 60.0  # with exit_after_s: a till that never gets ready stops after this much longer


def flush_each_frame(window: Any = None) -> bool:
    """Under SDL's offscreen driver (tests, the tour, the benchmarks): glFlush after each frame; True if bound.

    On a screen the swap hands each frame to the GPU. Offscreen the surface is an EGL pbuffer, whose swap does
    nothing: Mesa's llvmpipe keeps binning frame after frame into one scene and draws none of them until something
    reads the pixels. The till's sign-in and card prompt left 142 blocks of 64 KiB (9 MB) of C heap that way, and
    each later redraw (dimming) added its own, for a till that never drew a pixel. A flush draws each frame as a
    screen would.

    What a frame costs there (Mesa 22.3, measured for issue 19 goal 5): one 64 KiB block for each draw whose
    texture differs from the draw before it, or whose vertices were uploaded in that frame. So a screen's first
    frame pays for every draw (sign-in 61 blocks, card prompt 23) and a redraw for each change of texture (card
    prompt 18: its labels and the untextured shapes between them); colours cost nothing. A frame's blocks are
    freed when llvmpipe next bins into its scene, not at the flush, and a frame begun while the one before is
    still being drawn takes a second scene: up to two frames' blocks stay allocated between redraws."""
    if os.environ.get("SDL_VIDEODRIVER") != "offscreen":
        return False
    from kivy.graphics.opengl import glFlush

    (window or Window).fbind("on_flip", lambda *_a: glFlush())
    return True


def build_root(runtime: Runtime, relay: Any, *, window: Any = None) -> TillRoot:
    """Controller and root widget for `runtime`; engine events are routed to the controller.

    Used by the App and by the UI tests (which put the root in their own window).
    """
    display = runtime.config.display
    theme.theme.follow(window or Window, (display.panel_width_mm, display.panel_height_mm))
    tr.set_zone(runtime.config.timezone)  # the receipts' zone: one time on screen and on paper
    ctl = Controller(runtime, load_settings(runtime.settings_path))
    relay.attach(lambda event: Clock.schedule_once(lambda _dt: ctl.on_event(event), 0))
    return TillRoot(ctl)


class TillApp(App):
    title = "Floreyn"

    def __init__(self, runtime: Runtime, relay: Any, *, exit_after_s: float | None = None,
                 sign_in_pin: str | None = None, dim_after_s: float | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if sign_in_pin is not None and not runtime.simulate:
            raise ValueError("automatic sign-in exists for the simulated demo only")
        self.runtime = runtime
        self.relay = relay
        self.exit_after_s = exit_after_s
        self.sign_in_pin = sign_in_pin
        self.dim_after_s = dim_after_s
        self.started_at = time.perf_counter()
        self.till_root: TillRoot | None = None
        self._ready = False

    def build(self) -> TillRoot:
        Window.clearcolor = theme.BACKGROUND
        flush_each_frame()
        self.till_root = build_root(self.runtime, self.relay)
        if self.dim_after_s is not None:
            self.till_root.ctl.dim_after_s = self.dim_after_s
        return self.till_root

    def on_start(self) -> None:
        assert self.till_root is not None
        # systemd stops the till with SIGTERM (poweroff from the screen, a UPS HAT's button, `systemctl stop`):
        # stop the app so on_stop closes the store and the devices. SDL's own handler turns SIGTERM into a
        # window close too; this one does not depend on the window provider (kmsdrm, x11, offscreen).
        signal.signal(signal.SIGTERM, lambda *_a: Clock.schedule_once(lambda _dt: self.stop(), 0))
        ctl = self.till_root.ctl
        ctl.start()
        if self.sign_in_pin is not None:  # benchmarks: through the same call a PIN pad makes
            ctl.sign_in(self.sign_in_pin)
        ctl.fbind("screen", self._check_ready)
        ctl.fbind("merchant", self._check_ready)
        self._check_ready()
        if self.exit_after_s is not None:  # never ready: stop anyway, a minute later
            Clock.schedule_once(lambda _dt: self.stop(), self.exit_after_s + START_LIMIT_S)

    def _check_ready(self, *_args: object) -> None:
        """Ready: the resting screen is up and the engine has answered (its overview arrived)."""
        assert self.till_root is not None  # built in build(), before the clock ticks
        ctl = self.till_root.ctl
        want = "idle" if self.sign_in_pin is not None else "signin"
        if ctl.screen == want and ctl.merchant is not None and not self._ready:
            self._ready = True
            Clock.schedule_once(self._on_ready, 0)  # after the frame that shows it

    def _on_ready(self, _dt: float) -> None:
        assert self.till_root is not None
        if os.environ.get("FLOREYN_APP_REPORT_READY"):  # the benchmark times cold start to this line
            print(f"FLOREYN_READY screen={self.till_root.ctl.screen} "
                  f"seconds={time.perf_counter() - self.started_at:.3f} window={Window.width}x{Window.height}", flush=True)
            self.till_root.fbind("dimmed", lambda _root, dimmed: print(f"FLOREYN_DIMMED {int(dimmed)}", flush=True))
        if self.exit_after_s is not None:
            Clock.schedule_once(lambda _dt: self.stop(), self.exit_after_s)

    def on_stop(self) -> None:
        if self.till_root is not None:
            self.till_root.unlisten_keyboard()
            self.till_root.ctl.stop()
        self.relay.attach(None)
        self.runtime.close()
