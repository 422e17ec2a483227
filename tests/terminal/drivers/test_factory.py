"""Devices from config dicts, and a clear typed refusal for every kind of bad config."""

from __future__ import annotations

import pytest
from escpos.printer import File, Network, Serial, Usb

from floreyn.terminal.drivers.base import DeviceConfigError
from floreyn.terminal.drivers.escpos_printer import EscposPrinter
from floreyn.terminal.drivers.factory import make_printer, make_reader, make_writer
from floreyn.terminal.drivers.nfc_reader import NfcCardReader
from floreyn.terminal.drivers.nfc_writer import CardWriter
from floreyn.terminal.drivers.virtual import VirtualCardReader, VirtualPrinter


def test_readers(verify):
    assert isinstance(make_reader({"kind": "virtual"}, verify), VirtualCardReader)
    reader = make_reader({"kind": "nfc", "device": "tty:AMA0:pn532", "targets": ["106A"]}, verify)
    assert isinstance(reader, NfcCardReader) and reader.device == "tty:AMA0:pn532" and reader.targets == ("106A",)
    writer = make_writer({"kind": "nfc", "device": "usb:054c:06c3"})
    assert isinstance(writer, CardWriter) and writer.device == "usb:054c:06c3"


def test_virtual_printer(tmp_path):
    printer = make_printer({"kind": "virtual", "paper_mm": 80}, out_dir=tmp_path)
    assert isinstance(printer, VirtualPrinter) and printer.columns == 48 and printer.out_dir == tmp_path


def built(printer: EscposPrinter):
    """The python-escpos object the printer would open for its next job (not opened here)."""
    device = printer._connect()
    assert device._device is False  # constructing never touches the device
    return device


def test_network_printer():
    printer = make_printer({"kind": "network", "host": "10.0.0.5", "columns": 48, "profile": "TM-T20II"})
    device = built(printer)
    assert isinstance(device, Network) and (device.host, device.port) == ("10.0.0.5", 9100)
    assert printer.columns == 48 and printer.profile == "TM-T20II" and printer.codepage == "CP1252"


def test_serial_printer():
    device = built(make_printer({"kind": "serial", "device": "/dev/ttyUSB0", "baudrate": 38400}))
    assert isinstance(device, Serial)
    assert (device.devfile, device.baudrate, device.rtscts, device.xonxoff) == ("/dev/ttyUSB0", 38400, True, False)
    device = built(make_printer({"kind": "serial", "device": "/dev/ttyUSB0", "flow_control": "xonxoff"}))
    assert (device.rtscts, device.xonxoff) == (False, True)


def test_usb_printer_gets_the_configured_ids_without_opening_the_device():
    # The one stand-in in this suite: no USB printer here, so we check what would be opened.
    printer = make_printer({"kind": "usb", "vendor_id": 0x04B8, "product_id": "0x0e15", "paper_mm": 58})
    device = built(printer)
    assert isinstance(device, Usb)
    assert device.usb_args == {"idVendor": 0x04B8, "idProduct": 0x0E15}
    assert device._configured == (None, None)  # endpoints are read from the device when it opens
    assert printer.kind == "usb" and printer.reads_status and printer.keep_open
    named = built(make_printer({"kind": "usb", "vendor_id": "0416", "product_id": "5011", "in_ep": "0x81",
                                "out_ep": 3}))
    assert named._configured == (0x81, 0x03)


@pytest.mark.parametrize(
    "config, columns",
    [
        ({"profile": "TM-T88V"}, 42),  # 512 dots at 180 dpi: 42 Font A columns on 80 mm paper
        ({"profile": "TM-T88V", "paper_mm": 80}, 42),
        ({"profile": "TM-T20II"}, 48),
        ({"profile": "TM-T20II", "paper_mm": 58}, 32),
        ({"profile": "ZJ-5870"}, 32),
        ({"profile": "default", "paper_mm": 80}, 48),  # a profile that does not know its width
        ({}, 32),
    ],
)
def test_columns_come_from_the_printer_profile(config, columns):
    assert make_printer({"kind": "network", "host": "p", **config}).columns == columns


