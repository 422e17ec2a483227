"""Balance reads over real HTTP at 1M postings while tills upload at the same time.

    python bench/server_balance.py                 # SQLite; PostgreSQL too with FLOREYN_TEST_PG_URL
    python bench/server_balance.py --quick         # 100k postings, fewer reads

What a till meets when it shows a card's balance: `floreyn-server` as its own
process (uvicorn, one worker), the real SyncClient calling GET
/v1/terminal/cards/{card} (signed request, signed answer checked: the till's
card summary, balance minus open holds plus budgets), one read at a time:
first on a quiet server, then while a separate process runs LOAD_TILLS tills
uploading signed records with the real SyncClient as fast as the server takes
them. Each round reads at most READS times (under load: while the uploads
run); p50 and p99 per round, min/median/max of the rounds.

Three floors, timed interleaved with the card summaries (each read is
followed by one of each), so they meet the same load: GET /v1/health on the
same server and connection (uvicorn, the middleware, one trip to the thread
pool and SELECT 1, unsigned: what any answer of this process costs); a GET
of bench/bare_asgi.py's constant answer from uvicorn run as floreyn-server
runs it, no framework (what any HTTP answer over loopback costs on this
machine under the same load: the floor beneath the health check); and the
bare primary-key SELECT of the same balance through the driver, outside the
server. Beside them the server's CPU per card summary and per health check on
the quiet server (/proc; what a read costs the server whatever the machine's
load does to the wall clock).

Then the deployment docs/operations.md gives for a busy server, "Uploads in
their own process": the uploads go to a second server process on the same
database at the CPU priority deploy/server/floreyn-uploads.service gives it
(Nice=, read from that file), while this one answers the reads. The load
process, which stands in for tills that on a real server are other machines,
runs at that priority too, so its own CPU does not compete with the reads as
no real till's would. The diagnosis round sends the uploads to a second
process at the same priority as the reads (and the load process too): what
the split alone gives, without the priority.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import requests

import goals  # bench/goals.py: issue 19's goal rows, one JSON line each
from common import backend_args, backends, min_med_max, pct_ms, pg_url_of, print_rows, process_cpu_s, sibling

from floreyn import keys
from floreyn.server import admin_business
from floreyn.server.db import Database
from floreyn.sync.client import SyncClient

POSTINGS = 1_000_000
QUICK_POSTINGS = 100_000
READS = 1_000
QUICK_READS = 300
ROUNDS = 3
LOAD_TILLS = 10
LOAD_RECORDS = 3_000  # per till and round; the reads stop when the uploads end
CARDS = 1_000
TILL_TIMEOUT_S = 3.0
UPLOADS_UNIT = Path(__file__).resolve().parents[1] / "deploy/server/floreyn-uploads.service"
BARE_START_TIMEOUT_S = 30.0


def uploads_nice() -> int:
    """The uploads' process priority as the deployment sets it (one source: the unit's Nice=)."""
    found = re.search(r"^Nice=(\d+)$", UPLOADS_UNIT.read_text(), re.M)
    assert found, f"{UPLOADS_UNIT} sets no Nice="
    return int(found.group(1))


hi = sibling("server_http_ingest")  # Server, measure_http (the tills' upload load), min/median/max
si = hi.si  # dataset, setup, fill_postings, PostgreSQL scratch databases


def _load(base_url: str, dataset, started, finished, nice: int) -> None:  # type: ignore[no-untyped-def]
    os.nice(nice)
    started.set()
    # The tills' uploads as server_http_ingest.py sends them (batches sized as a till sizes them). Its CPU
    # shares are not reported here: the share object watches this process only to satisfy the call.
    hi.measure_http(base_url, dataset, hi.CpuShare(os.getpid()), hi.ADAPTIVE)
    finished.set()


class BareAsgi:
    """bench/bare_asgi.py served by uvicorn with floreyn-server's settings (one worker, uvicorn's default HTTP
    parser and loop, no access log), at the reads server's priority, in a process of its own."""

    def __init__(self, data_dir: Path) -> None:
        self.port = hi.free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = open(data_dir / "bare_asgi.log", "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "bare_asgi:app", "--app-dir", str(Path(__file__).resolve().parent),
             "--host", "127.0.0.1", "--port", str(self.port), "--lifespan", "off", "--no-access-log",
             "--log-level", "warning", "--limit-concurrency", "200", "--timeout-keep-alive", "30"],
            stdout=self.log, stderr=self.log)
        if not hi.wait_answering(self.proc, self.url, BARE_START_TIMEOUT_S):
            self.stop()
            raise RuntimeError(f"the bare ASGI app did not start: see {data_dir / 'bare_asgi.log'}")

    def stop(self) -> None:
        hi.stop_process(self.proc, signal.SIGTERM, hi.STOP_TIMEOUT_S)
        self.log.close()


