"""The service boundary: what the core hands the app, and how the app talks to it.

The app holds no business rules. It is handed a `Runtime` (electrum-style:
the GUI gets the daemon's objects, it does not build them) whose `service`
is an EngineApi (terminal/engine/api.py): one typed method per thing the app
asks, each queued for the till's one worker thread and answered with a
Future. `Bridge.watch(future, ...)` brings the answer back to the Kivy main
thread through `post` (Clock); engine events arrive the same way.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, TypeVar

from floreyn.errors import FloreynError
from floreyn.terminal.engine.api import EngineApi
from floreyn.terminal.engine.ports import Printer, Reader

if TYPE_CHECKING:
    from floreyn.terminal.config import TerminalConfig
    from floreyn.terminal.power import PowerControl

log = logging.getLogger(__name__)

Post = Callable[[Callable[[], None]], None]
T = TypeVar("T")


@dataclass(frozen=True)
class DemoCard:
    key: str  # the keyboard key that presents it ("1".."9")
    name: str
    payload: bytes


@dataclass
class Runtime:
    """Everything main() builds before the first frame; the app only uses it."""

    service: EngineApi
    config: TerminalConfig  # frozen: safe to read from the main thread
    printer: Printer
    reader: Reader | None = None
    present: Callable[[bytes], None] | None = None  # VirtualCardReader.present, with --simulate
    demo_cards: tuple[DemoCard, ...] = ()
    settings_path: Path | None = None
    closers: list[Callable[[], None]] = field(default_factory=list)
    closed: bool = False
    power: PowerControl | None = None  # None with --simulate (a demo never powers off)

    @property
    def simulate(self) -> bool:
        return self.present is not None

    def close(self) -> None:
        """Stop the service (and with it the reader), then the rest, last built first. Idempotent."""
        if self.closed:
            return
        self.closed = True
        try:
            self.service.stop()
        finally:
            for close in reversed(self.closers):
                try:
                    close()
                except Exception:  # noqa: BLE001 - closing must go on
                    log.exception("closing %s failed", close)


class Bridge:
    """Main-thread side of the worker: callbacks always run on the UI thread, through `post`."""

    def __init__(self, post: Post) -> None:
        self._post = post
        self.pending = 0  # answers not yet delivered: the app shows "busy" while any is out

    def watch(self, future: Future[T], on_done: Callable[[T], None] | None = None,
              on_error: Callable[[BaseException], None] | None = None) -> None:
        """Deliver `future`'s result to on_done, or its exception to on_error, on the main thread."""
        self.pending += 1
        future.add_done_callback(lambda f: self._post(lambda: self._deliver(f, on_done, on_error)))

    def _deliver(self, future: Future[T], on_done: Callable[[T], None] | None,
                 on_error: Callable[[BaseException], None] | None) -> None:
        self.pending -= 1
        assert self.pending >= 0
        error = future.exception()
        if error is None:
            if on_done is not None:
                on_done(future.result())
            return
        if not isinstance(error, FloreynError):
            log.error("till call failed", exc_info=error)
        if on_error is not None:
            on_error(error)
