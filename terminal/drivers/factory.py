"""Devices from configuration: the `[reader]` and `[printer]` tables of terminal.toml.

    make_reader({"kind": "virtual"}, verify)
    make_reader({"kind": "nfc", "device": "usb"}, verify)            # also "tty:AMA0:pn532", "udp:HOST:PORT"
    make_printer({"kind": "virtual", "columns": 32})
    make_printer({"kind": "network", "host": "192.168.1.40", "port": 9100, "columns": 48, "profile": "TM-T20II"})
    make_printer({"kind": "serial", "device": "/dev/ttyUSB0", "baudrate": 19200})
    make_printer({"kind": "usb", "vendor_id": 0x04b8, "product_id": 0x0e15})
    make_printer({"kind": "file", "path": "/dev/usb/lp0"})

Paper width is `"columns": 32 | 48` or `"paper_mm": 58 | 80`. Unknown keys
are refused rather than ignored: a misspelt "baud_rate" silently printing
garbage at 9600 baud is worse than a clear refusal at start-up.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping

from floreyn.terminal.drivers.base import CardReader, DeviceConfigError, ReceiptPrinter, VerifyPayload

_PAPER_COLUMNS = {58: 32, 80: 48}
_BAUDRATES = (9600, 19200, 38400, 57600, 115200)
_PRINTER_COMMON = {"kind", "columns", "paper_mm", "profile", "codepage", "status_timeout_s", "write_timeout_s"}
_PRINTER_KEYS = {
    "virtual": {"kind", "columns", "paper_mm", "out_dir"},
    "network": _PRINTER_COMMON | {"host", "port", "connect_timeout_s"},
    "serial": _PRINTER_COMMON | {"device", "baudrate", "dsrdtr"},
    "usb": _PRINTER_COMMON | {"vendor_id", "product_id", "in_ep", "out_ep"},
    "file": _PRINTER_COMMON | {"path"},
}
_READER_KEYS = {
    "virtual": {"kind"},
    "nfc": {"kind", "device", "targets", "repeat_guard_s", "backoff_initial_s", "backoff_max_s"},
}


def make_reader(config: Mapping[str, Any], verify: VerifyPayload) -> CardReader:
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
    )


def make_writer(config: Mapping[str, Any]) -> Any:
    """The provisioning writer for an `nfc` reader config (returns nfc_writer.CardWriter)."""
    if _kind(config, _READER_KEYS, "kaartlezer") != "nfc":
        raise DeviceConfigError(device="kaartlezer", detail="kaarten schrijven kan alleen met een NFC-lezer")
    from floreyn.terminal.drivers.nfc_device import DEFAULT_TARGETS, check_targets
    from floreyn.terminal.drivers.nfc_writer import CardWriter

    targets = check_targets(config.get("targets", DEFAULT_TARGETS))
    return CardWriter(_required(config, "device", "kaartlezer"), targets=targets)


def make_printer(config: Mapping[str, Any], *, out_dir: Path | None = None) -> ReceiptPrinter:
    """`out_dir`: where the virtual printer keeps its receipts (the run folder), unless config says."""
    kind = _kind(config, _PRINTER_KEYS, "bonprinter")
    columns = _columns(config)
    if kind == "virtual":
        from floreyn.terminal.drivers.virtual import VirtualPrinter

        folder = config.get("out_dir", out_dir)
        return VirtualPrinter(columns=columns, out_dir=Path(folder) if folder is not None else None)
    from floreyn.terminal.drivers.escpos_printer import EscposPrinter

    profile = _profile(config)
    return EscposPrinter(
        _connector(kind, config, profile),
        kind=kind,
        columns=columns,
        profile=profile,
        codepage=config.get("codepage"),
        status_timeout_s=_number(config, "status_timeout_s", 1.0, 0.05, 10, "bonprinter"),
        write_timeout_s=_number(config, "write_timeout_s", 10.0, 0.5, 60, "bonprinter"),
    )


def _connector(kind: str, config: Mapping[str, Any], profile: str) -> Callable[[], Any]:
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
        dsrdtr = bool(config.get("dsrdtr", True))
        return lambda: escpos.Serial(device, baudrate=baudrate, timeout=1, dsrdtr=dsrdtr, profile=profile)
    if kind == "usb":
        if not escpos.Usb.is_usable():
            raise DeviceConfigError(device="bonprinter", detail="USB-printers vereisen pyusb: pip install pyusb")
        vendor, product = _usb_id(config, "vendor_id"), _usb_id(config, "product_id")
        in_ep, out_ep = _integer(config, "in_ep", 0x82, 1, 255), _integer(config, "out_ep", 0x01, 1, 255)
        return lambda: escpos.Usb(vendor, product, timeout=5000, in_ep=in_ep, out_ep=out_ep, profile=profile)
    path = _required(config, "path", "bonprinter")
    return lambda: escpos.File(path, profile=profile)


# -- validation ---------------------------------------------------------------------------


def _kind(config: Mapping[str, Any], allowed: dict[str, set[str]], device: str) -> str:
    if not isinstance(config, Mapping):
        raise DeviceConfigError(device=device, detail="verwacht een tabel met instellingen")
    kind = config.get("kind")
    if kind not in allowed:
        raise DeviceConfigError(device=device, detail=f"soort {kind!r}; kies uit {sorted(allowed)}")
    unknown = set(config) - allowed[kind]
    if unknown:
        raise DeviceConfigError(device=device, detail=f"onbekende instelling(en) {sorted(unknown)} voor soort {kind!r}")
    return str(kind)


def _required(config: Mapping[str, Any], key: str, device: str) -> str:
    value = config.get(key)
    if not isinstance(value, str) or not value.strip():
        raise DeviceConfigError(device=device, detail=f"{key!r} ontbreekt")
    return value


def _columns(config: Mapping[str, Any]) -> int:
    if "columns" in config and "paper_mm" in config:
        raise DeviceConfigError(device="bonprinter", detail="geef 'columns' of 'paper_mm', niet allebei")
    if "paper_mm" in config:
        if config["paper_mm"] not in _PAPER_COLUMNS:
            raise DeviceConfigError(device="bonprinter", detail=f"papierbreedte {config['paper_mm']!r}; kies 58 of 80")
        return _PAPER_COLUMNS[config["paper_mm"]]
    columns = config.get("columns", 32)
    if columns not in (32, 42, 48) or isinstance(columns, bool):
        raise DeviceConfigError(device="bonprinter", detail=f"{columns!r} kolommen; kies 32 (58 mm) of 48 (80 mm)")
    return int(columns)


def _profile(config: Mapping[str, Any]) -> str:
    from escpos.capabilities import CAPABILITIES

    name = config.get("profile", "default")
    if name not in CAPABILITIES["profiles"]:
        raise DeviceConfigError(
            device="bonprinter", detail=f"printerprofiel {name!r} onbekend bij python-escpos (bijv. TM-T20II, TM-T88V)"
        )
    return str(name)


def _integer(config: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = config.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise DeviceConfigError(device="bonprinter", detail=f"{key} {value!r}; verwacht een geheel getal {low}..{high}")
    return value


def _number(config: Mapping[str, Any], key: str, default: float, low: float, high: float, device: str) -> float:
    value = config.get(key, default)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not low <= value <= high:
        raise DeviceConfigError(device=device, detail=f"{key} {value!r}; verwacht een getal {low}..{high}")
    return float(value)


def _usb_id(config: Mapping[str, Any], key: str) -> int:
    value = config.get(key)
    if isinstance(value, str):  # "0x04b8" or "04b8", as lsusb prints it
        try:
            value = int(value, 16)
        except ValueError:
            pass
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= 0xFFFF:
        raise DeviceConfigError(device="bonprinter", detail=f"{key} {config.get(key)!r}; verwacht bijv. 0x04b8")
    return value
