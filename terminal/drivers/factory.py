"""Devices from configuration: the `[reader]` and `[printer]` tables of terminal.toml.

    make_reader({"kind": "virtual"}, verify)
    make_reader({"kind": "nfc", "device": "usb"}, verify)            # also "tty:AMA0:pn532", "udp:HOST:PORT"
    make_printer({"kind": "virtual", "columns": 32})
    make_printer({"kind": "network", "host": "192.168.1.40", "port": 9100, "profile": "TM-T20II"})  # 48 columns
    make_printer({"kind": "serial", "device": "/dev/ttyUSB0", "baudrate": 19200, "profile": "POS-5890"})
    make_printer({"kind": "usb", "vendor_id": 0x04b8, "product_id": 0x0e15})   # endpoints from the device
    make_printer({"kind": "usb", "vendor_id": "0416", "product_id": "5011", "in_ep": "0x81", "out_ep": "0x03"})
    make_printer({"kind": "file", "path": "/dev/usb/lp0"})

Columns: the Font A columns of the python-escpos profile (TM-T88V: 42 on
80 mm paper, TM-T20II: 48, ZJ-5870 / POS-5890: 32); `"columns": 32 | 42 | 48`
or `"paper_mm": 58 | 80` for a profile that does not know its width
("default"), and a config asking more columns than the profile prints is
refused. Serial printers use RTS/CTS unless `"flow_control"` says
"xonxoff" or "none". Unknown keys
are refused rather than ignored: a misspelt "baud_rate" silently printing
garbage at 9600 baud is worse than a clear refusal at start-up.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping

from floreyn.terminal.drivers.base import CardReader, DeviceConfigError, ReceiptPrinter, VerifyPayload

_PAPER_COLUMNS = {58: 32, 80: 48}
_COLUMNS = (32, 42, 48)  # Font A on 58 mm, on 80 mm at 180 dpi (TM-T88), on 80 mm at 203 dpi
# Vendors whose printers power on in Chinese (GB18030) mode and print € and é as Chinese glyphs.
CHINESE_MODE_VENDORS = frozenset({"ZiJiang", "Zjiang", "Netum", "Rongta"})
_BAUDRATES = (9600, 19200, 38400, 57600, 115200)
_PRINTER_COMMON = {"kind", "columns", "paper_mm", "profile", "codepage", "status_timeout_s", "write_timeout_s",
                   "cancel_chinese_mode"}
_PRINTER_KEYS = {
    "virtual": {"kind", "columns", "paper_mm", "out_dir"},
    "network": _PRINTER_COMMON | {"host", "port", "connect_timeout_s"},
    "serial": _PRINTER_COMMON | {"device", "baudrate", "flow_control", "dsrdtr"},
    "usb": _PRINTER_COMMON | {"vendor_id", "product_id", "in_ep", "out_ep"},
    "file": _PRINTER_COMMON | {"path"},
}
_READER_KEYS = {
    "virtual": {"kind"},
    "nfc": {"kind", "device", "targets", "repeat_guard_s", "backoff_initial_s", "backoff_max_s", "beep"},
}


def make_reader(config: Mapping[str, object], verify: VerifyPayload) -> CardReader:
    kind = _kind(config, _READER_KEYS, "kaartlezer")
    if kind == "virtual":
        from floreyn.terminal.drivers.virtual import VirtualCardReader

        return VirtualCardReader(verify)
    from floreyn.terminal.drivers.nfc_device import DEFAULT_TARGETS, check_device_path, check_targets
    from floreyn.terminal.drivers.nfc_reader import NfcCardReader

    return NfcCardReader(
        verify,
        check_device_path(_required(config, "device", "kaartlezer")),
        targets=check_targets(config.get("targets", DEFAULT_TARGETS)),
        repeat_guard_s=_number(config, "repeat_guard_s", 1.0, 0, 10, "kaartlezer"),
        backoff_initial_s=_number(config, "backoff_initial_s", 0.5, 0.05, 10, "kaartlezer"),
        backoff_max_s=_number(config, "backoff_max_s", 10.0, 0.05, 60, "kaartlezer"),
        beep=_flag(config, "beep", False, "kaartlezer"),
    )


def make_writer(config: Mapping[str, object]) -> Any:
    """The provisioning writer for an `nfc` reader config (returns nfc_writer.CardWriter)."""
    if _kind(config, _READER_KEYS, "kaartlezer") != "nfc":
        raise DeviceConfigError(device="kaartlezer", detail="kaarten schrijven kan alleen met een NFC-lezer")
    from floreyn.terminal.drivers.nfc_device import DEFAULT_TARGETS, check_targets
    from floreyn.terminal.drivers.nfc_writer import CardWriter

    targets = check_targets(config.get("targets", DEFAULT_TARGETS))
    return CardWriter(_required(config, "device", "kaartlezer"), targets=targets)


def make_printer(config: Mapping[str, object], *, out_dir: Path | None = None) -> ReceiptPrinter:
    """`out_dir`: where the virtual printer keeps its receipts (the run folder), unless config says."""
    kind = _kind(config, _PRINTER_KEYS, "bonprinter")
    if kind == "virtual":
        columns = _columns(config, None)
        from floreyn.terminal.drivers.virtual import VirtualPrinter

        folder = config.get("out_dir", out_dir)
        if folder is not None and not isinstance(folder, (str, Path)):
            raise DeviceConfigError(device="bonprinter", detail=f"out_dir {folder!r} is geen map")
        return VirtualPrinter(columns=columns, out_dir=Path(folder) if folder is not None else None)
    _capabilities()  # first, from the kept pickle: the printer's renderer imports python-escpos's profiles too
    from floreyn.terminal.drivers.escpos_printer import EscposPrinter

    profile = _profile(config)
    codepage = config.get("codepage")
    if codepage is not None and not isinstance(codepage, str):
        raise DeviceConfigError(device="bonprinter", detail=f"codepage {codepage!r} is geen naam")
    cancel_chinese = _flag(config, "cancel_chinese_mode", needs_chinese_mode_off(profile), "bonprinter")
    return EscposPrinter(
        _connector(kind, config, profile),
        kind=kind,
        columns=_columns(config, profile),
        profile=profile,
        codepage=codepage,
        cancel_chinese_mode=cancel_chinese,
        status_timeout_s=_number(config, "status_timeout_s", 1.0, 0.05, 10, "bonprinter"),
        write_timeout_s=_number(config, "write_timeout_s", 10.0, 0.5, 60, "bonprinter"),
    )


def _connector(kind: str, config: Mapping[str, object], profile: str) -> Callable[[], Any]:
    """A function building a fresh, unopened python-escpos printer for each job."""
    from escpos import printer as escpos

    if kind == "network":
        host = _required(config, "host", "bonprinter")
        port = _integer(config, "port", 9100, 1, 65535)
        timeout_s = _number(config, "connect_timeout_s", 3.0, 0.1, 30, "bonprinter")
        return lambda: escpos.Network(host, port=port, timeout=timeout_s, profile=profile)
    if kind == "serial":
        device = _required(config, "device", "bonprinter")
        baudrate = config.get("baudrate", 19200)
        if baudrate not in _BAUDRATES:
            raise DeviceConfigError(device="bonprinter", detail=f"baudrate {baudrate!r}; kies uit {_BAUDRATES}")
        from floreyn.terminal.drivers.escpos_serial import FLOW_CONTROLS, SerialPrinter

        if "dsrdtr" in config:  # the old documented default, which left the line without flow control
            raise DeviceConfigError(device="bonprinter", detail="dsrdtr werkt niet onder Linux (pyserial kent geen "
                                    "DSR/DTR-handshake); gebruik flow_control = \"rtscts\" en sluit CTS aan")
        flow = config.get("flow_control", "rtscts")
        if flow not in FLOW_CONTROLS:
            raise DeviceConfigError(device="bonprinter", detail=f"flow_control {flow!r}; kies uit {FLOW_CONTROLS}")
        return lambda: SerialPrinter(device, baudrate=baudrate, flow_control=flow, timeout_s=1, profile=profile)
    if kind == "usb":
        if not escpos.Usb.is_usable():
            raise DeviceConfigError(device="bonprinter", detail="USB-printers vereisen pyusb: pip install pyusb")
        from floreyn.terminal.drivers.escpos_usb import UsbPrinter

        vendor, product = _usb_id(config, "vendor_id"), _usb_id(config, "product_id")
        in_ep, out_ep = _endpoint(config, "in_ep", 0x80), _endpoint(config, "out_ep", 0x00)  # None: from the device
        return lambda: UsbPrinter(vendor, product, in_ep=in_ep, out_ep=out_ep, timeout_ms=5000, profile=profile)
    path = _required(config, "path", "bonprinter")
    return lambda: escpos.File(path, profile=profile)


# -- validation ---------------------------------------------------------------------------


def _kind(config: Mapping[str, object], allowed: dict[str, set[str]], device: str) -> str:
    if not isinstance(config, Mapping):
        raise DeviceConfigError(device=device, detail="verwacht een tabel met instellingen")
    kind = config.get("kind")
    if kind not in allowed:
        raise DeviceConfigError(device=device, detail=f"soort {kind!r}; kies uit {sorted(allowed)}")
    unknown = set(config) - allowed[kind]
    if unknown:
        raise DeviceConfigError(device=device, detail=f"onbekende instelling(en) {sorted(unknown)} voor soort {kind!r}")
    return str(kind)


def _required(config: Mapping[str, object], key: str, device: str) -> str:
    value = config.get(key)
    if not isinstance(value, str) or not value.strip():
        raise DeviceConfigError(device=device, detail=f"{key!r} ontbreekt")
    return value


def _columns(config: Mapping[str, object], profile: str | None) -> int:
    """Characters per row: what the profile's Font A prints, or less when the config says so."""
    if "columns" in config and "paper_mm" in config:
        raise DeviceConfigError(device="bonprinter", detail="geef 'columns' of 'paper_mm', niet allebei")
    limit = profile_columns(profile) if profile is not None else None
    if "paper_mm" in config:
        if config["paper_mm"] not in _PAPER_COLUMNS:
            raise DeviceConfigError(device="bonprinter", detail=f"papierbreedte {config['paper_mm']!r}; kies 58 of 80")
        paper = _PAPER_COLUMNS[config["paper_mm"]]
        return min(paper, limit) if limit is not None else paper
    columns = config.get("columns", limit or 32)
    if columns not in _COLUMNS or isinstance(columns, bool):
        raise DeviceConfigError(device="bonprinter", detail=f"{columns!r} kolommen; kies uit {_COLUMNS}")
    if limit is not None and columns > limit:
        raise DeviceConfigError(
            device="bonprinter",
            detail=f"{columns} kolommen, maar printerprofiel {profile} drukt er {limit} per regel; zet columns op {limit}",
        )
    return int(columns)


