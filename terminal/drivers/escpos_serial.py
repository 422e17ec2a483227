"""Serial receipt printers: python-escpos's `Serial` with RTS/CTS flow control.

A thermal printer prints slower than 19200 baud delivers, and its buffer is
a few KB: without flow control a receipt with a QR code overruns it and the
rest is lost. python-escpos only passes `dsrdtr`, and pyserial has no DSR/DTR
handshake on Linux (termios knows only CRTSCTS), so its default leaves the
line without any flow control. Here RTS/CTS is switched on after opening;
the printer's BUSY/CTS pin must be wired to the Pi's CTS (see
docs/operations.md "Serial receipt printer").
"""

from __future__ import annotations

from typing import Final

from escpos import printer as escpos

FLOW_CONTROLS: Final = ("rtscts", "xonxoff", "none")


class SerialPrinter(escpos.Serial):  # python-escpos is untyped (an Any base)
    def __init__(self, device: str, *, baudrate: int, flow_control: str, timeout_s: float, profile: str) -> None:
        assert flow_control in FLOW_CONTROLS
        super().__init__(device, baudrate=baudrate, timeout=timeout_s, xonxoff=flow_control == "xonxoff",
                         dsrdtr=False, profile=profile)
        self.rtscts = flow_control == "rtscts"

    def open(self, raise_not_found: bool = True) -> None:
        super().open(raise_not_found)
        if self.device is not None and self.rtscts:
            self.device.rtscts = True  # pyserial reconfigures the open port: termios CRTSCTS on
