"""Guards against money moving on an accidental tap.

A double tap on "Betalen" lands its second tap on whatever the next screen
shows in the same place: often "Bevestigen". So the guard is shared by every
money button of the app, not kept per button: any money tap within
`window_s` of the previous one is ignored.
"""

from __future__ import annotations

import time
from typing import Callable

DOUBLE_TAP_WINDOW_S = 0.4
# A confirm button takes no tap that began before its screen had shown this long: time to read what is
# confirmed. A hesitant double tap on "Betalen" (two taps 0.6 s apart) is otherwise a payment unseen.
CONFIRM_READ_S = 0.8


class TapGuard:
    def __init__(self, window_s: float = DOUBLE_TAP_WINDOW_S, clock: Callable[[], float] = time.monotonic) -> None:
        assert window_s >= 0
        self.window_s = window_s
        self._clock = clock
        self._last: float | None = None
        self.ignored = 0  # taps refused so far, for tests and the status screen

    def allow(self) -> bool:
        """True for a deliberate tap; False (and counted) for the second half of a double tap."""
        now = self._clock()
        if self._last is not None and now - self._last < self.window_s:
            self.ignored += 1
            return False
        self._last = now
        return True

    def now(self) -> float:
        """The guard's clock (time.monotonic in the app; a test's own clock in the UI tests)."""
        return self._clock()

    def reset(self) -> None:
        self._last = None
        self.ignored = 0