def profile_columns(profile: str) -> int | None:
    """Font A columns of a python-escpos profile that knows its printable width, else None.

    ("default" and "simple" say 42 columns on an unknown width: a guess, not a limit.)
    """
    data = _capabilities().get_profile(profile).profile_data
    pixels = data.get("media", {}).get("width", {}).get("pixels")
    columns = data.get("fonts", {}).get("0", {}).get("columns")
    if not isinstance(pixels, int) or not isinstance(columns, int):
        return None
    return max((c for c in _COLUMNS if c <= columns), default=None)


def needs_chinese_mode_off(profile: str) -> bool:
    """Cheap 58 mm printers (these vendors' firmware) start in Chinese character mode: send FS . first."""
    return _capabilities().get_profile(profile).profile_data.get("vendor") in CHINESE_MODE_VENDORS


def _capabilities() -> Any:
    """python-escpos's profiles, read from the pickle kept between starts (drivers/escpos_cache.py)."""
    from floreyn.terminal.drivers.escpos_cache import use_pickled_capabilities

    use_pickled_capabilities()
    from escpos import capabilities

    return capabilities


def _profile(config: Mapping[str, object]) -> str:
    name = config.get("profile", "default")
    if name not in _capabilities().CAPABILITIES["profiles"]:
        raise DeviceConfigError(
            device="bonprinter", detail=f"printerprofiel {name!r} onbekend bij python-escpos (bijv. TM-T20II, TM-T88V)"
        )
    return str(name)


