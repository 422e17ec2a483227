"""The till over a long offline day: store start-up (open + chain check) with many unacknowledged records.

    python bench/till_long_day.py                 # 500, 10,000 and 100,000 unacknowledged records
    python bench/till_long_day.py 500 10000       # other sizes

For each size a store is filled with that many signed, chained offline
spends (through TerminalStore.commit_tx, fsync off while filling only), then
the till's start is timed three times, each in a fresh process as a restart
is: open the store (migrations, lock, state) and run the chain check the
engine runs at start (Store.verify). The first start checks the whole kept
chain; later starts resume from the point the last check verified
(terminal/store/integrity.py). The floor, in the same process and on the
same file: the least any start can do, opening the SQLite file, reading the
head record and checking its one signature.
"""

from __future__ import annotations

import json
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

SIZES = (500, 10_000, 100_000)
STARTS = 3
TERMINAL_ID = "T-bench-long"
SEED = bytes(range(32))


def _fill(path: Path, n: int) -> None:
    from floreyn import keys
    from floreyn.sync.record import Kind
    from floreyn.terminal.clock import FakeClock
    from floreyn.terminal.store import Draft, TerminalStore

    key = keys.private_from_seed(SEED)
    store = TerminalStore(path, TERMINAL_ID, FakeClock())
    store._pragma("PRAGMA synchronous=OFF")  # noqa: SLF001 - filling only; the timed starts are normal
    cards = [uuid.UUID(int=i + 1).bytes for i in range(200)]
    for i in range(n):
        store.commit_tx([Draft(record_id=uuid.uuid4(), kind=Kind.SPEND, card_id=cards[i % len(cards)],
                               fl_cents=100 + i % 900, offline=True)], key=key, merchant_id="M-bench")
    store.close()


def _start(path: Path) -> dict[str, float]:
    from floreyn import keys
    from floreyn.sync.record import decode
    from floreyn.terminal.clock import FakeClock
    from floreyn.terminal.store import TerminalStore

    public = keys.private_from_seed(SEED).public_key()
    t0 = time.perf_counter()
    con = sqlite3.connect(str(path))
    (raw,) = con.execute("SELECT raw FROM records ORDER BY seq DESC LIMIT 1").fetchone()
    decode(bytes(raw)).verify(public)
    con.close()
    floor_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    store = TerminalStore(path, TERMINAL_ID, FakeClock())
    head = store.verify(public)
    start_s = time.perf_counter() - t0
    store.close()
    assert head.seq > 0
    return {"start_s": start_s, "floor_s": floor_s}


def _child(*args: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=True,
                         timeout=3600)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def run(sizes: tuple[int, ...] = SIZES) -> list[dict]:
    rows = []
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="floreyn-long-day-") as tmp:
            path = Path(tmp) / "terminal.db"
            t0 = time.perf_counter()
            _child("fill", str(path), str(n))
            print(f"   filled {n:,} records in {time.perf_counter() - t0:.1f} s", flush=True)
            starts = [_child("start", str(path)) for _ in range(STARTS)]
        first, later = starts[0], starts[1:]
        later_s = [s["start_s"] for s in later]
        floors = [s["floor_s"] for s in starts]
        rows.append({"name": f"till start, first after {n:,} unacknowledged records (open + chain check)",
                     "value": round(first["start_s"], 3), "unit": "s", "baseline": round(first["floor_s"], 4),
                     "baseline_name": "open file, read + verify the head record", "target": "<= 2 s at 100k"})
        rows.append({"name": f"till start, next starts at {n:,} (min/med/max of {len(later)})",
                     "value": "/".join(f"{v:.3f}" for v in (min(later_s), statistics.median(later_s), max(later_s))),
                     "unit": "s", "baseline": f"{statistics.median(floors):.4f}",
                     "baseline_name": "open file, read + verify the head record", "target": "<= 2 s at 100k"})
    return rows


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        what, path = argv[1], Path(argv[2])
        if what == "fill":
            _fill(path, int(argv[3]))
            print(json.dumps({}))
        else:
            print(json.dumps(_start(path)))
        return 0
    sizes = tuple(int(a) for a in argv) or SIZES
    for row in run(sizes):
        print(f"{row['name']}: {row['value']} {row['unit']}  (baseline {row['baseline']} {row['baseline_name']}; "
              f"target {row['target']})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