class Floors:
    """The three floors timed interleaved with the card summaries, under the same load.

    HTTP: GET /v1/health on the same server and connection: uvicorn, the middleware, one trip to the
    thread pool and SELECT 1, unsigned (what any answer from this process costs); and GET of the bare ASGI
    app's constant answer (BareAsgi: what any HTTP answer costs here, no framework). Database: the bare
    primary-key SELECT of the same balance through the driver, outside the server.
    """

    def __init__(self, db: Database, reader: SyncClient, bare_url: str) -> None:
        self.reader = reader
        self.bare_url, self.bare_session = bare_url, requests.Session()
        self.raw = db.reader.raw_connection()
        self.cur = self.raw.cursor()
        self.is_sqlite = db.is_sqlite
        self.sql = f"SELECT balance_cents FROM accounts WHERE key = {'?' if db.is_sqlite else '%s'}"
        self.http: list[float] = []
        self.bare: list[float] = []
        self.db: list[float] = []

    def measure(self, wallet: str) -> None:
        t0 = time.perf_counter()
        answer = self.reader.session.get(self.reader.base_url + "/v1/health", timeout=TILL_TIMEOUT_S)
        self.http.append(time.perf_counter() - t0)
        assert answer.status_code == 200
        t0 = time.perf_counter()
        answer = self.bare_session.get(self.bare_url, timeout=TILL_TIMEOUT_S)
        self.bare.append(time.perf_counter() - t0)
        assert answer.status_code == 200
        t0 = time.perf_counter()
        self.cur.execute(self.sql, (wallet,))
        self.cur.fetchall()
        if not self.is_sqlite:
            self.raw.commit()  # one statement, one transaction, as the server's autocommit reader does
        self.db.append(time.perf_counter() - t0)

    def close(self) -> None:
        self.bare_session.close()
        self.cur.close()
        self.raw.close()


@dataclass(frozen=True)
class ReadSide:
    """What the reads go to: the database (the bare SELECT), the reads server's client, the bare ASGI app."""

    db: Database
    reader: SyncClient
    bare_url: str


def read_while(side: ReadSide, cards: list[str], reads: int, seed: int, busy: Callable[[], bool]) -> dict[str, float]:
    """Card summaries over HTTP, each followed by the floors, while `busy()`; p50/p99 of each."""
    rng = random.Random(seed)
    http: list[float] = []
    reader = side.reader
    floors = Floors(side.db, reader, side.bare_url)
    try:
        while len(http) < reads and busy():
            i = rng.randrange(len(cards))
            card, wallet = cards[i], f"member:m-{i:06d}"  # si.setup gave card i to member m-{i:06d}
            t0 = time.perf_counter()
            answer = reader.card_summary(card)
            http.append(time.perf_counter() - t0)
            assert "balance_cents" in answer
            floors.measure(wallet)
    finally:
        floors.close()
    if not http:  # the load ended before the first read: no figure "under load" to give
        raise RuntimeError("no read was timed while the uploads ran: give the load more records")
    return {"p50": pct_ms(http, 50), "p99": pct_ms(http, 99), "health_p50": pct_ms(floors.http, 50),
            "health_p99": pct_ms(floors.http, 99), "bare_p50": pct_ms(floors.bare, 50),
            "bare_p99": pct_ms(floors.bare, 99), "floor_p50": pct_ms(floors.db, 50),
            "floor_p99": pct_ms(floors.db, 99), "reads": float(len(http))}


def measure_quiet(side: ReadSide, cards: list[str], reads: int, seed: int) -> dict[str, float]:
    """The same reads with nothing else running on the server: what the load adds."""
    return read_while(side, cards, reads, seed, lambda: True)


def measure_round(side: ReadSide, load_url: str, cards: list[str], dataset,  # type: ignore[no-untyped-def]
                  reads: int, nice: int = 0) -> dict[str, float]:
    """Card summaries while LOAD_TILLS tills upload to `load_url` from a process at `nice`."""
    ctx = multiprocessing.get_context("fork")
    started, finished = ctx.Event(), ctx.Event()
    load = ctx.Process(target=_load, args=(load_url, dataset, started, finished, nice))
    load.start()
    started.wait(60)
    time.sleep(1.5)  # measure_http lets every till make first contact (1 s) before the uploads start
    try:  # every read timed while the uploads run
        result = read_while(side, cards, reads, len(dataset), lambda: not finished.is_set() and load.is_alive())
    finally:
        load.join(timeout=900)
    if load.exitcode != 0:  # reads timed beside a dead load would be reported as "under load"
        raise RuntimeError(f"the upload load stopped with exit code {load.exitcode}: no figure under load")
    return result


