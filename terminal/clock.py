"""Time at the till: a wall clock that may lie and a monotonic counter that must not.

A Raspberry Pi has no real-time clock: after a reboot without network its
wall clock can be hours or days behind. So nothing the engine decides rests
on the wall clock alone:

* `mono_ms` in records comes from `MonoCounter`: milliseconds that never go
  backwards, also across restarts, because each value is at least the last
  persisted one plus one (`max(last + 1, offset + time.monotonic())`). The
  offset is persisted with the boot it belongs to: a restart of the process
  in the same boot keeps it, so time while the process was down still counts
  (retention, lock-outs, the repeat guard); after a reboot it is re-based on
  the last value, so downtime across a reboot does not count (safe side:
  lock-outs last longer, records are kept longer).
* The snapshot's age comes from `time.monotonic()` of the boot it was
  received in (Linux CLOCK_MONOTONIC runs from boot, also while our process
  is down). After a reboot (a different /proc boot_id) the age is unknown,
  which the policy treats as too old: the safe side. A terminal with a
  battery-backed clock may opt in to `trust_wall_clock`.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Protocol

_BOOT_ID_PATH = Path("/proc/sys/kernel/random/boot_id")
_PROCESS_BOOT_ID = f"process-{uuid.uuid4()}"  # without /proc, every process is its own "boot": safe side


class Clock(Protocol):
    def monotonic_ms(self) -> int: ...
    def wall_ms(self) -> int: ...
    def boot_id(self) -> str: ...


class SystemClock:
    def __init__(self) -> None:
        self._boot_id: str | None = None

    def monotonic_ms(self) -> int:
        return time.monotonic_ns() // 1_000_000

    def wall_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def boot_id(self) -> str:
        if self._boot_id is None:  # a process never outlives its boot
            try:
                self._boot_id = _BOOT_ID_PATH.read_text().strip() or _PROCESS_BOOT_ID
            except OSError:
                self._boot_id = _PROCESS_BOOT_ID
        return self._boot_id


class FakeClock:
    """A clock tests move by hand; `reboot()` starts a new boot with monotonic time near zero."""

    def __init__(self, wall_ms: int = 1_785_000_000_000, monotonic_ms: int = 1_000_000) -> None:
        self._wall_ms = wall_ms
        self._mono_ms = monotonic_ms
        self._boot = 1

    def monotonic_ms(self) -> int:
        return self._mono_ms

    def wall_ms(self) -> int:
        return self._wall_ms

    def boot_id(self) -> str:
        return f"fake-boot-{self._boot}"

    def advance(self, seconds: float) -> None:
        step_ms = int(seconds * 1000)
        self._mono_ms += step_ms
        self._wall_ms += step_ms

    def reboot(self, wall_jump_s: float = 0.0) -> None:
        self._boot += 1
        self._mono_ms = 5_000
        self._wall_ms += int(wall_jump_s * 1000)


class MonoCounter:
    """Milliseconds for records that never go backwards, across restarts included."""

    def __init__(self, clock: Clock, last_persisted_ms: int, *, boot_id: str | None = None,
                 offset_ms: int | None = None) -> None:
        assert last_persisted_ms >= 0
        self._clock = clock
        self._last_ms = last_persisted_ms
        if boot_id == clock.boot_id() and offset_ms is not None:
            self._offset_ms = offset_ms  # same boot: CLOCK_MONOTONIC ran on while we were down
        else:
            self._offset_ms = last_persisted_ms + 1 - clock.monotonic_ms()
        self.boot_id = clock.boot_id()

    @property
    def offset_ms(self) -> int:
        return self._offset_ms

    def peek_ms(self) -> int:
        """The counter now, without claiming a value (for comparisons)."""
        return max(self._last_ms, self._offset_ms + self._clock.monotonic_ms())

    def next_ms(self) -> int:
        """A fresh value, strictly above every earlier one."""
        value = max(self._last_ms + 1, self._offset_ms + self._clock.monotonic_ms())
        self._last_ms = value
        return value

    @property
    def last_ms(self) -> int:
        return self._last_ms


def snapshot_age_s(
    clock: Clock,
    *,
    received_boot_id: str,
    received_monotonic_ms: int,
    received_wall_ms: int,
    trust_wall_clock: bool = False,
) -> float | None:
    """Seconds since the snapshot arrived, or None when that cannot be known (treat as stale)."""
    if received_boot_id == clock.boot_id():
        age_ms = clock.monotonic_ms() - received_monotonic_ms
        return max(0, age_ms) / 1000
    if trust_wall_clock:
        age_ms = clock.wall_ms() - received_wall_ms
        if age_ms >= 0:  # a clock behind the receipt time is a clock that lies
            return age_ms / 1000
    return None
