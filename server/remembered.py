"""A bounded, thread-safe memo whose oldest entry is forgotten first.

Why: an upload that timed out at the till is sent again while the first copy may still wait for the write
lock, so the same records come in several times; what depends only on their bytes (the decoded record, a
verified signature) is remembered per process instead of worked out anew. One shape for both memos, so the
bound, the lock and the fork rule live in one place.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import Generic, Hashable, Iterable, Sequence, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Remembered(Generic[K, V]):
    def __init__(self, limit: int) -> None:
        assert limit > 0, "a memo that remembers nothing is a bug"
        self.limit = limit
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()
        # A lock held by another thread at a fork is never released in the child: the child gets its own.
        os.register_at_fork(after_in_child=self._new_lock_in_child)

    def _new_lock_in_child(self) -> None:
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def recall(self, keys: Sequence[K]) -> list[V | None]:
        """Each key's remembered value, None where it is not (or no longer) remembered."""
        with self._lock:
            return [self._items.get(key) for key in keys]

    def remember(self, items: Iterable[tuple[K, V]]) -> None:
        with self._lock:
            for key, value in items:
                self._items[key] = value
            while len(self._items) > self.limit:
                self._items.popitem(last=False)
