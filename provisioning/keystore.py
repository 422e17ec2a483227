"""The cooperative's card-issuing key and NTAG password key, kept in the tool's folder.

The issuing key (Ed25519) signs every member card; terminals accept a card
when its key id names one of the server's `issuer_keys`. It is stored as
PKCS#8 PEM, mode 0600, encrypted with a passphrase unless init was told
--no-passphrase. The passphrase comes from --passphrase-file,
$FLOREYN_KEY_PASSPHRASE, or a prompt when a person is at the keyboard.

The NTAG key (AES-128) is what each card's write password is derived from
(floreyn.card.ntag_password, diversified per card UID): with it the desk
can rewrite a locked card, without it nobody can.
"""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path
from typing import Final

from floreyn import keys
from floreyn.keys import PrivateKey
from floreyn.provisioning.errors import WrongPassphrase, local
from floreyn.provisioning.tomlw import write_private

NTAG_KEY_BYTES: Final = 16
MIN_PASSPHRASE_LEN: Final = 8
MAX_PASSPHRASE_BYTES: Final = 1024


def passphrase(file: str | None, *, new: bool, allow_prompt: bool = True) -> bytes | None:
    """The passphrase from a file, the environment or a prompt; None when none is available."""
    if file:
        try:
            raw = Path(file).read_bytes()[: MAX_PASSPHRASE_BYTES + 1]
        except OSError as exc:
            raise local("passphrase file {file}: {strerror}", file=file, strerror=exc.strerror) from None
        value = raw.rstrip(b"\r\n")
    elif os.environ.get("FLOREYN_KEY_PASSPHRASE"):
        value = os.environ["FLOREYN_KEY_PASSPHRASE"].encode()
    elif allow_prompt and sys.stdin.isatty():
        value = getpass.getpass("Wachtwoord voor de uitgiftesleutel: ").encode()
        if new and getpass.getpass("Nogmaals: ").encode() != value:
            raise local("the passphrases differ")
    else:
        return None
    if len(value) > MAX_PASSPHRASE_BYTES:
        raise local("passphrase too long")
    if new and len(value) < MIN_PASSPHRASE_LEN:
        raise local(
            "choose a passphrase of at least {MIN_PASSPHRASE_LEN} characters",
            MIN_PASSPHRASE_LEN=MIN_PASSPHRASE_LEN,
        )
    return value


def create_issuer(path: Path, secret: bytes | None) -> PrivateKey:
    key = keys.new_private_key()
    keys.save_private_key(key, path, secret)
    os.chmod(path, 0o600)
    loaded = load_issuer(path, secret)  # read it back: a key we cannot load must not sign a single card
    assert keys.public_raw(loaded) == keys.public_raw(key)
    return key


def load_issuer(path: Path, secret: bytes | None) -> PrivateKey:
    if not path.exists():
        raise local("no card-issuing key at {path}; run 'floreyn-provision init'", path=path)
    try:
        return keys.load_private_key(path, secret)
    except TypeError:  # encrypted but no passphrase given, or a passphrase for a plain key
        if secret is None:
            raise local("{path} is encrypted: give --passphrase-file or FLOREYN_KEY_PASSPHRASE", path=path) from None
        return keys.load_private_key(path, None)  # a plain 0600 key: a passphrase in the environment is not needed
    except ValueError:
        if secret is not None:
            raise WrongPassphrase(path=str(path)) from None
        raise local("{path} is not an Ed25519 key", path=path) from None


def load_or_create_ntag_key(path: Path) -> tuple[bytes, bool]:
    """(key, created)."""
    if path.exists():
        return load_ntag_key(path), False
    key = os.urandom(NTAG_KEY_BYTES)
    write_private(path, key.hex().encode() + b"\n")
    assert load_ntag_key(path) == key
    return key, True


def load_ntag_key(path: Path) -> bytes:
    try:
        key = bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError):
        key = b""
    if len(key) != NTAG_KEY_BYTES:
        raise local("{path} holds no NTAG key (32 hex digits)", path=path)
    return key
