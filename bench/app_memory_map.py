"""Where the till's RSS goes beside the one-label floor app: /proc/PID/smaps side by side, mapping by mapping.

A diagnostic for issue 19 goal 5, not a bench (run_all does not run it): bench/app_start.py gives the peak;
this says what it is made of. The till and the floor app start as app_start.py starts them (same environment,
SDL offscreen, llvmpipe), rest `--settle` seconds on their resting screen, and each process's smaps is read
once. RSS is summed per mapping name: each shared library, `[heap]` (glibc's main arena: C allocations and
Python objects over 512 bytes), `[anon]` (anonymous mappings: Python's object arenas of 1 MiB, thread stacks,
glibc's other arenas, big malloc blocks), `[stack]`. Rows that differ by at least `--min-kb` are printed,
the largest difference first, with the threads of each process.

    python bench/app_memory_map.py [--settle 4] [--min-kb 100]
"""

from __future__ import annotations

import argparse
import collections
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import app_start  # bench/app_start.py (bench/ is on sys.path when run as a script)

MAPPING_RE = re.compile(r"^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$")
SITE_PACKAGES_RE = re.compile(r".*/site-packages/")


def rss_by_mapping_kb(smaps: str) -> dict[str, int]:
    """{mapping name: RSS in kB} summed over a smaps text; anonymous mappings are named "[anon]"."""
    rss: collections.Counter[str] = collections.Counter()
    name = "[anon]"
    for line in smaps.splitlines():
        head = MAPPING_RE.match(line)
        if head:
            name = SITE_PACKAGES_RE.sub("", head.group(1).strip()) or "[anon]"
        elif line.startswith("Rss:"):
            rss[name] += int(line.split()[1])
    return dict(rss)


def snapshot(cmd: list[str], env: dict[str, str], settle_s: float) -> tuple[dict[str, int], list[str]]:
    """The process's RSS by mapping and its threads' names, `settle_s` after it reports ready."""
    proc = subprocess.Popen(cmd, env=env, cwd=app_start.ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        app_start.wait_line(proc, "FLOREYN_READY", app_start.START_TIMEOUT_S)
        time.sleep(settle_s)
        proc_dir = Path(f"/proc/{proc.pid}")
        smaps = (proc_dir / "smaps").read_text()
        threads = sorted((task / "comm").read_text().strip() for task in (proc_dir / "task").iterdir())
        return rss_by_mapping_kb(smaps), threads
    finally:
        proc.kill()
        proc.wait()


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--settle", type=float, default=4.0, help="seconds on the resting screen before reading")
    p.add_argument("--min-kb", type=int, default=100, help="print rows that differ by at least this much")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="floreyn-bench-map-") as tmp:
        tmp_path = Path(tmp)
        env = app_start.child_env(tmp_path / "kivy")
        idle_s = str(args.settle + 60)  # neither dims nor exits before it is read
        till, till_threads = snapshot(
            [sys.executable, "-m", "floreyn.terminal.app", "--simulate", "--windowed", "--data-dir",
             str(tmp_path / "data"), "--sign-in-pin", "1234", "--dim-after", idle_s, "--exit-after", idle_s],
            env, args.settle)
        floor_py = tmp_path / "floor_app.py"  # a file: Kivy's App looks for a .kv beside its source
        floor_py.write_text(app_start.FLOOR_APP)
        floor, floor_threads = snapshot([sys.executable, str(floor_py), idle_s, str(app_start.rest_fps())], env,
                                        args.settle)
    print(f"RSS: till {sum(till.values()) / 1024:.1f} MB, floor {sum(floor.values()) / 1024:.1f} MB, "
          f"difference {(sum(till.values()) - sum(floor.values())) / 1024:+.1f} MB")
    rows = sorted(((till.get(n, 0) - floor.get(n, 0), n) for n in till.keys() | floor.keys()), reverse=True)
    print(f"{'difference':>10}  {'till':>8}  {'floor':>8}  mapping (MB)")
    for diff_kb, name in rows:
        if abs(diff_kb) >= args.min_kb:
            print(f"{diff_kb / 1024:+10.2f}  {till.get(name, 0) / 1024:8.2f}  {floor.get(name, 0) / 1024:8.2f}  {name}")
    print(f"threads: till {len(till_threads)} {till_threads}\n         floor {len(floor_threads)} {floor_threads}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
