"""Server configuration and the server's signing key.

With no configuration the server keeps everything in one local data folder
(`./floreyn-data`, or $FLOREYN_DATA_DIR): the SQLite database, the signing
key (created on first start, mode 0600) and the bootstrap admin token.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from floreyn import keys
from floreyn.keys import PrivateKey
from floreyn.server.db import DEFAULT_POOL_SIZE

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8470
KEY_FILE: Final = "server_key.pem"
TOKEN_FILE: Final = "admin_token"
DB_FILE: Final = "floreyn.db"


def default_data_dir() -> Path:
    return Path(os.environ.get("FLOREYN_DATA_DIR") or "floreyn-data")


@dataclass(frozen=True, slots=True)
class Limits:
    max_body_bytes: int = 1024 * 1024  # a full upload batch of 500 records is about 350 KB
    # JSON nested deeper is refused (422) before any parser sees it: no request body needs more than 4.
    max_json_depth: int = 32
    # Failed authentications per client address and window: beyond it 429 (server/throttle.py).
    failed_auth_max: int = 50
    failed_auth_window_s: int = 60
    portal_signins_per_window: int = 20  # portal sign-in/activation posts per client address per 5 minutes; then 429


@dataclass(frozen=True, slots=True)
class ServerConfig:
    data_dir: Path = field(default_factory=default_data_dir)
    db_url: str | None = None  # default: SQLite in data_dir
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    limits: Limits = Limits()
    portal_url: str | None = None  # public address of the portal, e.g. https://floreyn.nl/portal (QR codes, slips)
    db_pool_size: int = DEFAULT_POOL_SIZE  # PostgreSQL connections per server process (db.py)

    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{(self.data_dir / DB_FILE).resolve()}"


def load_or_create_key(data_dir: Path) -> PrivateKey:
    """The server's Ed25519 key: signs snapshots and terminal responses. Created once, kept 0600."""
    path = data_dir / KEY_FILE
    if path.exists():
        return keys.load_private_key(path)
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)
    key = keys.new_private_key()
    keys.save_private_key(key, path)
    return key
