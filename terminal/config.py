"""terminal.toml: the till's settings, read with tomllib and checked before anything starts.

Example (every section but [terminal] is optional; see README "Terminal configuration"):

    [terminal]
    terminal_id = "T-bakker-01"
    cooperative = "Coöperatie Floreyn Amersfoort"
    data_dir = "/var/lib/floreyn"        # relative paths are relative to this file
    key_file = "terminal.key"            # Ed25519 record-signing key, relative to data_dir; made if missing
    issuer_keys = ["<64 hex>"]           # card-issuing public keys (the snapshot may add more)
    columns = 32                         # 32 on 58 mm paper, 48 on 80 mm
    trust_wall_clock = false             # true only with a battery-backed clock (see engine/clock.py)

    [merchant]                           # used until the first snapshot arrives
    merchant_id = "M-bakker"
    name = "Bakkerij De Korenbloem"
    category = "winkel"
    save_rate_bp = 500
    topup_allowed = false

    [[operators]]
    name = "Anna"
    role = "manager"                     # or "cashier"
    pin_hash = "scrypt:4096:8:2:<salt hex>:<hash hex>"   # floreyn-terminal --hash-pin

    [security]   scrypt_n, scrypt_r, scrypt_p, max_failures, lockout_s
    [till]       repeat_guard_s, max_amount_cents, max_topup_cents, quote_ttl_s, online_timeout_s,
                 day_close_needs_manager (default true: a cashier's day close asks a manager's PIN)
    [store]      retention_days, disk_warn_mb, disk_floor_mb
    [server]     url, server_key (hex), sync_interval_s
    [power]      shutdown_command (list; default /usr/bin/systemctl poweroff)
    [display]    panel_width_mm, panel_height_mm (default: the official Pi 7" panel; used when the
                 display's DPI cannot be trusted, i.e. KIVY_DPI is not set); width_px, height_px (the
                 panel's resolution: the window's size on a desktop), fullscreen (on a desktop too)
    [reader] / [printer]   handed as is to the drivers' factories
"""

from __future__ import annotations

import tomllib
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, Final

from floreyn.categories import valid_category
from floreyn.codec import DecodeError, check_ident
from floreyn.sync.snapshot import MerchantConfig
from floreyn.terminal.drivers.base import DriverConfig
from floreyn.terminal.errors import ConfigError, UnknownCategory

# The categories the cooperative started with; the server defines more (floreyn/categories.py) and the till
# takes any well-formed name, so a new category needs no upgrade.
KNOWN_CATEGORIES: Final = ("winkel", "klussen", "groen", "zorg", "markt")
ROLES: Final = ("cashier", "manager")
MAX_OPERATORS: Final = 16  # PIN-only sign-in checks every hash; keep that bounded
MAX_CONFIG_BYTES: Final = 256 * 1024


@dataclass(frozen=True, slots=True)
class Operator:
    name: str
    role: str
    pin_hash: str

    @property
    def is_manager(self) -> bool:
        return self.role == "manager"


@dataclass(frozen=True, slots=True)
class SecurityConfig:
    # ~15 ms on a 2020s x86 core, ~60-100 ms on a Raspberry Pi 4. p=2 doubles the time at the same
    # memory (4 MiB per check): the till's whole process stays within its 60 MB budget while signing in.
    scrypt_n: int = 2**12
    scrypt_r: int = 8
    scrypt_p: int = 2
    max_failures: int = 5
    lockout_s: int = 60  # doubles with each further failure, up to 16 times this


@dataclass(frozen=True, slots=True)
class TillConfig:
    repeat_guard_s: float = 5.0  # same card charged again within this needs a new confirmation
    max_amount_cents: int = 50_000  # fl/€ 500 per transaction, a fat-finger guard
    max_topup_cents: int = 15_000
    quote_ttl_s: float = 300.0
    online_timeout_s: float = 3.0
    # Closing the day fixes the Z-report and cannot be undone: by default only a manager may, and a cashier
    # signed in is asked for a manager's PIN (the engine checks it). false lets any operator close the day.
    day_close_needs_manager: bool = True


@dataclass(frozen=True, slots=True)
class StoreConfig:
    retention_days: int = 30  # acknowledged records older than this are pruned
    disk_warn_mb: int = 256  # less free space than this on the data folder's disk: a warning (engine/disk.py)
    disk_floor_mb: int = 64  # less than this: new money transactions are refused until there is room


@dataclass(frozen=True, slots=True)
class PowerConfig:
    # Run by "Shut down" on the status screen (terminal/power.py); [] hides the button's effect.
    shutdown_command: tuple[str, ...] = ("/usr/bin/systemctl", "poweroff")


