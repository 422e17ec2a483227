"""Receipts through python-escpos to a fake printer on a real TCP socket and a raw pty, decoded back.

Golden files (golden/<doc>_<columns>_<profile>.txt) hold the decoded text,
QR codes as read back by zxing-cpp. FLOREYN_UPDATE_GOLDEN=1 rewrites them.
"""

from __future__ import annotations

import os
import termios
import time
from pathlib import Path

import pytest
from escpos.capabilities import get_profile
from escpos_decode import decode
from escpos_samples import SAMPLES, TX_ID, receipt

from floreyn.terminal.drivers.base import (
    Align,
    PrinterCoverOpen,
    PrinterOffline,
    PrinterOutOfPaper,
)
from floreyn.terminal.drivers.escpos_render import fit_doc
from floreyn.terminal.drivers.factory import make_printer
from floreyn.terminal.drivers.nfc_emulator import free_udp_port

GOLDEN = Path(__file__).resolve().parent / "golden"
FAST = {"status_timeout_s": 0.2}


def network(fake, **extra):
    return make_printer({"kind": "network", "host": "127.0.0.1", "port": fake.port, **FAST, **extra})


def received_text(fake, want: str) -> str | None:
    """The text the fake serial printer received, waiting (bounded) until it is `want`."""
    def text(data: bytes) -> str | None:
        try:
            return decode(data).text(32)
        except Exception:  # a job cut mid-command by the wait: not yet
            return None
    return text(fake.wait_received(lambda data: text(data) == want))


