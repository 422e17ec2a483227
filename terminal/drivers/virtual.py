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

from floreyn import cardtrail
from floreyn.card import CardError
from floreyn.terminal.drivers.base import (
    CardEvent,
    CardReader,
    CardReadIncomplete,
    CardRejected,
    CardWriteFailed,
    PrintDoc,
    PrinterError,
    PrinterStatus,
    ReaderState,
    ReaderStatus,
    ReceiptPrinter,
    TrailPort,
    VerifyPayload,
)

_QUEUE_LIMIT = 16  # a person cannot lay more cards than this on a reader before the till reads them


class VirtualCardReader(CardReader):
    """A reader whose cards come from `present()`; delivers events on its own thread like the real one."""

    def __init__(self, verify: VerifyPayload) -> None:
        super().__init__(verify)
        self._inbox: queue.Queue[tuple[bytes, bytes, TrailPort | None] | CardRejected | None] = queue.Queue(
            maxsize=_QUEUE_LIMIT)
        self._thread: threading.Thread | None = None
        # A virtual card has trail memory like a real format-2 card: one per card, for the reader's life.
        self._trails: dict[bytes, TrailPort] = {}

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
                if isinstance(item, CardRejected):
                    on_card(item)
                    continue
                payload, uid, trail = item
                on_card(self.verify_payload(payload, uid, trail))
            on_status(ReaderStatus(ReaderState.STOPPED))

        self._thread = threading.Thread(target=run, name="virtual-reader", daemon=True)
        self._thread.start()

    def present(self, payload: bytes, uid: bytes = b"\x04virt", trail: TrailPort | None = None) -> None:
        """Lay a card on the reader (with its trail memory: given, else this card's own). Raises queue.Full."""
        port = trail if trail is not None else self._trails.setdefault(bytes(payload), MemoryTrail())
        self._inbox.put_nowait((bytes(payload), uid, port))

    def present_torn(self, uid: bytes = b"\x04virt") -> None:
        """A read that broke off, as when a card moves on a real reader (nfc_reader.py). Raises queue.Full."""
        self._inbox.put_nowait(CardRejected(CardReadIncomplete(), uid))

    def stop(self, timeout_s: float = 2.0) -> None:
        if self._thread is None:
            return
        self._inbox.put(None)
        self._thread.join(timeout_s)
        self._thread = None


class MemoryTrail(TrailPort):
    """A virtual card's trail pages (4-12) in memory, written and read back like the NTAG's.

    `on_write` gets the whole area after every write (the scripted till saves its card file
    with it, atomically); `fail_next` makes the next write fail as a card pulled away would.
    """

    def __init__(self, area: bytes | None = None, on_write: Callable[[bytes], None] | None = None) -> None:
        self._raw = bytearray(cardtrail.blank_area() if area is None else area)
        self.area = cardtrail.parse_area(bytes(self._raw))
        self.on_write = on_write
        self.fail_next: CardError | None = None
        self.writes = 0

    @property
    def raw(self) -> bytes:
        return bytes(self._raw)

    def write(self, entry: cardtrail.Trail) -> cardtrail.Trail:
        if self.fail_next is not None:
            error, self.fail_next = self.fail_next, None
            raise error
        if self.area is None:
            raise CardWriteFailed(detail="geen spoor-gebied op de pas")
        page, data = self.area.next_write(entry)
        at = (page - cardtrail.FIRST_PAGE) * 4
        self._raw[at : at + cardtrail.SLOT_BYTES] = data
        if self.on_write is not None:
            self.on_write(bytes(self._raw))
        self.area = cardtrail.parse_area(bytes(self._raw))  # read back, as the NTAG writer does
        written = cardtrail.decode_slot(data)
        if self.area is None or written is None or self.area.current != written:
            raise CardWriteFailed(detail="teruggelezen spoor wijkt af")
        self.writes += 1
        return written


class VirtualPrinter(ReceiptPrinter):
    """Keeps what it printed; `fail_with` makes the next prints raise like a real printer would.

    With an `out_dir` (the run folder) each document is saved as text and as
    a PNG picture of the paper (render_image.py); `files` lists them and
    `on_printed(doc, png_path)` tells the app a new receipt is there to show.
    """

    def __init__(
        self,
        columns: int = 32,
        out_dir: Path | None = None,
        on_printed: Callable[[PrintDoc, Path | None], None] | None = None,
    ) -> None:
        self.columns = columns
        self.out_dir = out_dir
        self.docs: list[PrintDoc] = []
        self.files: list[Path] = []
        self.on_printed = on_printed
        self._failure: PrinterError | None = None
        self._lock = threading.Lock()

    def fail_with(self, error: PrinterError | None) -> None:
        """Simulate a fault (None clears it): paper out, cover open, offline."""
        with self._lock:
            self._failure = error

    def _print_doc(self, doc: PrintDoc) -> None:
        with self._lock:
            if self._failure is not None:
                raise self._failure
            self.docs.append(doc)
            index = len(self.docs)
        png_path = None
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            name = _safe_name(doc.doc_id) or f"doc-{index:04d}"
            text_path = self.out_dir / f"{index:04d}-{name}.txt"
            text_path.write_text(doc.text(self.columns), encoding="utf-8")
            png_path = text_path.with_suffix(".png")
            png_path.write_bytes(self.png(doc))
            with self._lock:
                self.files += [text_path, png_path]
        if self.on_printed is not None:
            self.on_printed(doc, png_path)

    def _status(self) -> PrinterStatus:
        with self._lock:
            failure = self._failure
        if failure is None:
            return PrinterStatus(online=True, message="Virtuele printer")
        return PrinterStatus(online=False, message=failure.message("nl"))

    def texts(self) -> list[str]:
        with self._lock:
            return [doc.text(self.columns) for doc in self.docs]

    def png(self, doc: PrintDoc | None = None) -> bytes:
        """A PNG picture of `doc` (default: the last one printed) as the paper would look."""
        from floreyn.terminal.drivers.render_image import render_png  # Pillow only when pictures are wanted

        if doc is None:
            with self._lock:
                if not self.docs:
                    raise LookupError("nothing printed yet")
                doc = self.docs[-1]
        return render_png(doc, self.columns)


def _safe_name(doc_id: str) -> str:
    """A doc id as a file name: ids come from the engine, but a path separator must never escape out_dir."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in doc_id)[:80].lstrip(".")
