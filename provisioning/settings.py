"""Where the desk tool keeps its state, and which server and token it uses.

The tool's folder (`--home`, $FLOREYN_PROVISION_HOME, default
~/.config/floreyn-provision, mode 0700) holds:

    provision.toml   server URL, admin token, pinned server key, reader, printer (0600, written by init)
    issuer.pem       the cooperative's card-issuing key (0600, PKCS#8, encrypted with a passphrase unless
                     init was given --no-passphrase)
    ntag.key         the AES key the per-card NTAG write passwords are derived from (0600)
    pending/         request ids of writes not yet answered (see journal.py)

Server and token: flag, then environment (FLOREYN_SERVER, FLOREYN_TOKEN),
then provision.toml.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Mapping

from floreyn.provisioning.errors import NotConfigured, ReaderNotConfigured, local
from floreyn.provisioning.tomlw import write_toml

CONFIG_FILE: Final = "provision.toml"
ISSUER_FILE: Final = "issuer.pem"
NTAG_KEY_FILE: Final = "ntag.key"
PENDING_DIR: Final = "pending"
NO_READER: Final = "none"  # `init --reader none`: a desk without a card writer (cards are issued elsewhere)
MAX_CONFIG_BYTES: Final = 64 * 1024
KNOWN_KEYS: Final = frozenset(
    {
        "server",
        "token",
        "server_key",
        "cooperative",
        "desk_name",
        "issuer_key_encrypted",
        "timeout_s",
        "reader",
        "printer",
    }
)


def default_home() -> Path:
    env = os.environ.get("FLOREYN_PROVISION_HOME")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "floreyn-provision"


@dataclass
class Settings:
    home: Path
    server: str | None = None
    token: str | None = None
    server_key: str | None = None  # hex; pinned by init from /v1/health, checked by terminal enroll
    cooperative: str = "Coöperatie Floreyn"
    desk_name: str = "Ledenbalie"  # second line of the welcome slip
    issuer_key_encrypted: bool = True
    timeout_s: int = 15
    reader: dict[str, Any] = field(default_factory=dict)  # {"device": "usb"}; made into the drivers' nfc config
    printer: dict[str, Any] = field(default_factory=dict)  # the drivers' [printer] table; empty: no slips
    stored: dict[str, Any] = field(default_factory=dict)  # provision.toml as read

    @property
    def config_path(self) -> Path:
        return self.home / CONFIG_FILE

    @property
    def issuer_path(self) -> Path:
        return self.home / ISSUER_FILE

    @property
    def ntag_key_path(self) -> Path:
        return self.home / NTAG_KEY_FILE

    @property
    def pending_dir(self) -> Path:
        return self.home / PENDING_DIR

    def require_server(self) -> str:
        if not self.server:
            raise NotConfigured(what="server", flag="--server", env="FLOREYN_SERVER")
        return self.server

    def require_token(self) -> str:
        if not self.token:
            raise NotConfigured(what="beheertoken / admin token", flag="--token", env="FLOREYN_TOKEN")
        return self.token

    def reader_config(self, device: str | None) -> dict[str, object]:
        """The drivers' reader table for the card writer: --reader, $FLOREYN_READER or [reader]."""
        table = dict(self.reader)
        device = device or os.environ.get("FLOREYN_READER") or table.get("device")
        if not device or device == NO_READER:
            none = device == NO_READER
            raise ReaderNotConfigured(
                why_nl=" (init --reader none)" if none else "", why_en=" (init --reader none)" if none else ""
            )
        table.update(kind="nfc", device=device)
        return table


def read_config(path: Path) -> dict[str, object]:
    if not path.exists():
        return {}
    try:
        raw = path.read_bytes()
        if len(raw) > MAX_CONFIG_BYTES:
            raise local("{path} is larger than {MAX_CONFIG_BYTES} bytes", path=path, MAX_CONFIG_BYTES=MAX_CONFIG_BYTES)
        doc = tomllib.loads(raw.decode("utf-8"))
    except OSError as exc:
        raise local("cannot read {path}: {strerror}", path=path, strerror=exc.strerror) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise local("{path} is not valid TOML: {exc}", path=path, exc=exc) from None
    unknown = sorted(set(doc) - KNOWN_KEYS)
    if unknown:  # a typo must not silently fall back to a default
        raise local("unknown setting {unknown!r} in {path}", unknown=unknown[0], path=path)
    return doc


def load(home: Path | None, server: str | None, token: str | None) -> Settings:
    home = home or default_home()
    doc = read_config(home / CONFIG_FILE)
    s = Settings(home=home, stored=doc)
    s.server = server or os.environ.get("FLOREYN_SERVER") or _str(doc, "server")
    s.token = token or os.environ.get("FLOREYN_TOKEN") or _str(doc, "token")
    s.server_key = _str(doc, "server_key")
    s.cooperative = _str(doc, "cooperative") or s.cooperative
    s.desk_name = _str(doc, "desk_name") or s.desk_name
    s.issuer_key_encrypted = bool(doc.get("issuer_key_encrypted", True))
    timeout = doc.get("timeout_s", s.timeout_s)
    if type(timeout) is not int or not 1 <= timeout <= 600:
        raise local("timeout_s in {config_path} must be 1 to 600", config_path=s.config_path)
    s.timeout_s = timeout
    s.reader = _table(doc, "reader", s.config_path)
    s.printer = _table(doc, "printer", s.config_path)
    return s


def save(s: Settings, values: Mapping[str, Any]) -> None:
    """Merge `values` into provision.toml (0600) and write it back."""
    doc = {**read_config(s.config_path), **values}
    ensure_home(s.home)
    write_toml(
        s.config_path,
        doc,
        header="floreyn-provision settings (written by 'floreyn-provision init').\n"
        "Holds an admin token: keep this file private (mode 0600).",
    )


def ensure_home(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    os.chmod(home, 0o700)


def _str(doc: Mapping[str, Any], key: str) -> str | None:
    value = doc.get(key)
    return value if isinstance(value, str) and value else None


def _table(doc: Mapping[str, Any], key: str, path: Path) -> dict[str, object]:
    value = doc.get(key, {})
    if not isinstance(value, dict):
        raise local("[{key}] in {path} must be a table", key=key, path=path)
    return dict(value)
