"""Ingest over real HTTP: concurrent tills with the real SyncClient against `floreyn-server` on loopback.

    python bench/server_http_ingest.py                       # SQLite; PostgreSQL too when FLOREYN_TEST_PG_URL is set
    python bench/server_http_ingest.py --terminals 20 --records 1000 --rounds 3 --workers 1 2 4
    python bench/server_http_ingest.py --sqlite-only --sqlite-workers 1 2
    python bench/server_http_ingest.py --batch 25 50 100 200 adaptive   # fixed batch sizes beside the worker's

What a till meets: the server runs as its own process (`floreyn-server`,
uvicorn, --workers N), each of the concurrent terminals is a thread with its
own SyncClient (signed request, signed answer checked) uploading its signed
records in batches sized as the SyncWorker sizes them (sync/batching.py's
AdaptiveBatch, the same class; `--batch N` fixes the size instead) with the
till's 3 s timeout; a timed-out batch is sent again after the worker's
back-off, as the worker does, and counted, and so are the records the server
then answers as duplicates.
Records are signed before the clock starts. The floor, measured in the same
round on the same database, is the bare database doing the same batches: one
INSERT per record plus one UPDATE per touched balance, committed per batch,
no verification, no ledger, no HTTP; its batch is the tills' mean acknowledged
batch in that round, so it commits as often as they did. Each figure is min/median/max over the
rounds, each round with fresh terminals.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
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

import psutil
import requests

import goals  # bench/goals.py: issue 19's goal rows, one JSON line each
from common import min_med_max, pct_ms, scratch_pg_database  # bench/ is on sys.path (script, run_all)

from floreyn.server.db import Database
from floreyn.sync.batching import AdaptiveBatch
from floreyn.sync.client import SyncBadResponse, SyncClient, SyncTimeout
from floreyn.sync.worker import BACKOFF_MAX_S, BACKOFF_MIN_S, backoff_s

HERE = Path(__file__).resolve().parent
OVER_HTTP = True  # bench/run_all.py: every figure here is measured through the HTTP API
ADAPTIVE = "adaptive"  # --batch: sized as SyncWorker sizes them (sync/batching.py); a number fixes the size
TILL_TIMEOUT_S = 3.0  # terminal/config.py online_timeout_s
START_TIMEOUT_S = 60.0
START_POLL_S = 0.2  # between two asks whether a starting server answers
STOP_TIMEOUT_S = 20.0
# Issue 19's goal: >= 20 tills at once for the rate, the p99 at 40; 40 x 500 measures both in one run.
TERMINALS = 40
RECORDS_PER_TERMINAL = 500
PG_WORKERS = (1, 2, 4)  # more workers must give more until PostgreSQL is the limit
# SQLite writes one transaction at a time, but the CPU before the write (HTTP, auth, decode, Ed25519) can run
# in a second process; on 2 cores more than 2 only adds contention.
SQLITE_WORKERS = (1, 2)
MAX_UNSIGNED = 2_000  # unsigned (busy) answers in one round before the bench gives up
UNSIGNED_PAUSE_S = 1.0


def _sibling():  # type: ignore[no-untyped-def]
    """bench/server_ingest.py: its dataset, setup and PostgreSQL helpers (one source)."""
    spec = importlib.util.spec_from_file_location("bench_server_ingest_shared", HERE / "server_ingest.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


si = _sibling()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`floreyn-server` as its own process, exactly as deployed (minus the proxy)."""

    def __init__(self, db_url: str, data_dir: Path, workers: int, env: dict[str, str] | None = None,
                 nice: int = 0) -> None:
        """`env`: the server's environment (default this process's), e.g. a PYTHONPATH with other code; `nice`:
        the process's CPU priority, as systemd's Nice= sets it."""
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "floreyn.server.cli", "--db", db_url, "--data-dir", str(data_dir),
               "--port", str(self.port), "--log-format", "text", "--workers", str(workers)]
        if nice:
            cmd = ["nice", "-n", str(nice), *cmd]
        profile = os.environ.get("FLOREYN_BENCH_PYSPY")  # a path: profile the server (collapsed stacks)
        if profile:
            spy = Path(sys.executable).with_name("py-spy")
            cmd = [str(spy), "record", "--format", "raw", "--rate", "50", "--subprocesses", "--nonblocking",
                   "-o", profile, "--", *cmd]
        self.log = open(data_dir / "server.log", "ab")  # noqa: SIM115 - closed in stop()
        # In the data folder: `python -m` puts its folder first on sys.path, and a checkout's floreyn/ there would
        # win over the one `env`'s PYTHONPATH names.
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=self.log, env=env, cwd=data_dir)
        if not wait_answering(self.proc, self.base_url + "/v1/health", START_TIMEOUT_S):
            raise RuntimeError(f"floreyn-server did not start: see {data_dir / 'server.log'}")
        # every worker answers before the clock starts
        for _ in range(4 * workers):
            requests.get(self.base_url + "/v1/health", timeout=5)

    def stop(self) -> None:
        stop_process(self.proc, signal.SIGINT, STOP_TIMEOUT_S)  # py-spy, when profiling, writes its file on SIGINT
        self.log.close()


