"""USB receipt printers through python-escpos and the whole of pyusb, on a fake backend (fake_usb.py).

No USB printer here: pyusb's backend (what libusb would be) is the one stand-in;
usb.core.find, descriptors, endpoint lookup and pyusb's errors are real.
"""

from __future__ import annotations

import errno
import time

import pytest
import usb.core
from escpos_decode import decode
from escpos_samples import receipt
from fake_usb import LIBUSB_ERROR_NO_DEVICE, FakeUsbPrinter

from floreyn.terminal.drivers.base import PrinterError, PrinterOffline
from floreyn.terminal.drivers.factory import make_printer

README_58MM = {"kind": "usb", "vendor_id": "0x0416", "product_id": "0x5011", "profile": "POS-5890"}


@pytest.fixture
def pos58(monkeypatch) -> FakeUsbPrinter:
    """A POS-58 class printer: bulk IN 0x81, OUT 0x03 (python-escpos assumes 0x82 / 0x01)."""
    device = FakeUsbPrinter(in_ep=0x81, out_ep=0x03)
    device.install(monkeypatch)
    return device


def test_endpoints_are_read_from_the_device_when_the_config_names_none(pos58):
    printer = make_printer({**README_58MM, "status_timeout_s": 0.2})
    printer.print_doc(receipt())  # pyusb: ValueError('Invalid endpoint address 0x1') with escpos's defaults
    assert decode(bytes(pos58.received), "POS-5890").text(32) == receipt().text(32)
    assert pos58.status_queries == [1, 2, 4, 1, 2, 4]  # DLE EOT answered through IN 0x81
    assert printer.status().message == "Bonprinter klaar"


def test_endpoints_the_device_lacks_are_refused_naming_the_ones_it_has(pos58):
    printer = make_printer({**README_58MM, "in_ep": "0x82", "out_ep": "0x01"})
    with pytest.raises(PrinterError) as refused:
        printer.print_doc(receipt())
    message = refused.value.message("nl")
    assert "0x1 bestaat niet" in message and "IN 0x81, OUT 0x3" in message
    assert not printer.status().online and pos58.received == bytearray()


def test_a_usb_printer_stays_open_and_is_reopened_after_an_error(pos58):
    printer = make_printer({**README_58MM, "status_timeout_s": 0.2})
    for _ in range(3):
        printer.print_doc(receipt())
    assert printer.status().online
    assert (pos58.resets, printer.opens) == (1, 1)  # python-escpos resets on open: once, not per receipt
    pos58.fail_next = usb.core.USBError("No such device", LIBUSB_ERROR_NO_DEVICE, errno.ENODEV)
    with pytest.raises(PrinterOffline):
        printer.print_doc(receipt())
    printer.print_doc(receipt())  # the cable is back: reopened for this receipt
    assert (pos58.resets, printer.opens) == (2, 2)
    assert decode(bytes(pos58.received), "POS-5890").text(32) == receipt().text(32) * 4
    printer.close()


def test_a_usb_printer_that_never_answers_status_prints_anyway_and_is_not_asked_again(pos58):
    pos58.answers_status = False  # bulk reads time out: pyusb raises USBTimeoutError, an OSError
    printer = make_printer({**README_58MM, "status_timeout_s": 1.5})
    printer.print_doc(receipt())
    assert decode(bytes(pos58.received), "POS-5890").text(32) == receipt().text(32)
    assert pos58.status_queries == [1]  # one unanswered question, not one before and one after
    started = time.monotonic()
    printer.print_doc(receipt())
    assert time.monotonic() - started < 1.5  # remembered: no status timeout (1.5 s) for later receipts
    assert pos58.status_queries == [1] and printer.answers_status is False
    assert "status onbekend" in printer.status().message  # the status screen still asks
    assert pos58.status_queries == [1, 1]


def test_a_write_only_usb_printer_prints_without_status(monkeypatch):
    device = FakeUsbPrinter(in_ep=None, out_ep=0x02)
    device.install(monkeypatch)
    printer = make_printer(README_58MM)
    printer.print_doc(receipt())
    assert decode(bytes(device.received), "POS-5890").text(32) == receipt().text(32)
    assert device.status_queries == []
