"""The two devices at every till, as the engine sees them.

Each device is a small interface with a real implementation (nfcpy,
python-escpos) and a virtual one (demo and tests), chosen from config, in the
manner of python-escpos's printer back ends: one abstract method does the
raw work, everything else is shared.

Errors form one small tree under `DeviceError`, each with a Dutch message
that the till shows as is.
"""

from __future__ import annotations

import abc
import contextlib
import enum
import logging
import threading
from dataclasses import dataclass, field
from typing import Callable, Final, Iterator, TypeGuard

from floreyn.card import Card, CardError
from floreyn.cardtrail import Trail, TrailArea
from floreyn.errors import FloreynError
from floreyn.text import printable

log = logging.getLogger(__name__)

# -- errors --------------------------------------------------------------------------


class DeviceError(FloreynError):
    code = "device"


class ReaderUnavailable(DeviceError):
    code = "reader_unavailable"
    msgid = "No card reader found: {hint}"


class CardRemovedTooEarly(CardError):
    code = "card_removed"
    msgid = "The card was removed too early. Hold it still on the reader."


class CardReadIncomplete(CardError):
    """Reads that timed out or broke off with the card still there: they prove nothing about the card,
    so this is no refusal of it (NotAFloreynCard is only said of a card that was read completely)."""

    code = "card_read_incomplete"
    msgid = "The card was not read properly. Hold it still on the reader."


# Reads that broke off (the card moved, or answered too late): they say nothing about any card, so they
# refuse none. The reader reads such a card again; the till keeps an open card and its sale (engine/core.py).
TORN_READ_ERRORS: tuple[type[CardError], ...] = (CardRemovedTooEarly, CardReadIncomplete)


class CardNotBlank(CardError):
    code = "card_not_blank"
    msgid = "This card already holds data. Use a blank card or choose overwrite."


class CardUnsupported(CardError):
    code = "card_unsupported"
    msgid = "This type of card is not supported ({detail}). Use an NTAG213/215/216."


class CardWriteProtected(CardError):
    code = "card_write_protected"
    msgid = "This card is write-protected and cannot be rewritten."


class CardNotPresented(CardError):
    code = "card_not_presented"
    msgid = "No card found. Put the card on the reader and try again."


class CardWriteFailed(CardError):
    code = "card_write_failed"
    msgid = "Writing the card failed ({detail}); the card was not issued. Try again or use another card."


class DeviceConfigError(DeviceError):
    code = "device_config"
    msgid = "Invalid setting for {device}: {detail}"


class PrinterError(DeviceError):
    code = "printer"
    msgid = "Printer error: {detail}"


class PrinterOffline(PrinterError):
    code = "printer_offline"
    msgid = "The receipt printer cannot be reached. Check cable and power."


class PrinterOutOfPaper(PrinterError):
    code = "printer_paper_out"
    msgid = "The receipt printer is out of paper. Load a new roll."


class PrinterCoverOpen(PrinterError):
    code = "printer_cover_open"
    msgid = "The receipt printer's cover is open."


# -- the driver boundary: every error a device library raises, mapped in this one place ------

MAX_DETAIL_CHARS: Final = 120  # a library's message on the till's screen; longer ones are cut here


def is_stop_request(exc: BaseException) -> bool:
    """Ctrl-C or sys.exit on the main thread asks the process to stop: that passes the boundary.

    Anywhere else (the till's worker, the reader thread) no signal can raise
    them, so one that appears came from a library's bug and is a device fault.
    """
    return isinstance(exc, (KeyboardInterrupt, SystemExit)) and threading.current_thread() is threading.main_thread()


def is_timeout(exc: BaseException) -> bool:
    """A transport that did not answer in time: sockets, pyserial and pyusb each say it differently.

    pyusb's USBTimeoutError and pyserial's SerialTimeoutException are OSErrors,
    not the built-in TimeoutError, so an `except TimeoutError` misses them.
    """
    return isinstance(exc, TimeoutError) or _is_named(exc, "USBTimeoutError", "SerialTimeoutException")


def _is_named(exc: BaseException, *names: str) -> bool:
    """`exc` is (a subclass of) a library exception named so; by name, so base.py imports no device library."""
    return any(cls.__name__ in names for cls in type(exc).__mro__)