def wait_answering(proc: subprocess.Popen[bytes], url: str, timeout_s: float) -> bool:
    """True once GET `url` answers 200; False when `proc` ends or `timeout_s` passes first."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return True
        except requests.RequestException:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(START_POLL_S)


def stop_process(proc: subprocess.Popen[bytes], sig: int, timeout_s: float) -> None:
    """`sig` to `proc`, then SIGKILL when it has not ended within `timeout_s`."""
    proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def log_findings(path: Path) -> dict[str, int]:
    """What the server's log says went wrong: 5xx answers (a bug: no input gives a 5xx; uvicorn's own busy 503
    is not logged there), SQLite's "database is locked", retried transactions, tracebacks, warnings/errors."""
    found = {"5xx": 0, "locked": 0, "retried": 0, "traceback": 0, "warning_or_error": 0}
    with open(path, errors="replace") as f:
        for line in f:
            if re.search(r"floreyn\.server\.access: \S+ \S+ 5\d\d\b", line):
                found["5xx"] += 1
            found["locked"] += "database is locked" in line
            found["retried"] += "retrying transaction" in line
            found["traceback"] += line.startswith("Traceback")
            found["warning_or_error"] += bool(re.search(r" (WARNING|ERROR|CRITICAL) ", line))
    return found


def till_batch(batch: str) -> AdaptiveBatch:
    """A till's batch policy for `--batch`: the worker's own (sync/batching.py), or a fixed size."""
    return AdaptiveBatch(TILL_TIMEOUT_S) if batch == ADAPTIVE else AdaptiveBatch.fixed(int(batch), TILL_TIMEOUT_S)


def _till(base_url: str, tid: str, key: Any, raws: list[bytes], start: threading.Event, batch: str,
          latencies: list[float], timeouts: list[int], unsigned: list[int], failures: list[str],
          sizes: list[int], duplicates: list[int]) -> None:
    try:
        _upload_all(base_url, tid, key, raws, start, till_batch(batch), latencies, timeouts, unsigned, sizes,
                    duplicates)
    except Exception as exc:  # noqa: BLE001 - a till that stops uploading makes the round invalid: reported
        failures.append(f"{tid}: {type(exc).__name__}: {exc}")


def _upload_all(base_url: str, tid: str, key: Any, raws: list[bytes], start: threading.Event, batch: AdaptiveBatch,
                latencies: list[float], timeouts: list[int], unsigned: list[int], sizes: list[int],
                duplicates: list[int]) -> None:
    """Appends each acknowledged batch's latency and size, and the records the server answered as duplicates
    (sent again after a time-out although it had taken them)."""
    client = SyncClient(base_url, tid, key, server_key=None, timeout_s=TILL_TIMEOUT_S)
    for _ in range(10):  # pins the server key and syncs the clock, as a till's first contact does
        try:
            client.upload([])
            break
        except SyncTimeout:
            timeouts.append(1)
    start.wait()
    i = 0
    timed_out = 0  # in a row
    while i < len(raws):
        chunk = raws[i : i + batch.size]
        t0 = time.perf_counter()
        try:
            ack = client.upload(chunk, head_seq=i + len(chunk))
        except SyncTimeout:
            timeouts.append(1)
            batch.timed_out()
            timed_out += 1
            # The worker's round ends on a time-out and the next one comes after its back-off; it sends the
            # batch again (smaller now), and the server, which took it meanwhile, answers duplicates.
            time.sleep(backoff_s(timed_out, BACKOFF_MIN_S, BACKOFF_MAX_S))
            continue
        except SyncBadResponse:
            # Unsigned: uvicorn's own 503 when more requests are open than its limit_concurrency (timed-out
            # uploads stay open on the server until their turn to write). The worker ends its round on it and
            # tries again on the next; here after a pause, and counted.
            unsigned.append(1)
            if len(unsigned) > MAX_UNSIGNED:
                raise
            time.sleep(UNSIGNED_PAUSE_S)
            continue
        latencies.append(time.perf_counter() - t0)
        timed_out = 0
        batch.answered(len(chunk), latencies[-1])
        sizes.append(len(chunk))
        duplicates.append(ack.duplicates)
        i = ack.acked_seq
    client.session.close()


