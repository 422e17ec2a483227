"""Run floreyn-terminal with a wall clock that jumps once a marker file exists (the system test's clock fault).

    FLOREYN_TEST_CLOCK_JUMP_S=-259200 FLOREYN_TEST_CLOCK_JUMP_FILE=/tmp/x python clock_jump.py --simulate ...

Before the file exists the wall clock is the real one; from the moment it
exists (checked at every reading) it is off by JUMP_S seconds, as on a
Raspberry Pi whose clock is set wrongly by hand or by a bad time source, or
that booted without its real-time clock. Only the wall clock moves:
time.monotonic() is left alone, as the kernel leaves CLOCK_MONOTONIC alone.
"""

import os
import sys
import time

JUMP_NS = int(float(os.environ["FLOREYN_TEST_CLOCK_JUMP_S"]) * 1_000_000_000)
MARKER = os.environ["FLOREYN_TEST_CLOCK_JUMP_FILE"]
_time, _time_ns = time.time, time.time_ns


def _offset_ns() -> int:
    return JUMP_NS if os.path.exists(MARKER) else 0


time.time = lambda: (_time_ns() + _offset_ns()) / 1e9
time.time_ns = lambda: _time_ns() + _offset_ns()

if __name__ == "__main__":
    from floreyn.terminal.cli import main

    sys.exit(main(sys.argv[1:]))
