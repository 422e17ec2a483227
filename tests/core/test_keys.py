"""Key files: written 0600, encrypted with a passphrase when given, loaded back identical."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from floreyn import keys


def test_key_file_round_trip_is_private(tmp_path: Path) -> None:
    key = keys.new_private_key()
    path = tmp_path / "k" / "issuer.pem"
    keys.save_private_key(key, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert keys.private_seed(keys.load_private_key(path)) == keys.private_seed(key)


def test_passphrase_protects_the_key(tmp_path: Path) -> None:
    key = keys.new_private_key()
    path = tmp_path / "issuer.pem"
    keys.save_private_key(key, path, passphrase=b"gras groeit")
    assert b"ENCRYPTED" in path.read_bytes()
    with pytest.raises((TypeError, ValueError)):
        keys.load_private_key(path)
    with pytest.raises(ValueError):
        keys.load_private_key(path, passphrase=b"verkeerd")
    assert keys.public_raw(keys.load_private_key(path, b"gras groeit")) == keys.public_raw(key)


def test_key_id_is_stable_and_short() -> None:
    key = keys.private_from_seed(bytes(32))
    assert keys.key_id(key) == keys.key_id(keys.public_raw(key)) == keys.key_id(key.public_key())
    assert len(keys.key_id(key)) == 4
    with pytest.raises(ValueError):
        keys.private_from_seed(b"short")
