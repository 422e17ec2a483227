"""bench/app_memory_map.py's sums: RSS per mapping name from a smaps text (the processes are not started here)."""

from __future__ import annotations

import pytest

SMAPS = """\
55d0c0a00000-55d0c1a00000 rw-p 00000000 00:00 0                          [heap]
Size:              16384 kB
Rss:                7000 kB
7f0000000000-7f0000100000 rw-p 00000000 00:00 0<space>
Size:               1024 kB
Rss:                1024 kB
7f0000200000-7f0000300000 r--p 00000000 fe:00 1234                       /venv/lib/python3.11/site-packages/nacl/_sodium.abi3.so
Rss:                 300 kB
7f0000300000-7f0000400000 r-xp 00100000 fe:00 1234                       /venv/lib/python3.11/site-packages/nacl/_sodium.abi3.so
Rss:                 160 kB
7f0000400000-7f0000500000 rw-p 00000000 00:00 0
Rss:                  12 kB
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]
Rss:                 132 kB
""".replace("<space>", " ")  # the kernel ends a nameless mapping's line with a space


@pytest.fixture
def memory_map(import_bench):
    return import_bench("app_memory_map", "goals", "app_start")


def test_rss_is_summed_per_mapping_name(memory_map):
    """A library's mappings add up under one name (site-packages' prefix dropped), nameless ones are [anon]."""
    assert memory_map.rss_by_mapping_kb(SMAPS) == {
        "[heap]": 7000, "[anon]": 1036, "nacl/_sodium.abi3.so": 460, "[stack]": 132}