def split_round(side: ReadSide, url: str, data_dir: Path, cards: list[str], merchants: list[str], reads: int,
                nice: int, r: int) -> dict[str, float]:
    """One round with the uploads sent to their own server process (and load process) at `nice`."""
    data_dir.mkdir()
    uploads = hi.Server(url, data_dir, 1, nice=nice)
    try:
        dataset = si.make_records(LOAD_TILLS, LOAD_RECORDS, cards, merchants, seed=300 + r + 10 * nice,
                                  prefix=f"S{nice}-{r}")
        si.enroll(side.db, dataset)
        return measure_round(side, uploads.base_url, cards, dataset, reads, nice)
    finally:
        uploads.stop()


def server_cpu_ms(pid: int, reader: SyncClient, cards: list[str], reads: int) -> tuple[float, float]:
    """Server CPU per card summary and per GET /v1/health, quiet: what a read costs the server whatever the
    machine's load does to the wall-clock figures (the CPU clock ticks at 10 ms, hence many reads)."""
    t0 = process_cpu_s(pid)
    for i in range(reads):
        reader.card_summary(cards[i % len(cards)])
    t1 = process_cpu_s(pid)
    for _ in range(reads):
        reader.session.get(reader.base_url + "/v1/health", timeout=TILL_TIMEOUT_S)
    t2 = process_cpu_s(pid)
    return (t1 - t0) / reads * 1000, (t2 - t1) / reads * 1000


def _line(label: str, what: str, res: dict[str, float]) -> str:
    return (f"  [{label}] {what}: card summary over HTTP p50 {res['p50']:.2f} ms, p99 {res['p99']:.2f} ms; "
            f"GET /v1/health p50 {res['health_p50']:.2f}, p99 {res['health_p99']:.2f} ms; bare ASGI answer p50 "
            f"{res['bare_p50']:.2f}, p99 {res['bare_p99']:.2f} ms; bare PK SELECT p50 "
            f"{res['floor_p50']:.3f}, p99 {res['floor_p99']:.3f} ms; {res['reads']:.0f} reads")


