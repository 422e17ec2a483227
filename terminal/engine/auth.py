"""Shopkeeper PINs: scrypt hashes with a per-PIN salt, and a lock-out that survives restarts.

A stored hash carries its own cost parameters ("scrypt:N:r:p:salt:hash"),
so raising the cost in terminal.toml applies to newly set PINs without
invalidating old ones, and the test configuration can use a tiny N.

Sign-in is by PIN alone (a busy counter has no time for user names), so a
PIN is checked against every operator's hash; operators are limited to 16.
Failures are counted per terminal and persisted with the lock-out deadline,
which is kept in the store's monotonic counter: a SIGKILL or reboot does not
reset it, and downtime does not count towards it (safe side).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re

from floreyn.terminal.config import Operator, SecurityConfig
from floreyn.terminal.engine.errors import ManagerRequired, PinLockedOut, WrongPin
from floreyn.terminal.store import TerminalStore

_PIN_RE = re.compile(r"\d{4,12}")
_SALT_BYTES = 16
_HASH_BYTES = 32
_MAX_LOCK_DOUBLINGS = 4


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


class PinGate:
    """Checks PINs against the operators and keeps the lock-out in the store."""

    def __init__(self, operators: tuple[Operator, ...], security: SecurityConfig, store: TerminalStore) -> None:
        self._operators = operators
        self._security = security
        self._store = store

    def check(self, pin: str, *, manager: bool = False) -> Operator:
        failures, locked_until_ms = self._store.lockout()
        now_ms = self._store.mono.peek_ms()
        if now_ms < locked_until_ms:
            raise PinLockedOut(seconds=-(-(locked_until_ms - now_ms) // 1000))
        pin = pin.strip() if isinstance(pin, str) else ""
        found = None
        for op in self._operators:  # check all, so timing does not tell which operator matched
            if check_pin(pin, op.pin_hash) and found is None:
                found = op
        if found is not None:
            if failures:
                self._store.set_lockout(0, 0)
            if manager and not found.is_manager:
                raise ManagerRequired()
            return found
        failures += 1
        limit = self._security.max_failures
        if failures >= limit:
            lock_s = self._security.lockout_s * 2 ** min(failures - limit, _MAX_LOCK_DOUBLINGS)
            self._store.set_lockout(failures, self._store.mono.peek_ms() + lock_s * 1000)
            raise PinLockedOut(seconds=lock_s)
        self._store.set_lockout(failures, 0)
        raise WrongPin(left=limit - failures)
