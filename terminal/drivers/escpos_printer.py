"""The real receipt printer: python-escpos over network, serial, USB or a device file.

Each print opens the transport, asks the printer how it is (where the
transport can answer), sends the whole receipt in one write, asks again, and
closes. Opening per print costs a few milliseconds and means a printer that
was switched off and on, or a cable that was re-plugged, simply works on the
next receipt; a long-lived connection would fail once and then need healing.
USB is the exception: python-escpos resets the device on every open, so a
USB printer stays open for the till's life and is reopened after an error.

Status comes from the ESC/POS real-time queries DLE EOT 1 (online), 2 (cover,
paper-end stop) and 4 (roll paper sensor), sent through python-escpos's
`query_status` (on serial we read the one-byte answer ourselves). We interpret the bytes ourselves rather than use
`is_online()`/`paper_status()`, because those read "no answer" as offline
(is_online) or as paper fine (paper_status); we need "no answer" to mean
"unknown, print anyway", for printers that do not implement DLE EOT, and
such a printer is remembered so that later receipts do not wait for it.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Final

from escpos.constants import DLE, EOT, RT_STATUS_ONLINE, RT_STATUS_PAPER

from floreyn.terminal.drivers.base import (
    PrintDoc,
    PrinterCoverOpen,
    PrinterOffline,
    PrinterOutOfPaper,
    PrinterStatus,
    ReceiptPrinter,
    is_stop_request,
    is_timeout,
)
from floreyn.terminal.drivers.escpos_render import choose_codepage, render_doc

log = logging.getLogger(__name__)

RT_STATUS_OFFLINE_CAUSE: Final = DLE + EOT + b"\x02"  # python-escpos has constants for 1 and 4 only
MAX_DOC_BYTES: Final = 256 * 1024  # a receipt with a QR is ~10 KB; anything near this is a bug
DRAIN_POLL_S: Final = 0.01  # how often a serial job checks that its bytes have left

NEAR_END_NL: Final = "Het papier is bijna op. Leg een nieuwe rol klaar."
READY_NL: Final = "Bonprinter klaar"
UNKNOWN_NL: Final = "Bonprinter verbonden (status onbekend)"


def interpret_status(online: int, cause: int | None, paper: int | None) -> PrinterStatus:
    """Turn DLE EOT 1/2/4 status bytes into a PrinterStatus with a Dutch message."""
    offline = bool(online & 0x08)
    cover_open = cause is not None and bool(cause & 0x04)
    paper_end = (paper is not None and paper & 0x60 == 0x60) or (cause is not None and bool(cause & 0x20))
    near_end = paper is not None and paper & 0x0C == 0x0C
    if cover_open:
        message = PrinterCoverOpen().message("nl")
    elif paper_end:
        message = PrinterOutOfPaper().message("nl")
    elif offline:
        message = PrinterOffline().message("nl")
    elif near_end:
        message = NEAR_END_NL
    else:
        message = READY_NL
    return PrinterStatus(online=not offline, paper_ok=not paper_end, cover_closed=not cover_open, message=message)


def raise_if_not_ready(status: PrinterStatus | None) -> None:
    if status is None:
        return
    if not status.cover_closed:
        raise PrinterCoverOpen()
    if not status.paper_ok:
        raise PrinterOutOfPaper()
    if not status.online:
        raise PrinterOffline()


class EscposPrinter(ReceiptPrinter):
    """A python-escpos printer; `connect` builds a fresh, unopened python-escpos instance.

    Errors: whatever python-escpos, sockets, pyserial or pyusb raise leaves
    through ReceiptPrinter's boundary as a PrinterError (base.printer_error);
    here we only decide what a missing status answer means and release or
    keep the device.
    """

    def __init__(
        self,
        connect: Callable[[], Any],
        *,
        kind: str,
        columns: int = 32,
        profile: str = "default",
        codepage: str | None = None,
        reads_status: bool = True,
        status_timeout_s: float = 1.0,
        write_timeout_s: float = 10.0,
        keep_open: bool | None = None,
        cancel_chinese_mode: bool = False,
    ) -> None:
        assert kind in ("network", "serial", "usb", "file")
        assert 0 < status_timeout_s <= 10 and 0 < write_timeout_s <= 60
        self.kind = kind
        self.columns = columns
        self.profile = profile
        self.codepage = choose_codepage(profile, codepage)
        self.cancel_chinese_mode = cancel_chinese_mode
        self.reads_status = reads_status and kind != "file"
        # python-escpos resets a USB device on every open: keep one open for the till's life and
        # reopen only after an error. Network and serial reconnect per job (see the module doc).
        self.keep_open = kind == "usb" if keep_open is None else keep_open
        self.opens = 0  # how often the transport was opened: the status screen and tests read it
        self._connect = connect
        self._status_timeout_s = status_timeout_s
        self._write_timeout_s = write_timeout_s
        self._device: Any = None  # the open python-escpos printer while kept open
        self._answered: bool | None = None  # None: not asked yet; False: never answered DLE EOT
        self._lock = threading.Lock()  # one job at a time on the wire

    @property
    def answers_status(self) -> bool | None:
        """Whether the printer answers DLE EOT (None: not known yet)."""
        return self._answered

    def _print_doc(self, doc: PrintDoc) -> None:
        data = render_doc(doc, profile=self.profile, columns=self.columns, codepage=self.codepage,
                          cancel_chinese_mode=self.cancel_chinese_mode)
        assert 0 < len(data) <= MAX_DOC_BYTES, len(data)
        with self._lock:
            self._with_device(lambda printer: self._print(printer, data))

    def _status(self) -> PrinterStatus:
        with self._lock:
            found = self._with_device(lambda printer: self._probe(printer, always=True))
        return found if found is not None else PrinterStatus(online=True, message=UNKNOWN_NL)

    def _close(self) -> None:
        with self._lock:
            device, self._device = self._device, None
            if device is not None:
                self._release(device, discard=False)

    # -- one job on an open device --------------------------------------------------------

    def _print(self, printer: Any, data: bytes) -> None:
        before = self._probe(printer)
        raise_if_not_ready(before)
        self._set_timeout(printer, self._write_timeout_s)
        printer._raw(data)  # python-escpos's documented way to send prepared bytes
        if self.kind == "serial":
            self._drain(printer.device)
        # Asked again after sending, when the printer answered before (answers come at once, so
        # this costs nothing): a printer that ran out of paper or lost its cover mid-receipt must
        # not count as printed. A fault on the last centimetre can still slip through.
        if before is not None:
            raise_if_not_ready(self._probe(printer))

    def _drain(self, port: Any) -> None:
        """Wait until the serial line has sent the receipt (bounded by the write timeout).

        Closing a port with bytes still queued may drop them; the kernel's own
        drain (tcdrain) has no timeout, and a printer holding CTS (paper out)
        would stall it forever, so we poll the output queue instead.
        """
        deadline = time.monotonic() + self._write_timeout_s
        while port.out_waiting:
            if time.monotonic() > deadline:
                raise TimeoutError("the printer did not take the receipt (flow control held)")
            time.sleep(DRAIN_POLL_S)

    def _with_device(self, job: Callable[[Any], Any]) -> Any:
        printer = self._device
        if printer is None:
            printer = self._connect()
            printer.open()
            self.opens += 1
        failed = True
        try:
            result = job(printer)
            failed = False
            return result
        finally:
            if failed or not self.keep_open:
                self._device = None
                self._release(printer, discard=failed)
            else:
                self._device = printer

    def _probe(self, printer: Any, *, always: bool = False) -> PrinterStatus | None:
        """The printer's state, or None when unknown. A printer that has never answered is not
        asked again for receipts (each unanswered query costs a whole status timeout); the
        status screen (`always`) still asks, and an answer there makes receipts ask again."""
        if not self.reads_status or (self._answered is False and not always):
            return None
        online = self._query(printer, RT_STATUS_ONLINE)
        if online is None:
            if not self._answered:
                self._answered = False
                log.info("printer %s does not answer DLE EOT: printing without status", self.kind)
            return None  # the printer does not answer DLE EOT: status unknown
        self._answered = True
        return interpret_status(
            online, self._query(printer, RT_STATUS_OFFLINE_CAUSE), self._query(printer, RT_STATUS_PAPER)
        )

    def _query(self, printer: Any, command: bytes) -> int | None:
        """One status byte, or None if the printer did not answer in time."""
        self._set_timeout(printer, self._status_timeout_s)
        try:
            if self.kind == "serial":
                # python-escpos's query_status reads 16 bytes, and pyserial waits the whole timeout
                # for them; every answer is one byte, so ask for one.
                printer._raw(command)
                answer = printer.device.read(1)
            elif self.kind == "usb" and not printer.in_ep:
                return None  # a USB printer without an IN endpoint cannot answer
            else:
                answer = printer.query_status(command)
        except Exception as exc:
            if is_timeout(exc):  # every transport's way of saying "no answer": print anyway
                return None
            raise
        if not answer:
            if self.kind == "network":  # recv() returned b"": the printer closed the connection
                raise ConnectionResetError("printer closed the connection")
            return None  # serial/usb read timed out
        status = answer[-1]  # the newest byte if stale ones were queued
        return status if status & 0x93 == 0x12 else None  # fixed bits of every DLE EOT answer

    def _set_timeout(self, printer: Any, timeout_s: float) -> None:
        device = printer.device
        if self.kind == "network":
            device.settimeout(timeout_s)
        elif self.kind == "serial":
            device.timeout = timeout_s
            device.write_timeout = self._write_timeout_s
        elif self.kind == "usb":
            printer.timeout = round(self._write_timeout_s * 1000)  # python-escpos's write timeout, ms
            printer.read_timeout_ms = round(timeout_s * 1000)

    def _release(self, printer: Any, discard: bool) -> None:
        try:
            if discard and self.kind == "serial" and printer.device:
                # Drop unsent bytes: closing a serial port waits for them to drain, which a printer
                # holding flow control (paper out) would make take forever.
                printer.device.reset_output_buffer()
            printer.close()
        except BaseException as exc:  # the job's outcome is decided; a failing close must not change it
            if is_stop_request(exc):
                raise
            log.debug("closing the printer failed", exc_info=True)