def _detail(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text if len(text) <= MAX_DETAIL_CHARS else text[: MAX_DETAIL_CHARS - 1] + "\u2026"


def printer_error(exc: BaseException) -> PrinterError:
    """What the till is told when a printer back end raised `exc`.

    OSErrors (sockets, pyserial, pyusb: all of them are) and python-escpos's
    DeviceNotFoundError mean the printer cannot be reached; anything else
    (pyusb's ValueError for an endpoint the device lacks, a library's bug) is a
    printer fault carrying the library's words.
    """
    if isinstance(exc, PrinterError):
        return exc
    if isinstance(exc, DeviceError):
        return PrinterError(detail=exc.message("nl"))
    if isinstance(exc, OSError) or _is_named(exc, "DeviceNotFoundError"):  # python-escpos: no such device
        return PrinterOffline()
    return PrinterError(detail=_detail(exc))


@contextlib.contextmanager
def printer_boundary() -> Iterator[None]:
    """Let only PrinterErrors out of a printer call (and a stop request on the main thread)."""
    try:
        yield
    except PrinterError:
        raise
    except BaseException as exc:
        if is_stop_request(exc):
            raise
        log.info("printer call failed: %r", exc, exc_info=not isinstance(exc, OSError))
        raise printer_error(exc) from exc


def reader_fault_message(exc: BaseException) -> str:
    """The reader's status line after its library raised `exc` (the reader keeps retrying)."""
    return f"Kaartlezer gaf een fout ({_detail(exc)}); opnieuw verbinden..."


# -- card reader ---------------------------------------------------------------------


class ReaderState(enum.Enum):
    STARTING = "starting"
    READY = "ready"  # waiting for a card
    RECONNECTING = "reconnecting"  # lost the device, backing off
    UNAVAILABLE = "unavailable"  # no device; `message` says what to install or plug in
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class ReaderStatus:
    state: ReaderState
    message: str = ""  # Dutch, for the status screen


class TrailPort(abc.ABC):
    """The tapped card's offline trail while it lies on the reader (floreyn/cardtrail.py).

    `area` is the trail as read at the tap (None: the card has no trail area, e.g. format 1).
    `write` writes one entry to the free slot and reads the card back before it returns the
    entry as the card now holds it; it raises CardRemovedTooEarly or CardWriteFailed (the
    engine then refuses the offline spend) and never half-succeeds silently.
    """

    area: TrailArea | None = None

    @abc.abstractmethod
    def write(self, entry: Trail) -> Trail: ...


@dataclass(frozen=True, slots=True)
class CardPresented:
    """A genuine Floreyn card was read and its signature verified."""

    card: Card
    uid: bytes = b""
    trail: TrailPort | None = field(default=None, compare=False)  # None: this reader cannot write the card


@dataclass(frozen=True, slots=True)
class CardRejected:
    """Something was presented but it is not a usable card; `error` says why."""

    error: CardError
    uid: bytes = b""


CardEvent = CardPresented | CardRejected


def is_torn(event: CardEvent) -> TypeGuard[CardRejected]:
    """A read that broke off (TORN_READ_ERRORS): no refusal of any card."""
    return isinstance(event, CardRejected) and isinstance(event.error, TORN_READ_ERRORS)


VerifyPayload = Callable[[bytes], Card]  # raises CardError; usually floreyn.card.verify_payload bound to keys


class CardReader(abc.ABC):
    """Reads member cards on its own thread and reports through callbacks.

    Callbacks run on the reader's thread: the app hands them to its main
    thread (Kivy Clock), the engine's scripted till queues them.
    """

    def __init__(self, verify: VerifyPayload) -> None:
        self._verify = verify

    @abc.abstractmethod
    def start(self, on_card: Callable[[CardEvent], None], on_status: Callable[[ReaderStatus], None]) -> None:
        """Begin waiting for cards; returns at once."""

    @abc.abstractmethod
    def stop(self, timeout_s: float = 2.0) -> None:
        """Stop the reader thread and release the device."""

    def verify_payload(self, payload: bytes, uid: bytes = b"", trail: TrailPort | None = None) -> CardEvent:
        """Shared by every back end: turn raw NDEF payload bytes into an event."""
        try:
            return CardPresented(self._verify(payload), uid, trail)
        except CardError as exc:
            return CardRejected(exc, uid)


# -- receipt printer -----------------------------------------------------------------


def _wrap(text: str, width: int) -> list[str]:
    """Word-wrap to rows of at most `width` characters, keeping the indent; always one row at least."""
    if len(text) <= width:
        return [text]
    body = text.lstrip(" ")
    indent = " " * min(len(text) - len(body), width // 2)
    room = width - len(indent)
    rows: list[str] = []
    current = ""
    for word in body.split():
        while len(word) > room:  # a word wider than the paper: split it
            if current:
                rows.append(current)
                current = ""
            rows.append(word[:room])
            word = word[room:]
        if not current:
            current = word
        elif len(current) + 1 + len(word) <= room:
            current = f"{current} {word}"
        else:
            rows.append(current)
            current = word
    if current or not rows:
        rows.append(current)
    return [indent + row for row in rows]


class Align(enum.Enum):
    LEFT = "left"
    CENTER = "center"


@dataclass(frozen=True, slots=True)
class Line:
    """One printed line: text on the left, optional text flush right (amounts)."""

    left: str = ""
    right: str = ""
    bold: bool = False
    large: bool = False  # double width and height
    align: Align = Align.LEFT

    def __post_init__(self) -> None:
        # Every text that goes onto paper passes here: no control bytes reach the printer (floreyn.text).
        object.__setattr__(self, "left", printable(self.left))
        object.__setattr__(self, "right", printable(self.right))

    def width(self, columns: int) -> int:
        """Characters that fit on one row: half as many when printed double width."""
        return columns // 2 if self.large else columns

    def rows(self, columns: int) -> list[str]:
        """The printed rows of this line, before centring, none longer than the paper is wide.

        Left text that does not fit wraps at spaces (a word longer than a row is
        split), as a person would break it; a printer left to itself breaks mid-word.
        The right text (an amount) stays flush right on the last row, or gets a
        row of its own when it does not fit beside the left text.
        """
        width = self.width(columns)
        rows = _wrap(self.left, width)
        if not self.right:
            return rows
        right = self.right[:width]
        if len(rows[-1]) + 1 + len(right) <= width:
            rows[-1] = rows[-1] + " " * (width - len(rows[-1]) - len(right)) + right
        else:
            rows.append(right.rjust(width))
        return rows


@dataclass(frozen=True, slots=True)
class PrintDoc:
    """A receipt, day-close report or welcome slip, independent of paper width and printer."""

    lines: tuple[Line, ...]
    qr_data: str | None = None  # printed under the lines, e.g. the transaction id
    cut: bool = True
    doc_id: str = ""  # names the document in the print queue and artifact files

    def text(self, columns: int = 32) -> str:
        """The document as plain text at a paper width: what golden files and the demo show."""
        out = []
        for line in self.lines:
            for row in line.rows(columns):
                out.append(row.center(line.width(columns)).rstrip() if line.align is Align.CENTER else row)
        if self.qr_data:
            out.append(f"[QR {self.qr_data}]")
        return "\n".join(out) + "\n"


@dataclass(frozen=True, slots=True)
class PrinterStatus:
    online: bool
    paper_ok: bool = True
    cover_closed: bool = True
    message: str = ""  # Dutch, for the status screen


class ReceiptPrinter(abc.ABC):
    """Prints PrintDocs. `print_doc` raises a PrinterError subclass and never half-succeeds silently.

    The public methods are the driver boundary: back ends implement the
    underscored ones, and whatever those raise (a ValueError from pyusb, a
    library's RuntimeError) leaves as a PrinterError, mapped by
    `printer_error`. So a committed sale whose receipt failed is reported as
    paid with the receipt waiting, never as an unknown outcome.
    """

    columns: int = 32  # 58 mm paper; 48 on 80 mm

    def print_doc(self, doc: PrintDoc) -> None:
        with printer_boundary():
            self._print_doc(doc)

    def status(self) -> PrinterStatus:
        """Never raises: a printer that cannot say how it is, is offline with the reason."""
        try:
            with printer_boundary():
                return self._status()
        except PrinterError as exc:
            return PrinterStatus(online=False, message=exc.message("nl"))

    def close(self) -> None:
        """Release the device; never raises (it is gone either way)."""
        try:
            with printer_boundary():
                self._close()
        except PrinterError:
            log.debug("closing the printer failed", exc_info=True)

    @abc.abstractmethod
    def _print_doc(self, doc: PrintDoc) -> None: ...

    @abc.abstractmethod
    def _status(self) -> PrinterStatus: ...

    def _close(self) -> None:  # noqa: B027 - optional for back ends without resources
        """Release the device."""


@dataclass
class DriverConfig:
    """What `[reader]` and `[printer]` in terminal.toml say; the drivers' factories read it."""

    reader: dict[str, object] = field(default_factory=lambda: {"kind": "virtual"})
    printer: dict[str, object] = field(default_factory=lambda: {"kind": "virtual"})
