"""`terminal enroll | revoke | list`.

    # on the terminal itself:
    floreyn-provision terminal enroll --terminal-id T-bakker-01 --merchant M-bakker \\
        --reader usb --printer network:192.168.1.40 --operator Anna:manager
    floreyn-provision terminal revoke T-bakker-01 --reason "gestolen"

enroll makes the terminal's Ed25519 record-signing key (data_dir/terminal.key,
0600; an existing key is kept), registers its public half with the server
for the merchant, and writes terminal.toml (default /etc/floreyn/terminal.toml,
0600) with the server's pinned key, the cooperative's card-issuing keys and
the merchant's settings; the file is checked with the till's own loader
before and after it is written. Run it again and it changes nothing; an
existing terminal.toml for another terminal is kept unless --force.
Run it as the user the till runs as (or chown the files afterwards).
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Any

from floreyn import keys
from floreyn.errors import FloreynError
from floreyn.provisioning import parse
from floreyn.provisioning.context import Ctx
from floreyn.provisioning.errors import FileExists, invalid, invalid_from, local, worded
from floreyn.provisioning.output import Col, fields, table
from floreyn.provisioning.tomlw import write_toml

DEFAULT_CONFIG = "/etc/floreyn/terminal.toml"
DEFAULT_DATA_DIR = "/var/lib/floreyn"
KEY_FILE = "terminal.key"
TERMINAL_COLS = (
    Col("id", "terminal_id"),
    Col("winkel", "merchant_id"),
    Col("status", "status"),
    Col("volgnummer", "head_seq", right=True),
    Col("reden", "status_reason"),
)


def add_parser(sub: Any) -> None:
    t = sub.add_parser("terminal", help="till terminals").add_subparsers(dest="action", required=True)
    p = t.add_parser("enroll", help="on the terminal: make its key, register it, write terminal.toml")
    p.add_argument("--terminal-id", required=True)
    p.add_argument("--merchant", required=True, dest="merchant_id")
    p.add_argument("--config", default=DEFAULT_CONFIG, help=f"where to write terminal.toml (default {DEFAULT_CONFIG})")
    p.add_argument("--data-dir", default=DEFAULT_DATA_DIR, help=f"the till's data folder (default {DEFAULT_DATA_DIR})")
    p.add_argument("--terminal-server-url", help="the server URL as the terminal reaches it (default: --server)")
    p.add_argument("--reader", default="virtual", help="NFC reader: usb, tty:AMA0:pn532, ... (default virtual)")
    p.add_argument(
        "--printer",
        default="virtual",
        help="virtual | network:HOST[:PORT] | serial:DEVICE[@BAUD] | usb:VENDOR:PRODUCT[:IN_EP:OUT_EP] | file:PATH",
    )
    p.add_argument("--printer-profile", help="python-escpos profile of the printer, e.g. TM-T88V, TM-T20II, POS-5890 "
                   "(sets its columns and code page)")
    p.add_argument("--columns", type=int, choices=(32, 42, 48), default=32,
                   help="32 on 58 mm paper, 42 on an 80 mm TM-T88 (180 dpi), 48 on other 80 mm printers")
    p.add_argument(
        "--operator",
        action="append",
        default=[],
        metavar="NAME:ROLE[:PIN]",
        help="a till operator (role cashier or manager); the PIN is asked when left out",
    )
    p.add_argument("--force", action="store_true", help="replace an existing terminal.toml")
    p.set_defaults(run=enroll)
    p = t.add_parser("revoke", help="revoke a terminal: the server refuses everything it sends")
    p.add_argument("terminal_id")
    p.add_argument("--reason", default="ingetrokken door de coöperatie")
    p.set_defaults(run=revoke)
    t.add_parser("list", help="all terminals").set_defaults(run=list_)


def enroll(ctx: Ctx) -> int:
    from floreyn.terminal.config import config_from_dict, load_config

    args, s = ctx.args, ctx.settings
    terminal_id = parse.ident(args.terminal_id, "--terminal-id")
    merchant_id = parse.ident(args.merchant_id, "--merchant")
    config_path, data_dir = Path(args.config).absolute(), Path(args.data_dir).absolute()
    reader, printer = _reader(args.reader), _printer(printer_spec(args.printer), args.printer_profile, args.columns)
    operators = [_operator(o) for o in args.operator]  # bad input is refused before anything is sent
    existing = None
    if config_path.exists() and not args.force:
        try:
            existing = load_config(config_path)
        except FloreynError as exc:
            raise local(
                "{config_path} is unreadable ({message}); use --force to replace it",
                config_path=config_path,
                message_nl=exc.message("nl"),
                message_en=exc.message("en"),
            ) from None
        if existing.terminal_id != terminal_id:
            raise FileExists(
                path=str(config_path),
                **worded("detail", "for terminal {terminal_id}", terminal_id=existing.terminal_id),
            )
        data_dir = existing.data_dir
    health = ctx.api.health()
    server_key = health["server_key"]
    if s.server_key and s.server_key != server_key:
        raise local("the server reports another key than at init ({server_key}...)", server_key=s.server_key[:16])
    merchant = ctx.api.get(f"/v1/admin/merchants/{merchant_id}")
    key_path = existing.key_path if existing else data_dir / KEY_FILE
    key, key_status = _terminal_key(key_path)
    public_hex = keys.public_raw(key).hex()
    answer = ctx.write(
        "terminal.enroll",
        "POST",
        "/v1/admin/terminals",
        {"terminal_id": terminal_id, "merchant_id": merchant_id, "public_key": public_hex},
    )
    issuer_keys = list(ctx.api.get("/v1/admin/config").get("issuer_keys") or [])
    if not issuer_keys:
        ctx.out.warn(
            ctx.out.say(
                "de server kent nog geen uitgiftesleutel; voer 'floreyn-provision init' uit",
                "the server knows no card-issuing key yet; run 'floreyn-provision init'",
            )
        )
    file_status = "exists"
    if existing is None:
        doc: dict[str, Any] = {
            "terminal": {
                "terminal_id": terminal_id,
                "cooperative": s.cooperative,
                "data_dir": str(data_dir),
                "key_file": KEY_FILE,
                "issuer_keys": issuer_keys,
                "columns": args.columns,
            },
            "merchant": {k: merchant[k] for k in ("merchant_id", "name", "category", "save_rate_bp", "topup_allowed")},
            "server": {"url": args.terminal_server_url or s.require_server(), "server_key": server_key},
            "reader": reader,
            "printer": printer,
            "operators": operators,
        }
        if not doc["operators"]:
            del doc["operators"]
        if isinstance(health.get("portal_url"), str) and health["portal_url"]:  # what the till's welcome slips print
            terminal_section: dict[str, Any] = doc["terminal"]
            terminal_section["welcome_url"] = health["portal_url"]
        config_from_dict(doc, base_dir=config_path.parent)  # the till's own checks, before anything is written
        write_toml(
            config_path,
            doc,
            header=f"Floreyn terminal {terminal_id}, written by floreyn-provision "
            "terminal enroll.\nHolds PIN hashes: keep it private (mode 0600).",
        )
        loaded = load_config(config_path)
        assert loaded.terminal_id == terminal_id and loaded.key_path == key_path
        file_status = "created"
    data = {
        **answer,
        "config": str(config_path),
        "config_status": file_status,
        "key_file": str(key_path),
        "key_status": key_status,
        "server_key": server_key,
        "issuer_keys": issuer_keys,
    }
    ctx.out.result(
        data,
        lambda: fields(
            [
                ("terminal", f"{terminal_id} voor {merchant_id} ({answer.get('result')})"),
                ("sleutel", f"{key_path} ({key_status}), publiek {public_hex[:16]}..."),
                ("instellingen", f"{config_path} ({file_status})"),
                ("uitgiftesleutels", str(len(issuer_keys))),
            ]
        ),
    )
    return 0


def _terminal_key(path: Path) -> tuple[Any, str]:
    if path.exists():
        try:
            return keys.load_private_key(path), "exists"
        except (ValueError, TypeError):
            raise local("{path} is not a usable terminal key", path=path) from None
    try:
        key = keys.new_private_key()
        keys.save_private_key(key, path)
    except OSError as exc:
        raise local("cannot write {path}: {strerror}", path=path, strerror=exc.strerror) from None
    assert keys.public_raw(keys.load_private_key(path)) == keys.public_raw(key)
    return key, "created"


def _reader(spec: str) -> dict[str, object]:
    if spec == "virtual":
        return {"kind": "virtual"}
    from floreyn.terminal.drivers.base import DeviceConfigError
    from floreyn.terminal.drivers.nfc_device import check_device_path

    try:
        return {"kind": "nfc", "device": check_device_path(spec)}
    except DeviceConfigError as exc:
        raise invalid_from("--reader", exc) from None


def printer_spec(spec: str) -> dict[str, object]:
    kind, _, rest = spec.partition(":")
    try:
        if kind == "virtual" and not rest:
            return {"kind": "virtual"}
        if kind == "network" and rest:
            host, _, port = rest.partition(":")
            return {"kind": "network", "host": host, "port": int(port or 9100)}
        if kind == "serial" and rest:
            device, _, baud = rest.partition("@")
            return {"kind": "serial", "device": device, **({"baudrate": int(baud)} if baud else {})}
        if kind == "usb" and rest.count(":") in (1, 3):
            return _usb_printer(rest.split(":"))
        if kind == "file" and rest:
            return {"kind": "file", "path": rest}
    except ValueError:
        pass
    raise invalid("--printer", "{spec!r} not understood", spec=spec)


def _printer(table: dict[str, Any], profile: str | None, columns: int) -> dict[str, object]:
    """The [printer] table: the profile decides the columns; without one, --columns does."""
    from floreyn.terminal.drivers.base import DeviceConfigError
    from floreyn.terminal.drivers.factory import make_printer

    if table["kind"] != "virtual":
        table = {**table, "profile": profile} if profile else {**table, "columns": columns}
    try:
        make_printer(table).close()  # the till's own checks (profile known, columns it can print); opens nothing
    except DeviceConfigError as exc:
        raise invalid_from("--printer", exc) from None
    return table


def _usb_printer(parts: list[str]) -> dict[str, object]:
    """usb:VID:PID (endpoints read from the printer at start) or usb:VID:PID:IN_EP:OUT_EP, all hex."""
    vendor, product = parts[0], parts[1]
    int(vendor, 16), int(product, 16)
    spec: dict[str, Any] = {"kind": "usb", "vendor_id": f"0x{vendor}", "product_id": f"0x{product}"}
    if len(parts) == 4:
        in_ep, out_ep = int(parts[2], 16), int(parts[3], 16)
        if not (0x81 <= in_ep <= 0x8F and 0x01 <= out_ep <= 0x0F):  # bit 7 is the direction: set on IN
            raise ValueError("endpoints")
        spec |= {"in_ep": f"{in_ep:#04x}", "out_ep": f"{out_ep:#04x}"}
    return spec


def _operator(spec: str) -> dict[str, str]:
    from floreyn.pins import hash_pin

    parts = spec.split(":")
    if len(parts) not in (2, 3) or not parts[0].strip() or parts[1] not in ("cashier", "manager"):
        raise invalid("--operator", "{spec!r}: write NAME:cashier or NAME:manager (optionally :PIN)", spec=spec)
    pin = parts[2] if len(parts) == 3 else _ask_pin(parts[0])
    try:
        return {"name": parts[0].strip(), "role": parts[1], "pin_hash": hash_pin(pin)}
    except ValueError:
        raise invalid("--operator", "{name}'s PIN must be 4 to 12 digits", name=parts[0]) from None


def _ask_pin(name: str) -> str:
    if not sys.stdin.isatty():
        raise invalid("--operator", "give {name}'s PIN as NAME:ROLE:PIN (no keyboard)", name=name)
    pin = getpass.getpass(f"PIN voor {name}: ")
    if getpass.getpass("Nogmaals: ") != pin:
        raise invalid("--operator", "the PINs differ")
    return pin


def revoke(ctx: Ctx) -> int:
    terminal_id = parse.ident(ctx.args.terminal_id, "terminal")
    answer = ctx.write(
        "terminal.revoke",
        "POST",
        f"/v1/admin/terminals/{terminal_id}/revoke",
        {"reason": parse.text(ctx.args.reason, "--reason", 200)},
    )
    ctx.out.result(answer, lambda: table([answer], TERMINAL_COLS))
    return 0


def list_(ctx: Ctx) -> int:
    rows = ctx.api.get("/v1/admin/terminals")["terminals"]
    ctx.out.result(rows, lambda: table(rows, TERMINAL_COLS))
    return 0
