"""Shopkeeper PINs: scrypt hashes with a per-PIN salt.

A stored hash carries its own cost parameters ("scrypt:N:r:p:salt:hash"),
so raising the cost in terminal.toml applies to newly set PINs without
invalidating old ones, and the test configuration can use a tiny N.

In the core because two roles make them: the till checks them (terminal/engine/auth.py)
and the desk tool writes them into a terminal's configuration (floreyn-provision
terminal init), which must not import the till (tests/test_ladder.py).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re

_PIN_RE = re.compile(r"\d{4,12}")
_SALT_BYTES = 16
_HASH_BYTES = 32


def hash_pin(pin: str, *, n: int = 2**12, r: int = 8, p: int = 2, salt: bytes | None = None) -> str:
    if not _PIN_RE.fullmatch(pin):
        raise ValueError("a PIN is 4 to 12 digits")
    salt = os.urandom(_SALT_BYTES) if salt is None else salt
    digest = _scrypt(pin, salt, n, r, p)
    return f"scrypt:{n}:{r}:{p}:{salt.hex()}:{digest.hex()}"


def check_pin(pin: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt_hex, digest_hex = stored.split(":")
        assert scheme == "scrypt"
        salt, digest = bytes.fromhex(salt_hex), bytes.fromhex(digest_hex)
        n_, r_, p_ = int(n), int(r), int(p)
    except (ValueError, AssertionError):
        return False
    if not _PIN_RE.fullmatch(pin):
        return False
    return hmac.compare_digest(_scrypt(pin, salt, n_, r_, p_), digest)


def _scrypt(pin: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    maxmem = 128 * r * n * p + 4 * 1024 * 1024
    return hashlib.scrypt(pin.encode("ascii"), salt=salt, n=n, r=r, p=p, maxmem=maxmem, dklen=_HASH_BYTES)