def last_job(fake) -> bytes:
    return fake.last_job()


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("FLOREYN_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from the golden file"


@pytest.mark.parametrize("doc_name", sorted(SAMPLES))
@pytest.mark.parametrize("columns, profile", [(32, "ZJ-5870"), (48, "TM-T20II")])
def test_documents_print_as_golden_text_on_58_and_80_mm(network_printer, doc_name, columns, profile):
    doc = SAMPLES[doc_name]()
    network(network_printer, columns=columns, profile=profile).print_doc(doc)
    decoded = decode(last_job(network_printer), profile)
    text = decoded.text(columns)
    assert text == doc.text(columns)  # the paper says exactly what the document says
    check_golden(f"{doc_name}_{columns}_{profile}.txt", text)
    has_cutter = bool(get_profile(profile).supports("paperFullCut"))  # the ZJ-5870 has none: feed only
    assert decoded.cuts == (1 if doc.cut and has_cutter else 0)


def test_euro_sign_is_sent_in_the_selected_code_page(network_printer):
    printer = network(network_printer, profile="TM-T20II")
    printer.print_doc(receipt())
    job = last_job(network_printer)
    assert decode(job, "TM-T20II").codepages == [16]  # ESC t 16: WPC1252 on Epson
    assert b"\x80 12,50" in job  # € is 0x80 in CP1252
    network(network_printer, profile="TM-T20II", codepage="CP858").print_doc(receipt())
    job = last_job(network_printer)
    assert decode(job, "TM-T20II").codepages == [19] and b"\xd5 12,50" in job  # PC858: € at 0xD5
    assert "€ 12,50" in decode(job, "TM-T20II").text(32)


def test_a_profile_without_a_euro_code_page_prints_eur_and_keeps_columns(network_printer):
    network(network_printer, profile="simple").print_doc(receipt())
    text = decode(last_job(network_printer), "simple").text(32)
    assert "€" not in text and "Aankoop" + " " * 16 + "EUR 12,50" in text
    assert text == fit_doc(receipt(), "CP437").text(32)
    check_golden("receipt_32_simple.txt", text)


def test_bold_large_centre_and_qr_come_out_as_the_document_says(network_printer):
    doc = receipt()
    network(network_printer, columns=48, profile="TM-T20II").print_doc(doc)
    decoded = decode(last_job(network_printer), "TM-T20II")
    printed = [line for line in decoded.lines if not hasattr(line, "getpixel")]
    assert len(printed) == len(doc.lines)
    for line, want in zip(printed, doc.lines, strict=True):
        assert line.bold == want.bold
        assert (line.width, line.height) == ((2, 2) if want.large else (1, 1))
        assert line.align == ("center" if want.align is Align.CENTER else "left")
    (qr,) = decoded.images
    assert qr.width == 576  # centred on the full 80 mm print width
    assert "[QR " + TX_ID + "]" in decoded.text(48)  # zxing-cpp reads the transaction id back


def test_paper_out_refuses_before_printing_anything(network_printer):
    network_printer.paper = "out"
    with pytest.raises(PrinterOutOfPaper) as refused:
        network(network_printer).print_doc(receipt())
    assert refused.value.message("nl").startswith("De bonprinter heeft geen papier")
    assert decode(last_job(network_printer)).lines == []  # only status queries reached the printer


def test_cover_open_is_reported_as_such(network_printer):
    network_printer.cover_open = True
    with pytest.raises(PrinterCoverOpen):
        network(network_printer).print_doc(receipt())
    status = network(network_printer).status()
    assert (status.online, status.cover_closed) == (False, False)
    assert status.message == "De klep van de bonprinter staat open."


def test_paper_running_out_mid_receipt_fails_the_print(network_printer):
    network_printer.paper_out_after_bytes = 200
    with pytest.raises(PrinterOutOfPaper):
        network(network_printer).print_doc(receipt())
    network_printer.paper, network_printer.paper_out_after_bytes = "ok", None
    network(network_printer).print_doc(receipt())  # the reprint after a new roll works
    assert decode(last_job(network_printer)).text(32) == receipt().text(32)


def test_near_end_still_prints_and_warns(network_printer):
    network_printer.paper = "near_end"
    printer = network(network_printer)
    printer.print_doc(receipt())
    assert decode(last_job(network_printer)).cuts == 1
    status = printer.status()
    assert status.online and status.paper_ok and "bijna op" in status.message


def test_a_printer_without_status_support_still_prints(network_printer):
    network_printer.answers_status = False
    printer = network(network_printer)
    printer.print_doc(receipt())
    assert decode(last_job(network_printer)).text(32) == receipt().text(32)
    assert "status onbekend" in printer.status().message


def test_unreachable_printer_is_offline():
    port = free_udp_port()  # no TCP server there either
    printer = make_printer({"kind": "network", "host": "127.0.0.1", "port": port})
    with pytest.raises(PrinterOffline):
        printer.print_doc(receipt())
    status = printer.status()
    assert not status.online and "niet bereikbaar" in status.message


def test_printer_dropping_the_connection_mid_job_is_offline(network_printer):
    network_printer.drop_after_bytes = 100
    with pytest.raises(PrinterOffline):
        network(network_printer).print_doc(receipt())


def test_serial_printer_over_a_raw_pty(serial_printer):
    printer = make_printer({"kind": "serial", "device": serial_printer.device, "baudrate": 19200, **FAST})
    printer.print_doc(receipt())
    assert received_text(serial_printer, receipt().text(32)) == receipt().text(32)
    assert serial_printer.status_queries == [1, 2, 4, 1, 2, 4]  # asked before and after the job
    serial_printer.paper = "out"
    with pytest.raises(PrinterOutOfPaper):
        printer.print_doc(receipt())
    assert "geen papier" in printer.status().message


def test_missing_serial_device_is_offline(tmp_path):
    printer = make_printer({"kind": "serial", "device": str(tmp_path / "ttyUSB9")})
    with pytest.raises(PrinterOffline):
        printer.print_doc(receipt())


def test_file_printer_writes_the_job(tmp_path):
    path = tmp_path / "lp0"
    path.touch()
    printer = make_printer({"kind": "file", "path": str(path), "paper_mm": 80, "profile": "TM-T88V"})
    printer.print_doc(receipt())
    assert printer.columns == 42  # 80 mm paper, but a TM-T88V prints 42 Font A columns (512 dots at 180 dpi)
    assert decode(path.read_bytes(), "TM-T88V").text(42) == receipt().text(42)
    assert printer.status().online  # a device file cannot answer: status unknown, not a fault


def test_a_silent_network_printer_costs_one_status_timeout_once(network_printer):
    network_printer.answers_status = False
    printer = network(network_printer, status_timeout_s=1.5)
    printer.print_doc(receipt())
    assert network_printer.status_queries == [1]  # one unanswered question, not one before and one after
    started = time.monotonic()
    printer.print_doc(receipt())
    assert network_printer.status_queries == [1]  # remembered: not asked again
    assert time.monotonic() - started < 1.5  # so no status timeout was waited (the bound is the timeout)
    assert decode(last_job(network_printer)).text(32) == receipt().text(32)


def test_a_silent_serial_printer_prints_and_is_remembered(serial_printer):
    serial_printer.answers_status = False
    printer = make_printer({"kind": "serial", "device": serial_printer.device, **FAST})
    printer.print_doc(receipt())
    printer.print_doc(receipt())
    assert received_text(serial_printer, receipt().text(32) * 2) == receipt().text(32) * 2
    assert serial_printer.status_queries == [1]


def test_serial_printers_use_rts_cts_flow_control_on_the_port(serial_printer):
    assert not termios.tcgetattr(serial_printer.slave_fd)[2] & termios.CRTSCTS
    make_printer({"kind": "serial", "device": serial_printer.device, **FAST}).print_doc(receipt())
    assert termios.tcgetattr(serial_printer.slave_fd)[2] & termios.CRTSCTS  # what the kernel was told
    make_printer({"kind": "serial", "device": serial_printer.device, "flow_control": "none", **FAST}).status()
    assert not termios.tcgetattr(serial_printer.slave_fd)[2] & termios.CRTSCTS


def test_chinese_mode_is_cancelled_so_the_euro_sign_prints(network_printer):
    network(network_printer, profile="ZJ-5870").print_doc(receipt())
    job = last_job(network_printer)
    assert job.index(b"\x1c.") < job.index(b"\x1bt")  # FS . right after ESC @, before the code page
    text = decode(job, "ZJ-5870", starts_in_chinese_mode=True).text(32)
    assert text == receipt().text(32) and "€" in text
    network(network_printer, profile="TM-T20II").print_doc(receipt())
    assert b"\x1c" not in last_job(network_printer)  # Epson firmware has no Chinese mode to leave


def test_every_library_error_maps_to_one_printer_error():
    import serial
    import usb.core
    from escpos.exceptions import DeviceNotFoundError, ImageWidthError

    from floreyn.terminal.drivers.base import PrinterError, is_timeout, printer_error

    timeouts = [TimeoutError(), usb.core.USBTimeoutError("Operation timed out", -7, 110),
                serial.SerialTimeoutException("Write timeout")]
    assert all(is_timeout(exc) for exc in timeouts)
    assert not is_timeout(usb.core.USBError("Pipe error", -9, 32)) and not is_timeout(ValueError())
    for offline in [*timeouts, ConnectionRefusedError(), usb.core.USBError("No device", -4, 19),
                    serial.SerialException("gone"), DeviceNotFoundError("Unable to open USB printer")]:
        assert isinstance(printer_error(offline), PrinterOffline), offline
    for fault in [ValueError("Invalid endpoint address 0x1"), ImageWidthError("too wide"), RuntimeError("x")]:
        mapped = printer_error(fault)
        assert type(mapped) is PrinterError and type(fault).__name__ in mapped.message("nl")