def _flag(config: Mapping[str, object], key: str, default: bool, device: str) -> bool:
    value = config.get(key, default)
    if not isinstance(value, bool):
        raise DeviceConfigError(device=device, detail=f"{key} {value!r}; true of false")
    return value


def _integer(config: Mapping[str, object], key: str, default: int, low: int, high: int) -> int:
    value = config.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise DeviceConfigError(device="bonprinter", detail=f"{key} {value!r}; verwacht een geheel getal {low}..{high}")
    return value


def _number(config: Mapping[str, object], key: str, default: float, low: float, high: float, device: str) -> float:
    value = config.get(key, default)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not low <= value <= high:
        raise DeviceConfigError(device=device, detail=f"{key} {value!r}; verwacht een getal {low}..{high}")
    return float(value)


def _endpoint(config: Mapping[str, object], key: str, direction: int) -> int | None:
    """A bulk endpoint address (0x81 / "0x81"), or None when not configured; IN has bit 7 set."""
    if key not in config:
        return None
    value = config[key]
    if isinstance(value, str):
        try:
            value = int(value, 16)
        except ValueError:
            pass
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 0xFF or value & 0x80 != direction:
        raise DeviceConfigError(
            device="bonprinter",
            detail=f"{key} {config[key]!r}; verwacht een {'IN' if direction else 'OUT'}-eindpunt zoals "
            f"{'0x81' if direction else '0x01'} (of laat weg: dan van het apparaat)",
        )
    return value


def _usb_id(config: Mapping[str, object], key: str) -> int:
    value = config.get(key)
    if isinstance(value, str):  # "0x04b8" or "04b8", as lsusb prints it
        try:
            value = int(value, 16)
        except ValueError:
            pass
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= 0xFFFF:
        raise DeviceConfigError(device="bonprinter", detail=f"{key} {config.get(key)!r}; verwacht bijv. 0x04b8")
    return value
