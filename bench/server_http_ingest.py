"""Ingest over real HTTP: concurrent tills with the real SyncClient against `floreyn-server` on loopback.

    python bench/server_http_ingest.py                       # SQLite; PostgreSQL too when FLOREYN_TEST_PG_URL is set
    python bench/server_http_ingest.py --terminals 20 --records 1000 --rounds 3 --workers 1 2 4

What a till meets: the server runs as its own process (`floreyn-server`,
uvicorn, --workers N), each of the concurrent terminals is a thread with its
own SyncClient (signed request, signed answer checked) uploading its signed
records in batches of 200 (the SyncWorker's default) with the till's 3 s
timeout; a timed-out batch is sent again, as the worker does, and counted.
Records are signed before the clock starts. The floor, measured in the same
round on the same database, is the bare database doing the same batches: one
INSERT per record plus one UPDATE per touched balance, committed per batch,
no verification, no ledger, no HTTP. Each figure is min/median/max over the
rounds, each round with fresh terminals.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

import goals  # bench/goals.py: issue 19's goal rows, one JSON line each
from common import min_med_max, pct_ms, scratch_pg_database  # bench/ is on sys.path (script, run_all)

from floreyn.server.db import Database
from floreyn.sync.client import SyncClient, SyncTimeout

HERE = Path(__file__).resolve().parent
OVER_HTTP = True  # bench/run_all.py: every figure here is measured through the HTTP API
BATCH = 200  # SyncWorker's default batch_size
TILL_TIMEOUT_S = 3.0  # terminal/config.py online_timeout_s
START_TIMEOUT_S = 60.0
# Issue 19's goal: >= 20 tills at once for the rate, the p99 at 40; 40 x 500 measures both in one run.
TERMINALS = 40
RECORDS_PER_TERMINAL = 500
PG_WORKERS = (1, 2, 4)  # more workers must give more until PostgreSQL is the limit


def _sibling():  # type: ignore[no-untyped-def]
    """bench/server_ingest.py: its dataset, setup and PostgreSQL helpers (one source)."""
    spec = importlib.util.spec_from_file_location("bench_server_ingest_shared", HERE / "server_ingest.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


si = _sibling()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`floreyn-server` as its own process, exactly as deployed (minus the proxy)."""

    def __init__(self, db_url: str, data_dir: Path, workers: int) -> None:
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "floreyn.server.cli", "--db", db_url, "--data-dir", str(data_dir),
               "--port", str(self.port), "--log-format", "text", "--workers", str(workers)]
        profile = os.environ.get("FLOREYN_BENCH_PYSPY")  # a path: profile the server (collapsed stacks)
        if profile:
            spy = Path(sys.executable).with_name("py-spy")
            cmd = [str(spy), "record", "--format", "raw", "--rate", "50", "--subprocesses", "--nonblocking",
                   "-o", profile, "--", *cmd]
        self.log = open(data_dir / "server.log", "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                if requests.get(self.base_url + "/v1/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"floreyn-server did not start: see {data_dir / 'server.log'}")
            time.sleep(0.2)
        # every worker answers before the clock starts
        for _ in range(4 * workers):
            requests.get(self.base_url + "/v1/health", timeout=5)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)  # py-spy, when profiling, writes its file on SIGINT
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def _till(base_url: str, tid: str, key: Any, raws: list[bytes], start: threading.Event,
          latencies: list[float], timeouts: list[int]) -> None:
    client = SyncClient(base_url, tid, key, server_key=None, timeout_s=TILL_TIMEOUT_S)
    for _ in range(10):  # pins the server key and syncs the clock, as a till's first contact does
        try:
            client.upload([])
            break
        except SyncTimeout:
            timeouts.append(1)
    start.wait()
    i = 0
    while i < len(raws):
        chunk = raws[i : i + BATCH]
        t0 = time.perf_counter()
        try:
            ack = client.upload(chunk, head_seq=i + len(chunk))
        except SyncTimeout:
            timeouts.append(1)
            continue  # the worker sends the same batch again: the server answers duplicates
        latencies.append(time.perf_counter() - t0)
        i = ack.acked_seq
    client.session.close()


def measure_http(base_url: str, dataset) -> tuple[float, list[float], int]:  # type: ignore[no-untyped-def]
    """(wall seconds, upload latencies, timeouts) for every terminal uploading at once."""
    start = threading.Event()
    latencies: list[float] = []
    timeouts: list[int] = []
    threads = [threading.Thread(target=_till, args=(base_url, tid, key, raws, start, latencies, timeouts))
               for tid, _, key, raws in dataset]
    for t in threads:
        t.start()
    time.sleep(1.0)  # every till has made its first contact
    began = time.perf_counter()
    start.set()
    for t in threads:
        t.join(timeout=900)
    return time.perf_counter() - began, latencies, len(timeouts)


