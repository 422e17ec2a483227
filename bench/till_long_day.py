"""The till over a long offline day: store start-up (open + chain check) with many unacknowledged records.

    python bench/till_long_day.py                 # 500, 10,000 and 100,000 unacknowledged records
    python bench/till_long_day.py 500 10000       # other sizes

Then, on the same store, COMMITS sales are timed through TerminalStore.commit_tx
with the engine's re-check inside the write transaction (StoreView.card_usage
three times, as a sale does; every card has sold before, untimed), interleaved with the floor of engine_commit.py:
a raw sqlite3 durable insert + head update on the same disk.

For each size a store is filled with that many signed, chained offline
spends (through TerminalStore.commit_tx, fsync off while filling only), then
the till's start is timed three times, each in a fresh process as a restart
is: open the store (migrations, lock, state) and run the chain check the
engine runs at start (Store.verify). The first start checks the whole kept
chain's hash links and the head before it returns, and each record in full
(columns, signatures) in the background while uploads wait: that background
check is timed too, to the moment uploads may go. Later starts resume from the
point the last check verified (terminal/store/integrity.py). The floor, in
the same process and on the same file: the least any start can do, opening
the SQLite file, reading the head record and checking its one signature.
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

import goals  # bench/goals.py (bench/ is on sys.path): issue 19's goal rows, one JSON line each

SIZES = (500, 10_000, 100_000)
COMMITS = 200
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
    assert store.wait_checked(3600), store.check_error  # uploads may go from here
    checked_s = time.perf_counter() - t0
    store.close()
    assert head.seq > 0
    return {"start_s": start_s, "checked_s": checked_s, "floor_s": floor_s}


def _commits(path: Path) -> dict[str, list[float]]:
    import importlib.util

    from floreyn import keys
    from floreyn.sync.record import Kind
    from floreyn.terminal.clock import FakeClock
    from floreyn.terminal.store import Draft, StoreView, TerminalStore

    spec = importlib.util.spec_from_file_location("bench_engine_commit", Path(__file__).with_name("engine_commit.py"))
    assert spec and spec.loader
    engine_commit = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(engine_commit)
    key = keys.private_from_seed(SEED)
    store = TerminalStore(path, TERMINAL_ID, FakeClock())
    raw_path = path.with_name("raw.db")
    for leftover in (raw_path, raw_path.with_name("raw.db-wal"), raw_path.with_name("raw.db-shm")):
        leftover.unlink(missing_ok=True)  # each run's floor starts from an empty file, as the first did
    raw = engine_commit._RawStore(raw_path)
    cards = [uuid.UUID(int=i + 1).bytes for i in range(200)]
    with store.txn() as view:  # a long day's steady state: each card has sold before (not timed)
        for card in cards:
            view.card_usage(card.hex(), view.snapshot_base_seq())
    times, raw_times = [], []
    for i in range(COMMITS):
        card = cards[i % len(cards)]

        def check(view: StoreView, card_hex: str = card.hex()) -> None:
            for _ in range(3):  # the sale's re-checks (summary, quote, confirm)
                view.card_usage(card_hex, view.snapshot_base_seq())

        t0 = time.perf_counter()
        store.commit_tx([Draft(record_id=uuid.uuid4(), kind=Kind.SPEND, card_id=card, fl_cents=100, offline=True)],
                        key=key, merchant_id="M-bench", check=check)
        times.append(time.perf_counter() - t0)
        raw_times.append(raw.commit(i + 1))
    store.close()
    raw.close()
    return {"times": times, "raw_times": raw_times}


def _child(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=True,
                         timeout=3600)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _forget_verified_point(path: Path) -> None:
    """The state right after the upgrade that brought the verified point (store migration 5): none yet."""
    con = sqlite3.connect(str(path))
    con.execute("UPDATE terminal_state SET verified_seq = NULL, verified_hash = NULL")
    con.commit()
    con.close()


def _spread(values: list[float], digits: int = 3) -> str:
    return "/".join(f"{v:.{digits}f}" for v in (min(values), statistics.median(values), max(values)))


def run(sizes: tuple[int, ...] = SIZES) -> list[dict]:
    rows = []
    floor_name = "open file, read + verify the head record"
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="floreyn-long-day-") as tmp:
            path = Path(tmp) / "terminal.db"
            t0 = time.perf_counter()
            _child("fill", str(path), str(n))
            print(f"   filled {n:,} records in {time.perf_counter() - t0:.1f} s", flush=True)
            firsts = []
            for _ in range(STARTS):
                _forget_verified_point(path)
                firsts.append(_child("start", str(path)))
            later = [_child("start", str(path)) for _ in range(STARTS)]
            commits = [_child("commits", str(path)) for _ in range(STARTS)]
        first_floor = _spread([s["floor_s"] for s in firsts], 4)
        rows.append({"name": f"till start, first after the upgrade, {n:,} unacknowledged records (open + chain "
                             f"check; min/med/max of {STARTS})",
                     "value": _spread([s["start_s"] for s in firsts]), "unit": "s", "baseline": first_floor,
                     "baseline_name": floor_name, "target": "<= 2 s at 100k"})
        rows.append({"name": f"till first start at {n:,}: until its background record check passed (uploads "
                             f"wait; the till sells meanwhile; min/med/max of {STARTS})",
                     "value": _spread([s["checked_s"] for s in firsts]), "unit": "s", "baseline": first_floor,
                     "baseline_name": floor_name, "target": "none"})
        rows.append({"name": f"till start, next starts at {n:,} (min/med/max of {STARTS})",
                     "value": _spread([s["start_s"] for s in later]), "unit": "s",
                     "baseline": _spread([s["floor_s"] for s in later], 4),
                     "baseline_name": floor_name, "target": "<= 2 s at 100k"})
        meds = [statistics.median(c["times"]) * 1000 for c in commits]
        raw_meds = [statistics.median(c["raw_times"]) * 1000 for c in commits]
        ratios = [m / r for m, r in zip(meds, raw_meds, strict=True)]
        goals.long_day(n, [s["start_s"] for s in firsts], [s["start_s"] for s in later],
                       [s["floor_s"] for s in firsts], [s["floor_s"] for s in later], meds, raw_meds)
        rows.append({"name": f"till commit with the sale's usage re-checks, {n:,} unacknowledged (median of "
                             f"{COMMITS}; min/med/max of {STARTS} runs)",
                     "value": _spread(meds, 2), "unit": "ms", "baseline": _spread(raw_meds, 2),
                     "baseline_name": "raw sqlite3 insert+update, WAL, FULL, interleaved",
                     "target": f"<= 3x raw (now {_spread(ratios, 2)}x)"})
    return rows


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        what, path = argv[1], Path(argv[2])
        if what == "fill":
            _fill(path, int(argv[3]))
            print(json.dumps({}))
        elif what == "commits":
            print(json.dumps(_commits(path)))
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
