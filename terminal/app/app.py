"""The Kivy App: builds the root from a Runtime, starts and stops the till service with it."""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window

from floreyn.terminal.app import theme
from floreyn.terminal.app.controller import Controller
from floreyn.terminal.app.root import TillRoot
from floreyn.terminal.app.services import Runtime
from floreyn.terminal.app.settings import load_settings

log = logging.getLogger(__name__)


def build_root(runtime: Runtime, relay: Any, *, window: Any = None) -> TillRoot:
    """Controller and root widget for `runtime`; engine events are routed to the controller.

    Used by the App and by the UI tests (which put the root in their own window).
    """
    theme.theme.follow(window or Window)
    ctl = Controller(runtime, load_settings(runtime.settings_path))
    relay.attach(lambda event: Clock.schedule_once(lambda _dt: ctl.on_event(event), 0))
    return TillRoot(ctl)


class TillApp(App):
    title = "Floreyn"

    def __init__(self, runtime: Runtime, relay: Any, *, exit_after_s: float | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.runtime = runtime
        self.relay = relay
        self.exit_after_s = exit_after_s
        self.started_at = time.perf_counter()
        self.till_root: TillRoot | None = None

    def build(self) -> TillRoot:
        Window.clearcolor = theme.BACKGROUND
        self.till_root = build_root(self.runtime, self.relay)
        return self.till_root

    def on_start(self) -> None:
        assert self.till_root is not None
        self.till_root.ctl.start()
        if os.environ.get("FLOREYN_APP_REPORT_READY"):  # the benchmark times cold start to this line
            Clock.schedule_once(self._report_ready, 0)
        if self.exit_after_s:
            Clock.schedule_once(lambda _dt: self.stop(), self.exit_after_s)

    def _report_ready(self, _dt: float) -> None:
        print(f"FLOREYN_READY screen={self.till_root.ctl.screen} "
              f"seconds={time.perf_counter() - self.started_at:.3f}", flush=True)

    def on_stop(self) -> None:
        if self.till_root is not None:
            self.till_root.unlisten_keyboard()
            self.till_root.ctl.stop()
        self.relay.attach(None)
        self.runtime.close()
