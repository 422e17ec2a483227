"""Waiting for what another thread or process does: poll until it is seen, with a generous deadline.

A fixed sleep before an assertion races a loaded machine (CI shares 2 cores with everything else);
polling returns as soon as the event is there and only a real failure waits out the deadline.
"""

import time
from typing import Callable

POLL_S = 0.01


def until(condition: Callable[[], object], within_s: float, what: str = "the awaited event") -> None:
    """Return once condition() is true; fail the test when it is still false after within_s."""
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {within_s} s"
        time.sleep(POLL_S)
