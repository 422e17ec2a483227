"""A USB receipt printer behind pyusb's backend interface (usb.backend.IBackend).

Everything above the backend is real: usb.core.find, Device, descriptors,
endpoint lookup, interface claiming, pyusb's errors and python-escpos's Usb.
The backend is what libusb would be; `install(monkeypatch)` makes pyusb's
libusb1 discovery return it, so code calling `usb.core.find()` without a
backend finds this printer, as it would find a real one.

    printer = FakeUsbPrinter(in_ep=0x81, out_ep=0x03)   # a POS-58 class printer
    printer.install(monkeypatch)
    printer.answers_status = False                      # reads time out like libusb's
    printer.received, printer.resets, printer.opens
"""

from __future__ import annotations

import errno
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import usb.backend
import usb.backend.libusb1
import usb.core
from escpos_fake_printer import PrinterCore

LIBUSB_ERROR_TIMEOUT = -7
LIBUSB_ERROR_NO_DEVICE = -4
MAX_READ_WAIT_S = 5.0  # a timed-out read waits its timeout, as libusb does, but never longer than this


@dataclass
class _Desc:
    """A descriptor: pyusb copies named fields from whatever the backend returns."""

    fields: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.fields[name]
        except KeyError:
            raise AttributeError(name) from None


class FakeUsbPrinter(usb.backend.IBackend, PrinterCore):
    def __init__(self, *, vendor_id: int = 0x0416, product_id: int = 0x5011, in_ep: int | None = 0x81,
                 out_ep: int = 0x03, interface_class: int = 7) -> None:
        PrinterCore.__init__(self)
        self.vendor_id, self.product_id = vendor_id, product_id
        self.in_ep, self.out_ep, self.interface_class = in_ep, out_ep, interface_class
        self.received = bytearray()
        self.resets = 0
        self.opens = 0
        self.fail_next: BaseException | None = None  # raised by the next bulk transfer
        self._pending = bytearray()
        self._replies = bytearray()
        self._configuration = 0
        self._io = threading.Lock()

    def install(self, monkeypatch: Any) -> None:
        monkeypatch.setattr(usb.backend.libusb1, "get_backend", lambda *a, **k: self)

    # -- descriptors -----------------------------------------------------------------------

    def enumerate_devices(self) -> Any:
        yield "fake-printer"

    def get_device_descriptor(self, dev: Any) -> _Desc:
        return _Desc(dict(bLength=18, bDescriptorType=1, bcdUSB=0x0200, bDeviceClass=0, bDeviceSubClass=0,
                          bDeviceProtocol=0, bMaxPacketSize0=64, idVendor=self.vendor_id, idProduct=self.product_id,
                          bcdDevice=0x0100, iManufacturer=0, iProduct=0, iSerialNumber=0, bNumConfigurations=1,
                          address=5, bus=1, port_number=1, port_numbers=(1,), speed=3))

    def get_configuration_descriptor(self, dev: Any, config: int) -> _Desc:
        assert config == 0
        return _Desc(dict(bLength=9, bDescriptorType=2, wTotalLength=32, bNumInterfaces=1, bConfigurationValue=1,
                          iConfiguration=0, bmAttributes=0xC0, bMaxPower=50, extra_descriptors=[]))

    def get_interface_descriptor(self, dev: Any, intf: int, alt: int, config: int) -> _Desc:
        if intf != 0 or alt != 0:
            raise IndexError("no such interface")
        return _Desc(dict(bLength=9, bDescriptorType=4, bInterfaceNumber=0, bAlternateSetting=0,
                          bNumEndpoints=len(self._endpoints()), bInterfaceClass=self.interface_class,
                          bInterfaceSubClass=1, bInterfaceProtocol=2, iInterface=0, extra_descriptors=[]))

    def get_endpoint_descriptor(self, dev: Any, ep: int, intf: int, alt: int, config: int) -> _Desc:
        address = self._endpoints()[ep]
        return _Desc(dict(bLength=7, bDescriptorType=5, bEndpointAddress=address, bmAttributes=0x02,
                          wMaxPacketSize=64, bInterval=0, bRefresh=0, bSynchAddress=0, extra_descriptors=[]))

    def _endpoints(self) -> list[int]:
        return [self.out_ep] + ([self.in_ep] if self.in_ep is not None else [])

    # -- device handle ------------------------------------------------------------------

    def open_device(self, dev: Any) -> str:
        self.opens += 1
        return "handle"

    def close_device(self, dev_handle: Any) -> None:
        pass

    def set_configuration(self, dev_handle: Any, config_value: int) -> None:
        self._configuration = config_value

    def get_configuration(self, dev_handle: Any) -> int:
        return self._configuration

    def claim_interface(self, dev_handle: Any, intf: int) -> None:
        pass

    def release_interface(self, dev_handle: Any, intf: int) -> None:
        pass

    def reset_device(self, dev_handle: Any) -> None:
        self.resets += 1

    def clear_halt(self, dev_handle: Any, ep: int) -> None:
        pass

    # -- transfers ------------------------------------------------------------------------

    def bulk_write(self, dev_handle: Any, ep: int, intf: int, data: Any, timeout: int) -> int:
        assert ep == self.out_ep
        self._maybe_fail()
        chunk = bytes(data)
        with self._io:
            self._replies += self.feed(self._pending, chunk, self.received)
        return len(chunk)

    def bulk_read(self, dev_handle: Any, ep: int, intf: int, buff: Any, timeout: int) -> int:
        assert ep == self.in_ep
        self._maybe_fail()
        with self._io:
            answer, self._replies = bytes(self._replies[: len(buff)]), self._replies[len(buff):]
        if not answer:
            time.sleep(min(timeout / 1000, MAX_READ_WAIT_S))
            raise usb.core.USBTimeoutError("Operation timed out", LIBUSB_ERROR_TIMEOUT, errno.ETIMEDOUT)
        for i, byte in enumerate(answer):  # pyusb hands an array.array
            buff[i] = byte
        return len(answer)

    def _maybe_fail(self) -> None:
        failure, self.fail_next = self.fail_next, None
        if failure is not None:
            raise failure
