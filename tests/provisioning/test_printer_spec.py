"""`terminal enroll --printer ...`: each form becomes a [printer] table the drivers' factory accepts."""

from __future__ import annotations

import pytest

from floreyn.provisioning.cmd_terminal import printer_spec
from floreyn.provisioning.errors import ProvisionError
from floreyn.terminal.drivers.factory import make_printer


@pytest.mark.parametrize(
    "spec, table",
    [
        ("usb:0416:5011", {"kind": "usb", "vendor_id": "0x0416", "product_id": "0x5011"}),
        ("usb:0416:5011:81:03",
         {"kind": "usb", "vendor_id": "0x0416", "product_id": "0x5011", "in_ep": "0x81", "out_ep": "0x03"}),
        ("usb:04b8:0e15:0x82:0x01",
         {"kind": "usb", "vendor_id": "0x04b8", "product_id": "0x0e15", "in_ep": "0x82", "out_ep": "0x01"}),
        ("serial:/dev/ttyUSB0@38400", {"kind": "serial", "device": "/dev/ttyUSB0", "baudrate": 38400}),
    ],
)
def test_printer_specs_become_tables_the_factory_accepts(spec, table):
    assert printer_spec(spec) == table
    make_printer(table)  # builds, without opening anything


@pytest.mark.parametrize("spec", ["usb:0416", "usb:0416:5011:81", "usb:0416:5011:03:81", "usb:0416:5011:81:zz"])
def test_bad_usb_specs_are_refused(spec):
    with pytest.raises(ProvisionError):
        printer_spec(spec)


def test_enroll_puts_the_profile_or_the_columns_in_the_printer_table():
    from floreyn.provisioning.cmd_terminal import _printer

    usb = printer_spec("usb:04b8:0202")
    assert _printer(usb, "TM-T88V", 32)["profile"] == "TM-T88V"  # 42 columns come from the profile
    assert _printer(usb, None, 48)["columns"] == 48
    assert _printer({"kind": "virtual"}, None, 48) == {"kind": "virtual"}
    with pytest.raises(ProvisionError):
        _printer(usb, "TM-X1", 32)  # no such profile
