"""The till's clocks now live in floreyn.terminal.clock, below the store (tests/test_ladder.py).

This name stays for code written against it; new code imports floreyn.terminal.clock.
"""

from floreyn.terminal.clock import (
    Clock as Clock,
    FakeClock as FakeClock,
    MonoCounter as MonoCounter,
    SystemClock as SystemClock,
    snapshot_age_s as snapshot_age_s,
)
