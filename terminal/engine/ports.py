"""The engine's view of the parts it is handed: each a complete typing.Protocol.

The engine depends on these, not on the classes behind them, so a test (or
another back end) passes anything with the same methods and the type checker
says when one stops matching: the receipt printer (terminal/drivers), the
clock (terminal/clock.py), the server as the online checks see it
(engine/online.py) and the background sync worker (floreyn.sync.worker).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Protocol


from floreyn.terminal.drivers.base import CardEvent, PrintDoc, PrinterStatus, ReaderStatus
from floreyn.terminal.clock import Clock

if TYPE_CHECKING:  # the sync worker (and `requests` behind it) loads only for a till with a server
    from floreyn.sync.worker import SyncState

__all__ = ["Clock", "Printer", "Reader", "SyncView"]


class Printer(Protocol):
    """A receipt printer (terminal/drivers/base.py ReceiptPrinter and its back ends)."""

    def print_doc(self, doc: PrintDoc) -> None: ...  # raises a PrinterError; never half-succeeds silently
    def status(self) -> PrinterStatus: ...
    def close(self) -> None: ...


class Reader(Protocol):
    """A card reader as TillService drives it (terminal/drivers/base.py CardReader and its back ends).

    Callbacks run on the reader's own thread; TillService queues cards for its worker.
    """

    def start(self, on_card: Callable[[CardEvent], None], on_status: Callable[[ReaderStatus], None]) -> None: ...
    def stop(self, timeout_s: float = 2.0) -> None: ...


class SyncView(Protocol):
    """The background sync worker as the engine and TillService use it (floreyn.sync.worker.SyncWorker)."""

    # Called on the worker's thread after every round (TillService tells the app when online flips).
    on_state: Callable[[SyncState], None] | None

    @property
    def state(self) -> SyncState: ...  # an immutable value: safe to read from any thread
    def run_once(self) -> SyncState: ...
    def request_sync(self) -> None: ...
    def start(self) -> None: ...
    def stop(self, timeout_s: float | None = None) -> None: ...
