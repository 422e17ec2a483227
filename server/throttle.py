"""Failed authentication per client address: counted in bounded memory, audited once per burst, rate-limited.

Without this every refused admin token appended one row to the append-only
audit log (100-300 a second from one client: gigabytes a day in a table that
refuses DELETE). Now:

- failures are counted per client address in a window of `window_s`; the
  first failure of a window writes one audit row, which also says how many
  failures the previous window of that client held;
- a client with `max_failures` failures in its current window is answered
  429 with Retry-After (seconds until its window ends) for every
  authenticated endpoint, before any token or signature is looked at;
- at most `max_clients` addresses are tracked (the oldest window is dropped
  first), so a flood from many addresses costs bounded memory.

A reverse proxy in front can limit earlier (deploy/server: Caddy and nginx).
Counts live in one process's memory: with --workers N each worker counts
alone, so a client gets at most N x max_failures before 429.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Final

DEFAULT_MAX_FAILURES: Final = 50  # per window and client address; a person mistyping never gets near
DEFAULT_WINDOW_S: Final = 60
DEFAULT_MAX_CLIENTS: Final = 10_000


@dataclass
class _Window:
    start_ms: int
    failures: int
    previous: int  # failures in this client's previous window, told in the next burst's audit row


@dataclass(frozen=True, slots=True)
class Burst:
    """The first failure of a window: what its one audit row says."""

    client: str
    previous_failures: int


class FailedAuthLimiter:
    def __init__(self, max_failures: int = DEFAULT_MAX_FAILURES, window_s: int = DEFAULT_WINDOW_S,
                 max_clients: int = DEFAULT_MAX_CLIENTS) -> None:
        assert max_failures >= 1 and window_s >= 1 and max_clients >= 1
        self.max_failures = max_failures
        self.window_ms = window_s * 1000
        self.max_clients = max_clients
        self._windows: OrderedDict[str, _Window] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after_s(self, client: str, now_ms: int) -> int | None:
        """Seconds to wait when this client is over the limit now, else None."""
        with self._lock:
            w = self._windows.get(client)
            if w is None or now_ms - w.start_ms >= self.window_ms or w.failures < self.max_failures:
                return None
            return max(1, -(-(w.start_ms + self.window_ms - now_ms) // 1000))

    def failed(self, client: str, now_ms: int) -> Burst | None:
        """Count one failed authentication; a Burst when it opens a new window (audit it), else None."""
        with self._lock:
            w = self._windows.get(client)
            if w is not None and now_ms - w.start_ms < self.window_ms:
                w.failures += 1
                return None
            previous = w.failures if w is not None else 0
            self._windows.pop(client, None)
            self._windows[client] = _Window(now_ms, 1, previous)
            while len(self._windows) > self.max_clients:
                self._windows.popitem(last=False)
            return Burst(client, previous)
