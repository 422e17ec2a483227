"""USB receipt printers: python-escpos's `Usb`, with endpoints read from the device.

python-escpos needs the bulk endpoint addresses and defaults to IN 0x82 /
OUT 0x01 (an Epson TM). Many 58 mm printers use IN 0x81 / OUT 0x03 or
0x02, and pyusb answers a write to an endpoint the device lacks with
ValueError('Invalid endpoint address'). So unless the config names them, the
endpoints come from the descriptors of the printer interface (USB class 7),
as `lsusb -v` lists them; named endpoints are checked against the device and
refused with the ones it has.

pyusb is imported only here, when a USB printer is configured.
"""

from __future__ import annotations

from typing import Any, Final

from escpos import printer as escpos

from floreyn.terminal.drivers.base import PrinterError

USB_CLASS_PRINTER: Final = 7
STATUS_ANSWER_BYTES: Final = 16  # what python-escpos reads; every DLE EOT answer is one byte


def find_endpoints(device: Any, in_ep: int | None, out_ep: int | None) -> tuple[int | None, int]:
    """(IN, OUT) bulk endpoints of the device's printer interface; IN is None for write-only printers.

    Raises PrinterError naming the device's endpoints when a configured one is not there.
    """
    import usb.util

    config = device.get_active_configuration()
    interfaces = sorted(config, key=lambda intf: intf.bInterfaceClass != USB_CLASS_PRINTER)
    bulk_in: list[int] = []
    bulk_out: list[int] = []
    for intf in interfaces:
        bulk = [e.bEndpointAddress for e in intf if usb.util.endpoint_type(e.bmAttributes) == usb.util.ENDPOINT_TYPE_BULK]
        outs = [a for a in bulk if usb.util.endpoint_direction(a) == usb.util.ENDPOINT_OUT]
        if outs:  # the first interface that can take print data: the printer interface if there is one
            bulk_out = outs
            bulk_in = [a for a in bulk if usb.util.endpoint_direction(a) == usb.util.ENDPOINT_IN]
            break
    has = f"IN {', '.join(map(hex, bulk_in)) or '-'}, OUT {', '.join(map(hex, bulk_out)) or '-'}"
    if not bulk_out:
        raise PrinterError(detail=f"USB-apparaat heeft geen bulk-uitgang ({has}); is dit een bonprinter?")
    if out_ep is not None and out_ep not in bulk_out:
        raise PrinterError(detail=f"out_ep {out_ep:#x} bestaat niet op deze printer ({has}); laat in_ep/out_ep weg")
    if in_ep is not None and in_ep not in bulk_in:
        raise PrinterError(detail=f"in_ep {in_ep:#x} bestaat niet op deze printer ({has}); laat in_ep/out_ep weg")
    return (in_ep if in_ep is not None else (bulk_in[0] if bulk_in else None)), (
        out_ep if out_ep is not None else bulk_out[0]
    )


class UsbPrinter(escpos.Usb):  # python-escpos is untyped (an Any base)
    """python-escpos's Usb with endpoints from the descriptors and a bounded status read.

    `in_ep` / `out_ep` None: taken from the device at open. `read_timeout_ms`
    bounds a status read (python-escpos leaves it at pyusb's default).
    """

    def __init__(self, vendor_id: int, product_id: int, *, in_ep: int | None, out_ep: int | None,
                 timeout_ms: int, profile: str) -> None:
        super().__init__(vendor_id, product_id, timeout=timeout_ms, in_ep=in_ep or 0, out_ep=out_ep or 0,
                         profile=profile)
        self._configured = (in_ep, out_ep)
        self.read_timeout_ms = timeout_ms

    def open(self, raise_not_found: bool = True) -> None:
        super().open(raise_not_found)  # find, detach the kernel's usblp, set configuration, reset
        found_in, self.out_ep = find_endpoints(self.device, *self._configured)
        self.in_ep = found_in or 0  # 0: no status answers (EscposPrinter checks)

    def _read(self) -> bytes:
        return bytes(self.device.read(self.in_ep, STATUS_ANSWER_BYTES, self.read_timeout_ms))
