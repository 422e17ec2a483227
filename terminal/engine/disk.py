"""Free space on the till's SD card: a warning on the status screen, then a refusal before any write.

SQLite never half-writes a commit (a full disk fails the whole transaction,
and WAL recovery drops it at the next start), so a full card cannot corrupt
what is stored. What it can do is fail a sale at the counter in an untidy way,
fail the receipt bookkeeping after the sale, or leave the WAL unable to
checkpoint. So the engine keeps a margin:

- below [store] disk_warn_mb free (default 256 MB) the status says so (the
  app shows it on the status screen and in the banner);
- below [store] disk_floor_mb (default 64 MB) a NEW money transaction is
  refused with DiskFull, checked inside the write transaction before anything
  is written. A retry of a transaction that did commit still answers with
  it; closing the day (one small record) stays possible; committed records
  are never touched.

A record is a few hundred bytes, so 64 MB is hundreds of thousands of sales:
the floor is there for the WAL, the logs and the receipts, not the records.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Final, NamedTuple

from floreyn.terminal.engine.errors import DiskFull

MIB: Final = 1024 * 1024


class Usage(NamedTuple):  # what shutil.disk_usage returns
    total: int
    used: int
    free: int


UsageFn = Callable[[Path], Usage]


@dataclass(frozen=True, slots=True)
class DiskState:
    free_bytes: int | None  # None: the data folder could not be measured
    total_bytes: int | None
    low: bool  # below the warning level
    full: bool  # below the floor: new money transactions are refused

    @property
    def free_mb(self) -> int | None:
        return None if self.free_bytes is None else self.free_bytes // MIB


class DiskGuard:
    def __init__(self, path: Path, *, warn_mb: int, floor_mb: int, usage: UsageFn | None = None) -> None:
        assert 0 <= floor_mb <= warn_mb, (floor_mb, warn_mb)
        self.path = path
        self.warn_bytes = warn_mb * MIB
        self.floor_bytes = floor_mb * MIB
        self._usage: UsageFn = usage or shutil.disk_usage  # type: ignore[assignment]  # typeshed's overloads

    def check(self) -> DiskState:
        """Never raises: a folder that cannot be measured is reported as unknown, not as full."""
        try:
            u = self._usage(self.path)
        except OSError:
            return DiskState(None, None, False, False)
        free = int(u.free)
        return DiskState(free, int(u.total), free < self.warn_bytes, free < self.floor_bytes)

    def require_room(self) -> None:
        state = self.check()
        if state.full:
            raise DiskFull(free_mb=state.free_mb, floor_mb=self.floor_bytes // MIB)