def bench_backend(label: str, url: str, workers: int, terminals: int, per_terminal: int,
                  rounds: int) -> list[dict[str, Any]]:
    db = Database(url)
    db.migrate()
    merchants = [f"M-{i:02d}" for i in range(10)]
    cards = si.setup(db, 1_000, merchants)
    rates, ratios, p50s, p99s, floors, timeouts = [], [], [], [], [], 0
    data_dir = Path(tempfile.mkdtemp(prefix="floreyn-http-bench-"))
    server = Server(url, data_dir, workers)
    try:
        for r in range(rounds):
            dataset = si.make_records(terminals, per_terminal, cards, merchants, seed=100 + r,
                                      prefix=f"H{workers}-{r}")
            si.enroll(db, dataset)
            wall_s, lat, n_timeouts = measure_http(server.base_url, dataset)
            floor_s = si.measure_baseline(db, dataset, f"floor_w{workers}_r{r}")
            total = terminals * per_terminal
            rates.append(total / wall_s)
            floors.append(total / floor_s)
            ratios.append(rates[-1] / floors[-1])
            p50s.append(pct_ms(lat, 50))
            p99s.append(pct_ms(lat, 99))
            timeouts += n_timeouts
            print(f"  [{label}, {workers} worker(s)] round {r + 1}: {rates[-1]:,.0f} records/s over HTTP, "
                  f"floor {floors[-1]:,.0f}/s ({ratios[-1]:.3f}x); upload p50 {p50s[-1]:.0f} ms, "
                  f"p99 {p99s[-1]:.0f} ms; {n_timeouts} timeouts", flush=True)
    finally:
        server.stop()
        db.dispose()
        shutil.rmtree(data_dir, ignore_errors=True)
    goals.http_ingest(label, workers, terminals, per_terminal, rates, floors, p99s, timeouts)
    name = f"HTTP ingest, {label}, {workers} worker(s), {terminals} tills x {per_terminal} (min/med/max of {rounds})"
    f_mmm = "/".join(f"{v:,.0f}" for v in min_med_max(floors))
    return [
        {"name": name, "value": "/".join(f"{v:,.0f}" for v in min_med_max(rates)), "unit": "records/s",
         "baseline": f_mmm, "baseline_name": "raw INSERT+UPDATE per batch, same run", "target": ">= 0.1x floor"},
        {"name": f"HTTP ingest / floor, {label}, {workers} worker(s)",
         "value": "/".join(f"{v:.3f}" for v in min_med_max(ratios)), "unit": "x", "baseline": 1.0,
         "baseline_name": "raw", "target": ">= 0.1"},
        {"name": f"upload p50 / p99 over HTTP, {label}, {workers} worker(s), {terminals} tills (median of {rounds})",
         "value": f"{statistics.median(p50s):.0f} / {statistics.median(p99s):.0f}", "unit": "ms",
         "baseline": f"{TILL_TIMEOUT_S * 1000:.0f}", "baseline_name": f"till timeout; {timeouts} timeouts in all",
         "target": "p99 <= 1500 ms"},
    ]


def run(pg_url: str | None = None, terminals: int = TERMINALS, records: int = RECORDS_PER_TERMINAL,
        rounds: int = 3, workers: tuple[int, ...] = PG_WORKERS) -> list[dict[str, Any]]:
    pg_url = pg_url or os.environ.get("FLOREYN_TEST_PG_URL") or None
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        rows += bench_backend("SQLite", f"sqlite:///{Path(tmp) / 'bench.db'}", 1, terminals, records, rounds)
    if pg_url:
        for n in workers:
            url, drop = scratch_pg_database(pg_url)
            try:
                rows += bench_backend("PostgreSQL", url, n, terminals, records, rounds)
            finally:
                drop()
    return rows


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pg", help="PostgreSQL URL (default: $FLOREYN_TEST_PG_URL; absent: SQLite only)")
    p.add_argument("--terminals", type=int, default=TERMINALS)
    p.add_argument("--records", type=int, default=RECORDS_PER_TERMINAL)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--workers", type=int, nargs="+", default=list(PG_WORKERS), help="PostgreSQL worker counts")
    p.add_argument("--sqlite-only", action="store_true")
    args = p.parse_args(argv)
    if args.sqlite_only:
        os.environ.pop("FLOREYN_TEST_PG_URL", None)
    for row in run(None if args.sqlite_only else args.pg, args.terminals, args.records, args.rounds,
                   tuple(args.workers)):
        print(f"{row['name']}: {row['value']} {row['unit']}  (baseline {row['baseline']} {row['baseline_name']}; "
              f"target {row['target']})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
