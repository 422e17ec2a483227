"""glibc malloc settings for the till, set first thing in the app's entry point, before any thread starts.

A till runs for days in 1 GB or less (a Pi 3/4 with the panel), and what it holds at the card prompt is its
steady state, so memory that start-up work frees should go back to the system, not stay in the heap:

* M_TRIM_THRESHOLD fixed at 128 KiB. glibc's default is dynamic: a freed mmap'd block raises the mmap
  threshold to its size and the trim threshold to twice that. The PIN's scrypt (floreyn/pins.py, 4 MiB at the
  configured cost, the demo set-up hashes PINs too) is such a block: after it every allocation under 4 MiB comes
  from the heap and up to 8 MiB of free heap top is kept. Setting the trim threshold turns the dynamic
  adjustment off, so the mmap threshold stays at glibc's 128 KiB (big buffers are mmap'd and returned on free)
  and a free heap top above 128 KiB is given back.
* M_ARENA_MAX 2. glibc gives each thread that allocates its own arena (up to 8 per core), each keeping its
  own free memory; the till's threads (UI, till worker, card reader, sync, the GL driver's) hardly contend, so
  the main thread's arena and one shared by the others are enough.

Measured on the bench's till (bench/app_start.py, Mesa llvmpipe): peak RSS 166.8 -> 162.5 MB; the one-label
floor app does not move (nothing of it frees a big block). On a libc without glibc's mallopt (musl, macOS)
nothing is set. An environment variable glibc reads itself (MALLOC_ARENA_MAX, MALLOC_TRIM_THRESHOLD_) wins:
the setting it names is left alone.
"""

from __future__ import annotations

import os

M_TRIM_THRESHOLD = -1  # glibc's <malloc.h> parameter numbers
M_ARENA_MAX = -8
TRIM_THRESHOLD_BYTES = 128 * 1024
ARENA_MAX = 2

# (mallopt parameter, value, the environment variable that sets it instead)
SETTINGS = (
    (M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES, "MALLOC_TRIM_THRESHOLD_"),
    (M_ARENA_MAX, ARENA_MAX, "MALLOC_ARENA_MAX"),
)


def on_glibc() -> bool:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION") is not None
    except (ValueError, OSError):  # no such name here: not glibc
        return False


def tune_malloc() -> dict[str, int]:
    """Apply SETTINGS with mallopt; returns {environment variable name: value} of what was set ({} off glibc)."""
    if not on_glibc():
        return {}
    import ctypes

    libc = ctypes.CDLL(None)
    libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    done = {}
    for param, value, env_name in SETTINGS:
        if env_name in os.environ:
            continue
        if libc.mallopt(param, value) == 1:  # 1: done, 0: refused
            done[env_name] = value
    return done
