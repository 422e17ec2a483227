"""Shopkeeper sign-in: PINs (hashed by floreyn.pins) and a lock-out that survives restarts.

Sign-in is by PIN alone (a busy counter has no time for user names), so a
PIN is checked against every operator's hash; operators are limited to 16.
Failures are counted per terminal and persisted with the lock-out deadline,
which is kept in the store's monotonic counter: a SIGKILL or reboot does not
reset it, and downtime does not count towards it (safe side).
"""

from __future__ import annotations

from floreyn.pins import check_pin as check_pin
from floreyn.pins import hash_pin as hash_pin
from floreyn.terminal.config import Operator, SecurityConfig
from floreyn.terminal.engine.errors import ManagerRequired, PinLockedOut, WrongPin
from floreyn.terminal.store import TerminalStore

_MAX_LOCK_DOUBLINGS = 4


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