def test_chinese_mode_is_cancelled_for_the_profiles_that_start_in_it():
    assert make_printer({"kind": "network", "host": "p", "profile": "ZJ-5870"}).cancel_chinese_mode
    assert make_printer({"kind": "network", "host": "p", "profile": "POS-5890"}).cancel_chinese_mode
    assert not make_printer({"kind": "network", "host": "p", "profile": "TM-T20II"}).cancel_chinese_mode
    assert make_printer({"kind": "network", "host": "p", "cancel_chinese_mode": True}).cancel_chinese_mode


def test_file_printer():
    printer = make_printer({"kind": "file", "path": "/dev/usb/lp0"})
    device = built(printer)
    assert isinstance(device, File) and device.devfile == "/dev/usb/lp0" and not printer.reads_status


@pytest.mark.parametrize(
    "config, says",
    [
        ({"kind": "laser"}, "soort"),
        ("network", "tabel"),
        ({"kind": "network"}, "'host' ontbreekt"),
        ({"kind": "network", "host": "p", "port": 70000}, "port"),
        ({"kind": "network", "host": "p", "port": "9100"}, "port"),
        ({"kind": "network", "host": "p", "baudrate": 9600}, "onbekende instelling"),
        ({"kind": "network", "host": "p", "columns": 40}, "kolommen"),
        ({"kind": "network", "host": "p", "columns": 48, "profile": "TM-T88V"}, "drukt er 42 per regel"),
        ({"kind": "network", "host": "p", "columns": 42, "profile": "ZJ-5870"}, "drukt er 32 per regel"),
        ({"kind": "network", "host": "p", "cancel_chinese_mode": "ja"}, "cancel_chinese_mode"),
        ({"kind": "network", "host": "p", "paper_mm": 70}, "58 of 80"),
        ({"kind": "network", "host": "p", "paper_mm": 80, "columns": 48}, "niet allebei"),
        ({"kind": "network", "host": "p", "profile": "TM-X1"}, "printerprofiel"),
        ({"kind": "network", "host": "p", "codepage": "CP437"}, "codetabel"),
        ({"kind": "network", "host": "p", "status_timeout_s": 0}, "status_timeout_s"),
        ({"kind": "serial", "device": "/dev/ttyS0", "baud_rate": 9600}, "onbekende instelling"),
        ({"kind": "serial", "device": "/dev/ttyS0", "baudrate": 12345}, "baudrate"),
        ({"kind": "serial", "device": "/dev/ttyS0", "dsrdtr": True}, "flow_control = \"rtscts\""),
        ({"kind": "serial", "device": "/dev/ttyS0", "flow_control": "dsrdtr"}, "flow_control"),
        ({"kind": "usb", "vendor_id": 1, "product_id": 1, "in_ep": 0x01}, "IN-eindpunt"),
        ({"kind": "usb", "vendor_id": 1, "product_id": 1, "out_ep": "0x81"}, "OUT-eindpunt"),
        ({"kind": "usb", "vendor_id": "epson", "product_id": 1}, "vendor_id"),
        ({"kind": "usb", "vendor_id": 0x04B8}, "product_id"),
        ({"kind": "file"}, "'path' ontbreekt"),
        ({"kind": "virtual", "host": "p"}, "onbekende instelling"),
    ],
)
def test_bad_printer_config_is_a_typed_refusal(config, says):
    with pytest.raises(DeviceConfigError) as refused:
        make_printer(config)
    assert says in refused.value.message("nl") and "bonprinter" in refused.value.message("nl")
    assert refused.value.code == "device_config"


@pytest.mark.parametrize(
    "config, says",
    [
        ({"kind": "nfc"}, "'device' ontbreekt"),
        ({"kind": "nfc", "device": "/dev/ttyUSB0"}, "apparaat"),
        ({"kind": "nfc", "device": "usb", "targets": ["106X"]}, "targets"),
        ({"kind": "nfc", "device": "usb", "targets": []}, "targets"),
        ({"kind": "nfc", "device": "usb", "repeat_guard_s": -1}, "repeat_guard_s"),
        ({"kind": "nfc", "device": "usb", "speed": 1}, "onbekende instelling"),
        ({"kind": "keyboard"}, "soort"),
    ],
)
def test_bad_reader_config_is_a_typed_refusal(verify, config, says):
    with pytest.raises(DeviceConfigError) as refused:
        make_reader(config, verify)
    assert says in refused.value.message("nl") and "kaartlezer" in refused.value.message("nl")


def test_writing_needs_an_nfc_reader():
    with pytest.raises(DeviceConfigError):
        make_writer({"kind": "virtual"})
