"""Virtual devices for the demo, the scripted till and the tests.

`VirtualCardReader` goes through the same `CardReader` interface and the same
payload verification as the nfcpy reader; a card is "laid on the reader" by
calling `present(payload)` from any thread (the demo's card picker, a script,
a test). `VirtualPrinter` keeps each document and its text, can be told to
fail like a real printer does, and writes receipts to a folder when given one.
"""

from __future__ import annotations

import queue
import threading
from pathlib import Path
from typing import Callable

from floreyn.terminal.drivers.base import (
    CardEvent,
    CardReader,
    PrintDoc,
    PrinterError,
    PrinterStatus,
    ReaderState,
    ReaderStatus,
    ReceiptPrinter,
    VerifyPayload,
)

_QUEUE_LIMIT = 16  # a person cannot lay more cards than this on a reader before the till reads them


class VirtualCardReader(CardReader):
    """A reader whose cards come from `present()`; delivers events on its own thread like the real one."""

    def __init__(self, verify: VerifyPayload) -> None:
        super().__init__(verify)
        self._inbox: queue.Queue[tuple[bytes, bytes] | None] = queue.Queue(maxsize=_QUEUE_LIMIT)
        self._thread: threading.Thread | None = None

    def start(self, on_card: Callable[[CardEvent], None], on_status: Callable[[ReaderStatus], None]) -> None:
        if self._thread is not None:
            return
        on_status(ReaderStatus(ReaderState.STARTING))

        def run() -> None:
            on_status(ReaderStatus(ReaderState.READY, "Virtuele kaartlezer"))
            while True:
                item = self._inbox.get()  # blocks: an idle reader costs no CPU
                if item is None:
                    break
                payload, uid = item
                on_card(self.verify_payload(payload, uid))
            on_status(ReaderStatus(ReaderState.STOPPED))

        self._thread = threading.Thread(target=run, name="virtual-reader", daemon=True)
        self._thread.start()

    def present(self, payload: bytes, uid: bytes = b"\x04virt") -> None:
        """Lay a card on the reader. Raises queue.Full if cards pile up unread."""
        self._inbox.put_nowait((bytes(payload), uid))

    def stop(self, timeout_s: float = 2.0) -> None:
        if self._thread is None:
            return
        self._inbox.put(None)
        self._thread.join(timeout_s)
        self._thread = None


class VirtualPrinter(ReceiptPrinter):
    """Keeps what it printed; `fail_with` makes the next prints raise like a real printer would."""

    def __init__(self, columns: int = 32, out_dir: Path | None = None) -> None:
        self.columns = columns
        self.out_dir = out_dir
        self.docs: list[PrintDoc] = []
        self._failure: PrinterError | None = None
        self._lock = threading.Lock()

    def fail_with(self, error: PrinterError | None) -> None:
        """Simulate a fault (None clears it): paper out, cover open, offline."""
        with self._lock:
            self._failure = error

    def print_doc(self, doc: PrintDoc) -> None:
        with self._lock:
            if self._failure is not None:
                raise self._failure
            self.docs.append(doc)
            index = len(self.docs)
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            name = doc.doc_id or f"doc-{index:04d}"
            (self.out_dir / f"{index:04d}-{name}.txt").write_text(doc.text(self.columns), encoding="utf-8")

    def status(self) -> PrinterStatus:
        with self._lock:
            failure = self._failure
        if failure is None:
            return PrinterStatus(online=True, message="Virtuele printer")
        return PrinterStatus(online=False, message=failure.message("nl"))

    def texts(self) -> list[str]:
        with self._lock:
            return [doc.text(self.columns) for doc in self.docs]
