"""The [printer] examples in README.md and docs/operations.md work as written.

Each ```toml block with a [printer] table is parsed and built by the factory;
the USB one prints a receipt on a POS-58 class printer (fake pyusb backend).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from escpos_decode import decode
from escpos_samples import receipt
from fake_usb import FakeUsbPrinter

from floreyn.terminal.drivers.factory import make_printer

ROOT = Path(__file__).resolve().parents[3]


def printer_examples() -> list[dict]:
    found = []
    for doc in ("README.md", "docs/operations.md"):
        for block in re.findall(r"```toml\n(.*?)```", (ROOT / doc).read_text(encoding="utf-8"), re.S):
            table = tomllib.loads(block).get("printer")
            if table is not None:
                found.append(table)
    return found


EXAMPLES = printer_examples()


def test_the_documents_have_printer_examples():
    assert {t["kind"] for t in EXAMPLES} >= {"network", "usb", "serial"}


@pytest.mark.parametrize("table", EXAMPLES, ids=lambda t: f"{t['kind']}-{t.get('profile', '')}")
def test_each_printer_example_builds(table):
    printer = make_printer(table)
    assert printer.columns in (32, 42, 48)


def test_the_58mm_usb_example_prints_on_a_pos58(monkeypatch):
    (table,) = [t for t in EXAMPLES if t["kind"] == "usb"]
    device = FakeUsbPrinter(vendor_id=table["vendor_id"], product_id=table["product_id"], in_ep=0x81, out_ep=0x03)
    device.install(monkeypatch)
    printer = make_printer({**table, "status_timeout_s": 0.2})
    printer.print_doc(receipt())
    assert decode(bytes(device.received), table["profile"], starts_in_chinese_mode=True).text(32) == receipt().text(32)
    printer.close()


def test_the_factory_docstring_examples_build():
    import ast

    from floreyn.terminal.drivers import factory

    calls = [line.strip().split("  #")[0].rstrip() for line in (factory.__doc__ or "").splitlines()
             if line.strip().startswith("make_printer(")]
    assert len(calls) >= 5
    for call in calls:
        config = ast.literal_eval(call[len("make_printer("):-1])
        assert make_printer(config).columns in (32, 42, 48), call
