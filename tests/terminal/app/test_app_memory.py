"""The app's entry point sets glibc's malloc up before it does anything else (terminal/app/memory.py).

Issue 19 goal 5 (the till's peak RSS): after a freed big block (the PIN's scrypt) glibc would serve every
smaller big allocation from the heap and keep its free top. Each check runs in a fresh interpreter: the test
process's own malloc state is whatever pytest and earlier tests left.
"""
import os
import subprocess
import sys

import pytest

from floreyn.terminal.app import memory

pytestmark = pytest.mark.skipif(not memory.on_glibc(), reason="mallopt's settings are glibc's")

# In a fresh process: free a 4 MiB block (mmap'd), then ask for 1 MiB: was it mmap'd? glibc's default moves the
# mmap threshold up to the freed block's size, so the 1 MiB comes from the heap; with the trim threshold set the
# threshold stays at 128 KiB and the 1 MiB is mmap'd (returned to the system on free).
MMAP_PROBE = r'''
import ctypes, threading


class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                "fsmblks", "uordblks", "fordblks", "keepcost")]


def mmaps_1mib():
    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = MallInfo2
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, (ctypes.c_size_t,)
    libc.free.argtypes = (ctypes.c_void_p,)
    libc.free(libc.malloc(4 << 20))
    before = libc.mallinfo2().hblkhd
    block = libc.malloc(1 << 20)
    mmapped = libc.mallinfo2().hblkhd - before >= 1 << 20
    libc.free(block)
    return mmapped
'''

ENTRY_PROBE = MMAP_PROBE + r'''
import floreyn.terminal.app as app
import floreyn.terminal.app.runtime as runtime


class Reached(Exception):
    pass


def load_config(_options):  # the app's first real step: the demo set-up hashes PINs with scrypt in it
    print("threads", threading.active_count(), "mmapped", mmaps_1mib())
    raise Reached


runtime.load_config = load_config
try:
    app.main(None)
except Reached:
    pass
'''


def run(code: str, **env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")} | env
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=environ)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def test_the_entry_point_sets_malloc_up_before_the_demo_set_up_and_any_thread():
    assert run(ENTRY_PROBE) == "threads 1 mmapped True"


def test_without_the_settings_glibc_serves_the_block_from_the_heap():
    """The probe itself can tell: glibc's dynamic threshold, in a process that did not call tune_malloc."""
    assert run(MMAP_PROBE + "print(mmaps_1mib())") == "False"


def test_tune_malloc_says_what_it_set_and_leaves_what_the_environment_sets():
    code = "from floreyn.terminal.app import memory\nprint(sorted(memory.tune_malloc().items()))"
    assert run(code) == "[('MALLOC_ARENA_MAX', 2), ('MALLOC_TRIM_THRESHOLD_', 131072)]"
    assert run(code, MALLOC_ARENA_MAX="4") == "[('MALLOC_TRIM_THRESHOLD_', 131072)]"