def bench_backend(label: str, url: str, postings: int, reads: int, rounds: int) -> list[dict[str, Any]]:
    nice = uploads_nice()
    db = Database(url)
    db.migrate()
    merchants = [f"M-{i:02d}" for i in range(10)]
    cards = si.setup(db, CARDS, merchants)
    t0 = time.perf_counter()
    count = si.fill_postings(db, postings)
    print(f"  [{label}] {count:,} postings in {time.perf_counter() - t0:.0f} s", flush=True)
    reader_key = keys.new_private_key()
    db.write(lambda conn: admin_business.enroll_terminal(conn, "T-reader", merchants[0],
                                                         keys.public_raw(reader_key).hex(), si.NOW))
    data_dir = Path(tempfile.mkdtemp(prefix="floreyn-balance-bench-"))
    server, bare = hi.Server(url, data_dir, 1), BareAsgi(data_dir)
    quiet, loaded = [], []
    try:
        reader = SyncClient(server.base_url, "T-reader", reader_key, server_key=None, timeout_s=TILL_TIMEOUT_S)
        side = ReadSide(db, reader, bare.url)
        for _ in range(50):  # pins the server key, warms the connection and the server's caches
            reader.card_summary(cards[0])
        for r in range(rounds):
            quiet.append(measure_quiet(side, cards, reads, seed=100 + r))
            print(_line(label, f"quiet, round {r + 1}", quiet[-1]), flush=True)
        cpu = [server_cpu_ms(server.proc.pid, reader, cards, reads) for _ in range(rounds)]
        print(f"  [{label}] server CPU per card summary {'/'.join(f'{c:.2f}' for c, _ in cpu)} ms, per GET "
              f"/v1/health {'/'.join(f'{h:.2f}' for _, h in cpu)} ms", flush=True)
        for r in range(rounds):
            dataset = si.make_records(LOAD_TILLS, LOAD_RECORDS, cards, merchants, seed=200 + r, prefix=f"B{r}")
            si.enroll(db, dataset)
            loaded.append(measure_round(side, server.base_url, cards, dataset, reads))
            print(_line(label, f"{LOAD_TILLS} tills uploading, round {r + 1}", loaded[-1]), flush=True)
        split = [split_round(side, url, data_dir / f"uploads-{r}", cards, merchants, reads, nice, r)
                 for r in range(rounds)]
        for r, res in enumerate(split):
            print(_line(label, f"uploads in their own process at nice {nice}, round {r + 1}", res), flush=True)
        # The diagnosis: the split without the priority. Fast here but slow above means the reads wait inside the
        # process that ingests (CPU, GIL, thread pool), not for the database.
        same = split_round(side, url, data_dir / "uploads-same", cards, merchants, reads, 0, rounds)
        print(_line(label, "uploads in a second process at the same priority", same), flush=True)
        reader.session.close()
    finally:
        server.stop()
        bare.stop()
        db.dispose()
        shutil.rmtree(data_dir, ignore_errors=True)
    goals.balance(label, count, loaded, LOAD_TILLS, split=False)
    goals.balance(label, count, split, LOAD_TILLS, split=True)

    def mmm(results: list[dict[str, float]], key: str) -> str:
        return "/".join(f"{v:.2f}" for v in min_med_max([r[key] for r in results]))

    def floors(results: list[dict[str, float]], pct: str) -> str:
        return (f"{mmm(results, 'health_' + pct)} ms health, {mmm(results, 'bare_' + pct)} ms bare ASGI, "
                f"{mmm(results, 'floor_' + pct)}")

    floor_name = ("GET /v1/health over HTTP (unsigned, SELECT 1), a bare ASGI app's constant answer over HTTP "
                  "(bench/bare_asgi.py) and the bare PK SELECT, interleaved")
    reads_done = "/".join(f"{r['reads']:.0f}" for r in loaded)
    rows = []
    for what, results, target in ((f"under upload load ({LOAD_TILLS} tills uploading)", loaded, "<= 5 ms"),
                                  ("quiet server", quiet, "-")):
        rows += [
            {"name": f"balance read p99 over HTTP, {what}, {label} ({count:,} postings; min/med/max of {rounds} "
                     f"rounds of {reads_done if results is loaded else reads} reads)",
             "value": mmm(results, "p99"), "unit": "ms", "http": True, "baseline": floors(results, "p99"),
             "baseline_name": floor_name, "target": target},
            {"name": f"balance read p50 over HTTP, {what}, {label}", "value": mmm(results, "p50"), "unit": "ms",
             "http": True, "baseline": floors(results, "p50"), "baseline_name": floor_name, "target": "-"},
        ]
    rows.append(
        {"name": f"server CPU per balance read over HTTP, quiet, {label} (min/med/max of {rounds} x {reads} reads)",
         "value": "/".join(f"{v:.2f}" for v in min_med_max([c for c, _ in cpu])), "unit": "ms", "http": True,
         "baseline": "/".join(f"{v:.2f}" for v in min_med_max([h for _, h in cpu])),
         "baseline_name": "per GET /v1/health (unsigned, SELECT 1)", "target": "-"})
    rows += [
        {"name": f"balance read p99 over HTTP, uploads in their own process at nice {nice}, {label} "
                 f"(min/med/max of {rounds} rounds)",
         "value": mmm(split, "p99"), "unit": "ms", "http": True, "baseline": floors(split, "p99"),
         "baseline_name": floor_name, "target": "<= 5 ms"},
        {"name": f"balance read p50 / p99 over HTTP, uploads in a second process at the same priority, {label} "
                 "(one round)",
         "value": f"{same['p50']:.2f} / {same['p99']:.2f}", "unit": "ms", "http": True,
         "baseline": f"{same['health_p50']:.2f} / {same['health_p99']:.2f} ms health, {same['bare_p50']:.2f} / "
                     f"{same['bare_p99']:.2f} ms bare ASGI, {same['floor_p50']:.3f} / {same['floor_p99']:.3f}",
         "baseline_name": floor_name, "target": "diagnosis"}]
    return rows


def run(pg_url: str | None = None, quick: bool = False, rounds: int = ROUNDS) -> list[dict[str, Any]]:
    postings, reads = (QUICK_POSTINGS, QUICK_READS) if quick else (POSTINGS, READS)
    rows = []
    for label, url in backends(pg_url):
        rows += bench_backend(label, url, postings, reads, rounds)
    return rows


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    backend_args(p)
    p.add_argument("--quick", action="store_true", help=f"{QUICK_POSTINGS:,} postings, {QUICK_READS} reads")
    p.add_argument("--rounds", type=int, default=ROUNDS)
    args = p.parse_args(argv)
    print_rows(run(pg_url_of(args), args.quick, args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