class CpuShare:
    """Where the machine's CPU went while the tills uploaded: the server's processes, this bench's
    (the 40 tills' SyncClients), everything else on the machine (other jobs), and how busy it was.

    Shares are of the whole machine (100 % = every core busy for the whole run), from the kernel's
    own counters (psutil: /proc/stat and /proc/PID/stat), so "the server cannot go faster because the
    cores are full" is a measured statement, not a guess.
    """

    def __init__(self, server_pid: int) -> None:
        self.server = psutil.Process(server_pid)
        self.bench = psutil.Process()
        self.cores = psutil.cpu_count() or 1

    def _server_s(self) -> float:
        total = 0.0
        for proc in [self.server, *self.server.children(recursive=True)]:  # `--workers N`: N processes
            try:
                t = proc.cpu_times()
                total += t.user + t.system
            except psutil.NoSuchProcess:
                pass
        return total

    def _bench_s(self) -> float:
        t = self.bench.cpu_times()
        return t.user + t.system

    @staticmethod
    def _postgres_s() -> dict[int, float]:
        """CPU seconds of every PostgreSQL process on this machine, by pid (its backends serve other
        clients too, if any)."""
        found = {}
        for proc in psutil.process_iter(["name", "cpu_times"]):
            if proc.info["name"] in ("postgres", "postmaster") and proc.info["cpu_times"] is not None:
                found[proc.pid] = proc.info["cpu_times"].user + proc.info["cpu_times"].system
        return found

    def start(self) -> None:
        self._began = time.perf_counter()
        self._machine = psutil.cpu_times()
        self._srv, self._bch, self._pg = self._server_s(), self._bench_s(), self._postgres_s()

    def stop(self) -> dict[str, float]:
        """Shares of the machine in %: server, bench, postgres, other, busy (all of it); and server_cores
        (cores' worth)."""
        wall = time.perf_counter() - self._began
        before, after = self._machine, psutil.cpu_times()
        idle = (after.idle - before.idle) + (getattr(after, "iowait", 0.0) - getattr(before, "iowait", 0.0))
        total = _machine_s(after) - _machine_s(before)
        capacity = wall * self.cores
        server, bench = self._server_s() - self._srv, self._bench_s() - self._bch
        # By pid: a backend that ended during the run is not counted (its CPU is then in "other").
        postgres = sum(cpu - self._pg.get(pid, 0.0) for pid, cpu in self._postgres_s().items())
        busy = 100.0 * (1.0 - idle / total) if total > 0 else 0.0
        return {"server": 100.0 * server / capacity, "bench": 100.0 * bench / capacity,
                "postgres": 100.0 * postgres / capacity,
                "other": max(0.0, busy - 100.0 * (server + bench + postgres) / capacity), "busy": busy,
                "server_cores": server / wall}


def _machine_s(t: Any) -> float:
    """All CPU seconds the kernel counted, every core; guest time is inside user time already."""
    return sum(v for name, v in t._asdict().items() if name not in ("guest", "guest_nice"))


def measure_http(base_url: str, dataset, cpu: CpuShare, batch: str  # type: ignore[no-untyped-def]
                 ) -> tuple[float, list[float], int, dict[str, float]]:
    """(wall seconds, upload latencies, timeouts, CPU shares and batch counts) for every terminal uploading at
    once; the batch counts: acknowledged batches, their mean size, records answered as duplicates."""
    start = threading.Event()
    latencies: list[float] = []
    timeouts: list[int] = []
    failures: list[str] = []
    unsigned: list[int] = []
    sizes: list[int] = []
    duplicates: list[int] = []
    threads = [threading.Thread(target=_till, args=(base_url, tid, key, raws, start, batch, latencies, timeouts,
                                                    unsigned, failures, sizes, duplicates))
               for tid, _, key, raws in dataset]
    for t in threads:
        t.start()
    time.sleep(1.0)  # every till has made its first contact
    cpu.start()
    began = time.perf_counter()
    start.set()
    for t in threads:
        t.join(timeout=900)
    wall_s = time.perf_counter() - began
    if failures:  # a till that gave up would make the rate count records that were never sent
        raise RuntimeError(f"{len(failures)} till(s) stopped uploading, first: {failures[0]}")
    share = cpu.stop()
    share["unsigned"] = len(unsigned)
    share["batches"] = len(sizes)
    share["mean_batch"] = statistics.mean(sizes)
    share["duplicates"] = sum(duplicates)
    return wall_s, latencies, len(timeouts), share


