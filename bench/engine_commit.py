"""Till engine: time from "card verified and amount confirmed" to "record durably committed".

Measures Engine.confirm() of an offline spend (re-checks inside the write
transaction, Ed25519 signature, chain, SQLite WAL commit with
synchronous=FULL) over 2,000 transactions, printing is deferred and not
timed. Beside it, in the same run and on the same disk: a raw sqlite3
durable insert-plus-update (the same pragmas, one record row and one
chain-head update per commit), the floor any store on this disk has.
The two are interleaved, one engine commit then one raw commit, because a
shared disk's fsync time drifts by 10x within a minute: measured apart,
the ratio would say more about the neighbours than about the engine.

Both run in one child process so that its peak RSS (VmHWM) is
the engine's (the raw baseline's connection adds a few hundred kB); the
memory baseline is a child that only imports the same libraries.

    python bench/engine_commit.py            # prints the rows
    python bench/engine_commit.py 500        # fewer transactions
"""

from __future__ import annotations

import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

N_DEFAULT = 2_000
CARDS = 200


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench_engine(data_dir: Path, make_printer: Callable[[Any], Any], cards: int, *, defer_print: bool = False
                 ) -> tuple[Any, list[str]]:
    """The demo till with `cards` demo cards in its snapshot and limits no bench run reaches, started.

    Returns (engine, card names). The real PIN cost: the sign-in is in the peak RSS.
    """
    from dataclasses import replace

    from floreyn.sync.snapshot import CardInfo, OfflineLimits
    from floreyn.terminal import demo_setup
    from floreyn.terminal.config import SecurityConfig, TillConfig
    from floreyn.terminal.engine.build import build_engine

    config = demo_setup.demo_config(data_dir, security=SecurityConfig())
    config = replace(config, till=TillConfig(repeat_guard_s=0.05))
    engine = build_engine(config, make_printer(config), defer_print=defer_print)
    names = [f"bench{i}" for i in range(cards)]
    snap = demo_setup.demo_snapshot(config.terminal_id, engine.clock.wall_ms())
    infos = tuple(CardInfo(demo_setup.demo_card_id(name).hex(), name.title(), False, 10**9) for name in names)
    limits = OfflineLimits(per_tx_cents=10**6, cumulative_cents=10**12, max_count=10**6)
    engine.store.store_snapshot(replace(snap, cards=infos, limits=limits))
    engine.start()
    return engine, names


def _engine_child(data_dir: Path, n: int) -> dict:
    from floreyn.money import Money
    from floreyn.terminal import demo_setup
    from floreyn.terminal.drivers.virtual import MemoryTrail, VirtualPrinter

    printer = VirtualPrinter()
    engine, names = bench_engine(data_dir, lambda _config: printer, CARDS, defer_print=True)
    engine.sign_in("1234")
    payloads = [demo_setup.demo_payload(name) for name in names]
    trails = [MemoryTrail() for _ in names]  # an offline spend writes the card's trail: one per card, as a card has
    raw = _RawStore(data_dir.parent / "raw.db")
    times, raw_times = [], []
    for i in range(n):
        engine.present_card(payloads[i % CARDS], trail=trails[i % CARDS])
        quote = engine.quote_spend(Money.fl(100 + i % 900))
        started = time.perf_counter()
        engine.confirm(quote.quote_id)
        times.append(time.perf_counter() - started)
        engine.drain_prints()
        printer.docs.clear()  # a real printer keeps nothing in memory either
        raw_times.append(raw.commit(i + 1))
    assert engine.store.head.seq == n
    engine.store.close()
    raw.close()
    return {"times": times, "raw_times": raw_times, "maxrss_kb": _peak_rss_kb()}


def _imports_child() -> dict:
    # What the engine's process imports besides its own modules: libsodium for its signatures (floreyn/keys.py;
    # neither cryptography nor SQLAlchemy since the till store went to bare sqlite3).
    import nacl.bindings  # noqa: F401

    return {"maxrss_kb": _peak_rss_kb()}


def _peak_rss_kb() -> int:
    """This process's own high-water mark. Not getrusage's ru_maxrss: that keeps the parent's peak across
    fork and exec, so under run_all (a 40 MB parent) both children said 41.3 MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


class _RawStore:
    """The baseline: the least a durable chained store on this disk can do per sale."""

    def __init__(self, path: Path) -> None:
        self.con = sqlite3.connect(str(path), isolation_level=None)
        self.con.execute("PRAGMA journal_mode=WAL")
        self.con.execute("PRAGMA synchronous=FULL")
        self.con.execute("CREATE TABLE records (seq INTEGER PRIMARY KEY, record_id TEXT UNIQUE, raw BLOB, hash BLOB)")
        self.con.execute("CREATE TABLE head (id INTEGER PRIMARY KEY, seq INTEGER, hash BLOB)")
        self.con.execute("INSERT INTO head VALUES (1, 0, zeroblob(32))")
        self.raw = os.urandom(300)

    def commit(self, seq: int) -> float:
        started = time.perf_counter()
        self.con.execute("BEGIN IMMEDIATE")
        self.con.execute("INSERT INTO records VALUES (?, ?, ?, ?)", (seq, f"r{seq}", self.raw, self.raw[:32]))
        self.con.execute("UPDATE head SET seq = ?, hash = ? WHERE id = 1", (seq, self.raw[:32]))
        self.con.execute("COMMIT")
        return time.perf_counter() - started

    def close(self) -> None:
        self.con.close()


def _child(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=True,
                         timeout=1800)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(n: int = N_DEFAULT) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="floreyn-bench-") as tmp:
        engine = _child("engine", str(Path(tmp) / "engine"), str(n))
        floor = _child("imports")
    ms = [t * 1000 for t in engine["times"]]
    raw_ms = [t * 1000 for t in engine["raw_times"]]
    med, raw_med = statistics.median(ms), statistics.median(raw_ms)
    return [
        {"name": f"engine commit, median of {n}", "value": round(med, 3), "unit": "ms",
         "baseline": round(raw_med, 3), "baseline_name": "raw sqlite3 insert+update, WAL, FULL",
         "target": f"<= 3x baseline (now {med / raw_med:.2f}x)"},
        {"name": f"engine commit, p99 of {n}", "value": round(_percentile(ms, 0.99), 3), "unit": "ms",
         "baseline": round(_percentile(raw_ms, 0.99), 3), "baseline_name": "raw sqlite3 insert+update, WAL, FULL",
         "target": ""},
        {"name": "engine process peak RSS", "value": round(engine["maxrss_kb"] / 1024, 1), "unit": "MB",
         "baseline": round(floor["maxrss_kb"] / 1024, 1), "baseline_name": "python + PyNaCl",
         "target": "<= 60 MB"},
    ]


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        if argv[1] == "engine":
            print(json.dumps(_engine_child(Path(argv[2]), int(argv[3]))))
        else:
            print(json.dumps(_imports_child()))
        return 0
    for row in run(int(argv[0]) if argv else N_DEFAULT):
        print(f"{row['name']}: {row['value']} {row['unit']}  (baseline {row['baseline']} {row['unit']}: "
              f"{row['baseline_name']}; target {row['target']})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
