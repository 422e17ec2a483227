"""The service boundary: what the core hands the app, and how the app talks to it.

The app holds no business rules. It is handed a `Runtime` (electrum-style:
the GUI gets the daemon's objects, it does not build them) whose
`service` is the engine's TillService: one worker thread, a bounded queue,
every engine and device call on it. The app calls `Bridge.call(...)`; the
result comes back on the Kivy main thread through `post` (Clock), and engine
events arrive the same way through `Bridge.notify`.

Everything the app asks is an Engine method called through the service
(`overview`, `recent_payments`, `find_payment`, the quotes, ...); the app
adds nothing to the engine.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

from floreyn.errors import FloreynError

log = logging.getLogger(__name__)

Post = Callable[[Callable[[], None]], None]


class TillServicePort(Protocol):
    """What the app uses of floreyn.terminal.engine.service.TillService."""

    engine: Any

    def start(self) -> Future: ...
    def stop(self, timeout_s: float = 5.0) -> None: ...
    def call(self, method: str, *args: Any, **kwargs: Any) -> Future: ...


@dataclass(frozen=True)
class DemoCard:
    key: str  # the keyboard key that presents it ("1".."9")
    name: str
    payload: bytes


@dataclass
class Runtime:
    """Everything main() builds before the first frame; the app only uses it."""

    service: TillServicePort
    config: Any  # TerminalConfig (frozen: safe to read from the main thread)
    printer: Any
    reader: Any = None
    present: Callable[[bytes], None] | None = None  # VirtualCardReader.present, with --simulate
    demo_cards: tuple[DemoCard, ...] = ()
    settings_path: Path | None = None
    closers: list[Callable[[], None]] = field(default_factory=list)
    closed: bool = False
    power: Any = None  # floreyn.terminal.power.PowerControl; None with --simulate (a demo never powers off)

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
    """Main-thread side of the TillService: callbacks always run on the UI thread."""

    def __init__(self, service: TillServicePort, post: Post) -> None:
        self.service = service
        self._post = post
        self.pending = 0

    def call(self, method: str, *args: Any, on_done: Callable[[Any], None] | None = None,
             on_error: Callable[[BaseException], None] | None = None, **kwargs: Any) -> None:
        self.pending += 1
        future = self.service.call(method, *args, **kwargs)
        future.add_done_callback(lambda f: self._post(lambda: self._deliver(method, f, on_done, on_error)))

    def _deliver(self, method: str, future: Future, on_done, on_error) -> None:
        self.pending -= 1
        assert self.pending >= 0
        error = future.exception()
        if error is None:
            if on_done is not None:
                on_done(future.result())
            return
        if not isinstance(error, FloreynError):
            log.error("till call %s failed", method, exc_info=error)
        if on_error is not None:
            on_error(error)