def bench_backend(label: str, url: str, workers: int, terminals: int, per_terminal: int,
                  rounds: int, batch: str = ADAPTIVE) -> list[dict[str, Any]]:
    db = Database(url)
    db.migrate()
    merchants = [f"M-{i:02d}" for i in range(10)]
    cards = si.setup(db, 1_000, merchants)
    rates, ratios, p50s, p99s, floors, timeouts = [], [], [], [], [], 0
    mean_batches, duplicates = [], 0  # the tills' mean acknowledged batch per round; records answered twice
    tag = f"{label}, {workers} worker(s), batch {batch}"
    busy, server_cores, server_us = [], [], []  # machine busy %, the server's cores' worth, its CPU us per record
    data_dir = Path(tempfile.mkdtemp(prefix="floreyn-http-bench-"))
    server = Server(url, data_dir, workers)
    cpu = CpuShare(server.proc.pid)
    try:
        for r in range(rounds):
            dataset = si.make_records(terminals, per_terminal, cards, merchants, seed=100 + r,
                                      prefix=f"H{workers}-{r}")
            si.enroll(db, dataset)
            wall_s, lat, n_timeouts, share = measure_http(server.base_url, dataset, cpu, batch)
            mean_batches.append(share["mean_batch"])
            duplicates += int(share["duplicates"])
            floor_s = si.measure_baseline(db, dataset, f"floor_w{workers}_r{r}", batch=round(share["mean_batch"]))
            total = terminals * per_terminal
            rates.append(total / wall_s)
            floors.append(total / floor_s)
            ratios.append(rates[-1] / floors[-1])
            p50s.append(pct_ms(lat, 50))
            p99s.append(pct_ms(lat, 99))
            timeouts += n_timeouts
            busy.append(share["busy"])
            server_cores.append(share["server_cores"])
            server_us.append(1e6 * share["server_cores"] * wall_s / total)
            print(f"  [{tag}] round {r + 1}: {rates[-1]:,.0f} records/s over HTTP, "
                  f"floor {floors[-1]:,.0f}/s ({ratios[-1]:.3f}x); upload p50 {p50s[-1]:.0f} ms, "
                  f"p99 {p99s[-1]:.0f} ms; {share['batches']:.0f} batches of {share['mean_batch']:.0f} on average, "
                  f"{n_timeouts} timeouts, {share['duplicates']:.0f} records answered as duplicates, "
                  f"{share['unsigned']:.0f} busy 503s; "
                  f"CPU of the {psutil.cpu_count()} cores: "
                  f"{share['busy']:.0f} % busy = server {share['server']:.0f} % + tills (this bench) "
                  f"{share['bench']:.0f} % + PostgreSQL {share['postgres']:.0f} % + other processes {share['other']:.0f} %; "
                  f"the server used "
                  f"{server_us[-1]:.0f} us of CPU per record", flush=True)
    finally:
        server.stop()
        db.dispose()
        findings = log_findings(data_dir / "server.log")
        print(f"  [{tag}] server log: " + ", ".join(f"{k} {v}" for k, v in findings.items()),
              flush=True)
        keep = os.environ.get("FLOREYN_BENCH_KEEP_LOG")  # a directory: keep the server's log there
        if keep:
            shutil.copy(data_dir / "server.log", Path(keep) / f"server-{label}-{workers}w-{batch}.log")
        shutil.rmtree(data_dir, ignore_errors=True)
    goals.http_ingest(label, workers, terminals, per_terminal, rates, floors, p99s, timeouts,
                      batch=_batch_words(batch, mean_batches), fixed_batch=None if batch == ADAPTIVE else int(batch),
                      duplicates=duplicates)
    name = f"HTTP ingest, {tag}, {terminals} tills x {per_terminal} (min/med/max of {rounds})"
    f_mmm = "/".join(f"{v:,.0f}" for v in min_med_max(floors))
    return [
        {"name": name, "value": "/".join(f"{v:,.0f}" for v in min_med_max(rates)), "unit": "records/s",
         "baseline": f_mmm, "baseline_name": "raw INSERT+UPDATE per batch, same run", "target": ">= 0.1x floor"},
        {"name": f"HTTP ingest / floor, {tag}",
         "value": "/".join(f"{v:.3f}" for v in min_med_max(ratios)), "unit": "x", "baseline": 1.0,
         "baseline_name": "raw", "target": ">= 0.1"},
        {"name": f"upload p50 / p99 over HTTP, {tag}, {terminals} tills (median of {rounds})",
         "value": f"{statistics.median(p50s):.0f} / {statistics.median(p99s):.0f}", "unit": "ms",
         "baseline": f"{TILL_TIMEOUT_S * 1000:.0f}", "baseline_name": f"till timeout; {timeouts} timeouts in all",
         "target": "p99 <= 1500 ms"},
        {"name": f"machine CPU busy during the upload, {tag} (min/med/max of {rounds})",
         "value": "/".join(f"{v:.0f}" for v in min_med_max(busy)), "unit": "%",
         "baseline": "/".join(f"{v:.2f}" for v in min_med_max(server_cores)),
         "baseline_name": "cores' worth used by the server", "target": "below 100 % before more workers can help"},
        {"name": f"server CPU per record over HTTP, {tag} (min/med/max of {rounds})",
         "value": "/".join(f"{v:.0f}" for v in min_med_max(server_us)), "unit": "us",
         "baseline": f"{1e6 / statistics.median(floors):.0f}", "baseline_name": "floor's wall time per record",
         "target": "what one core allows: 1e6 / this = records/s"},
    ]