@dataclass(frozen=True, slots=True)
class DisplayConfig:
    # The panel's visible area. Used when the display reports no trustworthy DPI (an X11 desktop says 96 dpi
    # whatever the glass; KIVY_DPI set explicitly is trusted): touch targets and text sizes are in millimetres.
    # Default: the official Raspberry Pi 7" touch display (800x480 on 154.08 x 85.92 mm, ~132 dpi).
    panel_width_mm: float = 154.08
    panel_height_mm: float = 85.92
    # The panel's resolution. On the console (kiosk) the window is the whole panel whatever this says; on a
    # desktop the window opens at this size (full screen with `fullscreen`), so that it covers the panel the
    # millimetres above describe: a 7" 1024x600 panel needs width_px = 1024, height_px = 600.
    width_px: int = 800
    height_px: int = 480
    fullscreen: bool = False


@dataclass(frozen=True, slots=True)
class ServerConfig:
    url: str
    server_key: str  # hex raw Ed25519 public key of the server (snapshot signatures)
    sync_interval_s: float = 30.0


@dataclass(frozen=True)
class TerminalConfig:
    terminal_id: str
    data_dir: Path
    cooperative: str = "Coöperatie Floreyn"
    key_file: Path = Path("terminal.key")
    issuer_keys: tuple[str, ...] = ()
    columns: int = 32
    trust_wall_clock: bool = False
    timezone: str = "Europe/Amsterdam"
    welcome_url: str = "https://floreyn.nl/welkom"
    merchant: MerchantConfig | None = None
    operators: tuple[Operator, ...] = ()
    security: SecurityConfig = field(default_factory=SecurityConfig)
    till: TillConfig = field(default_factory=TillConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    server: ServerConfig | None = None
    drivers: DriverConfig = field(default_factory=DriverConfig)
    power: PowerConfig = field(default_factory=PowerConfig)
    display: DisplayConfig = field(default_factory=DisplayConfig)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "terminal.db"

    @property
    def key_path(self) -> Path:
        return self.key_file if self.key_file.is_absolute() else self.data_dir / self.key_file


def load_config(path: Path, *, data_dir: Path | None = None) -> TerminalConfig:
    """Read and check terminal.toml; every problem is a ConfigError naming the setting."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(detail=f"{path}: {exc.strerror}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(detail=f"{path} is larger than {MAX_CONFIG_BYTES} bytes")
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(detail=f"{path}: {exc}") from None
    return config_from_dict(doc, base_dir=path.parent.resolve(), data_dir=data_dir)


def config_from_dict(doc: dict[str, Any], *, base_dir: Path, data_dir: Path | None = None) -> TerminalConfig:
    _only(doc, "", {"terminal", "merchant", "operators", "security", "till", "store", "server", "reader", "printer",
                    "power", "display"})
    term = dict(doc.get("terminal") or {})
    _only(term, "terminal", {f.name for f in fields(TerminalConfig)} | {"data_dir", "key_file"})
    if "terminal_id" not in term:
        raise ConfigError(detail="[terminal] terminal_id is missing")
    _ident(term["terminal_id"], "terminal.terminal_id")
    if data_dir is None:
        data_dir = Path(term.pop("data_dir", "floreyn-data"))
        data_dir = data_dir if data_dir.is_absolute() else base_dir / data_dir
    else:
        term.pop("data_dir", None)
    columns = term.get("columns", 32)
    if columns not in (32, 42, 48):
        raise ConfigError(detail=f"terminal.columns must be 32, 42 or 48, not {columns!r}")
    for hexkey in term.get("issuer_keys", ()):
        _hex32(hexkey, "terminal.issuer_keys")
    operators = tuple(_operator(o, i) for i, o in enumerate(doc.get("operators") or ()))
    if len(operators) > MAX_OPERATORS:
        raise ConfigError(detail=f"at most {MAX_OPERATORS} operators")
    return TerminalConfig(
        terminal_id=term["terminal_id"],
        data_dir=data_dir,
        cooperative=str(term.get("cooperative", "Coöperatie Floreyn")),
        key_file=Path(term.get("key_file", "terminal.key")),
        issuer_keys=tuple(term.get("issuer_keys", ())),
        columns=columns,
        trust_wall_clock=bool(term.get("trust_wall_clock", False)),
        timezone=str(term.get("timezone", "Europe/Amsterdam")),
        welcome_url=str(term.get("welcome_url", "https://floreyn.nl/welkom")),
        merchant=merchant_from_dict(doc["merchant"]) if "merchant" in doc else None,
        operators=operators,
        security=_section(SecurityConfig, doc, "security"),
        till=_section(TillConfig, doc, "till"),
        store=_store(doc),
        server=_server(doc["server"]) if "server" in doc else None,
        drivers=DriverConfig(
            reader=dict(doc.get("reader") or {"kind": "virtual"}),
            printer=dict(doc.get("printer") or {"kind": "virtual"}),
        ),
        power=_power(doc.get("power") or {}),
        display=_display(doc),
    )


def merchant_from_dict(d: dict[str, Any]) -> MerchantConfig:
    _only(d, "merchant", {f.name for f in fields(MerchantConfig)})
    try:
        merchant = MerchantConfig(**{**d, "categories": tuple(d.get("categories", ()))})
    except TypeError as exc:
        raise ConfigError(detail=f"[merchant]: {exc}") from None
    _ident(merchant.merchant_id, "merchant.merchant_id")
    for category in merchant.all_categories():
        check_category(category)
    if type(merchant.save_rate_bp) is not int or not 0 <= merchant.save_rate_bp <= 10_000:
        raise ConfigError(detail="merchant.save_rate_bp must be a whole number from 0 to 10000")
    return merchant


def check_category(category: str) -> None:
    """Well-formed, known or not: the server defines categories, the till follows (floreyn/categories.py)."""
    if not valid_category(category):
        raise UnknownCategory(category=category, known=", ".join(KNOWN_CATEGORIES))


def _operator(d: Any, index: int) -> Operator:
    if not isinstance(d, dict):
        raise ConfigError(detail=f"operators[{index}] must be a table")
    _only(d, f"operators[{index}]", {"name", "role", "pin_hash"})
    name, role, pin_hash = d.get("name"), d.get("role"), d.get("pin_hash")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(detail=f"operators[{index}].name is missing")
    if role not in ROLES:
        raise ConfigError(detail=f"operators[{index}].role must be one of {', '.join(ROLES)}")
    if not isinstance(pin_hash, str) or not pin_hash.startswith("scrypt:") or pin_hash.count(":") != 5:
        raise ConfigError(detail=f"operators[{index}].pin_hash must come from floreyn-terminal --hash-pin")
    return Operator(name.strip(), role, pin_hash)


def _store(doc: dict[str, Any]) -> StoreConfig:
    store: StoreConfig = _section(StoreConfig, doc, "store")
    if store.disk_floor_mb > store.disk_warn_mb:
        raise ConfigError(detail="store.disk_floor_mb must not be above store.disk_warn_mb")
    return store


def _display(doc: dict[str, Any]) -> DisplayConfig:
    display: DisplayConfig = _section(DisplayConfig, doc, "display")
    for name in ("panel_width_mm", "panel_height_mm", "width_px", "height_px"):
        if not getattr(display, name) > 0:  # sizes are divided by these
            raise ConfigError(detail=f"display.{name} must be more than 0")
    return display


def _power(d: Any) -> PowerConfig:
    _only(d, "power", {f.name for f in fields(PowerConfig)})
    if "shutdown_command" not in d:
        return PowerConfig()
    cmd = d["shutdown_command"]
    if not isinstance(cmd, list) or len(cmd) > 16 or not all(isinstance(a, str) and a for a in cmd):
        raise ConfigError(detail="power.shutdown_command must be a list of at most 16 words, e.g. "
                                 "[\"/usr/bin/systemctl\", \"poweroff\"], or [] for none")
    return PowerConfig(shutdown_command=tuple(cmd))


def _server(d: dict[str, Any]) -> ServerConfig:
    _only(d, "server", {f.name for f in fields(ServerConfig)})
    if not isinstance(d.get("url"), str) or not d["url"].startswith(("http://", "https://")):
        raise ConfigError(detail="server.url must be an http(s) URL")
    _hex32(d.get("server_key"), "server.server_key")
    return _build(ServerConfig, d, "server")


def _section(cls: type, doc: dict[str, Any], name: str) -> Any:
    d = doc.get(name) or {}
    _only(d, name, {f.name for f in fields(cls)})
    return _build(cls, d, name)


def _build(cls: type, d: dict[str, Any], name: str) -> Any:
    defaults = {f.name: f.default for f in fields(cls) if f.default is not MISSING}
    for key, value in d.items():
        want = type(defaults[key]) if key in defaults and defaults[key] is not None else None
        ok = (
            want is None
            or isinstance(value, want) and not (want is int and isinstance(value, bool))
            or (want is float and type(value) is int)
        )
        if not ok or (isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0):
            raise ConfigError(detail=f"{name}.{key} = {value!r} is not a valid {want.__name__ if want else 'value'}")
    return cls(**d)


def _only(d: Any, where: str, allowed: set[str]) -> None:
    if not isinstance(d, dict):
        raise ConfigError(detail=f"[{where}] must be a table")
    unknown = sorted(set(d) - allowed)
    if unknown:  # a typo in a setting must not silently fall back to a default
        raise ConfigError(detail=f"unknown setting {'.'.join(filter(None, [where, unknown[0]]))}")


def _ident(value: Any, name: str) -> None:
    try:
        check_ident(value, name)
    except DecodeError as exc:
        raise ConfigError(detail=exc.params.get("detail", name)) from None


def _hex32(value: Any, name: str) -> None:
    try:
        ok = isinstance(value, str) and len(bytes.fromhex(value)) == 32
    except ValueError:
        ok = False
    if not ok:
        raise ConfigError(detail=f"{name} must be 64 hex digits (a raw Ed25519 public key)")