def run(pg_url: str | None = None, terminals: int = TERMINALS, records: int = RECORDS_PER_TERMINAL,
        rounds: int = 3, workers: tuple[int, ...] = PG_WORKERS,
        sqlite_workers: tuple[int, ...] = SQLITE_WORKERS, batches: tuple[str, ...] = (ADAPTIVE,)
        ) -> list[dict[str, Any]]:
    pg_url = pg_url or os.environ.get("FLOREYN_TEST_PG_URL") or None
    rows: list[dict[str, Any]] = []
    for batch in batches:
        for n in sqlite_workers:
            with tempfile.TemporaryDirectory() as tmp:  # a fresh database per worker count, as for PostgreSQL
                rows += bench_backend("SQLite", f"sqlite:///{Path(tmp) / 'bench.db'}", n, terminals, records, rounds,
                                      batch)
        if pg_url:
            for n in workers:
                url, drop = scratch_pg_database(pg_url)
                try:
                    rows += bench_backend("PostgreSQL", url, n, terminals, records, rounds, batch)
                finally:
                    drop()
    return rows


def _batch_words(batch: str, means: list[float]) -> str:
    if batch == ADAPTIVE:
        return f"adaptive batches (sync/batching.py; {_mmm(means)} records on average)"
    return f"batches of {batch}"


def _mmm(values: list[float]) -> str:
    return "/".join(f"{v:.0f}" for v in min_med_max(values))


def _batch_arg(text: str) -> str:
    if text != ADAPTIVE:
        till_batch(text)  # a size the server takes, or argparse says why not
    return text


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pg", help="PostgreSQL URL (default: $FLOREYN_TEST_PG_URL; absent: SQLite only)")
    p.add_argument("--terminals", type=int, default=TERMINALS)
    p.add_argument("--records", type=int, default=RECORDS_PER_TERMINAL)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--workers", type=int, nargs="+", default=list(PG_WORKERS), help="PostgreSQL worker counts")
    p.add_argument("--sqlite-workers", type=int, nargs="+", default=list(SQLITE_WORKERS),
                   help="SQLite worker counts (one writer at a time; the work before the write runs in parallel)")
    p.add_argument("--sqlite-only", action="store_true")
    p.add_argument("--batch", type=_batch_arg, nargs="+", default=[ADAPTIVE],
                   help=f"the tills' batch: {ADAPTIVE!r} (the SyncWorker's, sync/batching.py) or a fixed size; "
                        "several: one run each")
    args = p.parse_args(argv)
    if args.sqlite_only:
        os.environ.pop("FLOREYN_TEST_PG_URL", None)
    for row in run(None if args.sqlite_only else args.pg, args.terminals, args.records, args.rounds,
                   tuple(args.workers), tuple(args.sqlite_workers), tuple(args.batch)):
        print(f"{row['name']}: {row['value']} {row['unit']}  (baseline {row['baseline']} {row['baseline_name']}; "
              f"target {row['target']})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
