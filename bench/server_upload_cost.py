"""The server's fixed CPU cost of one till upload, beside the CPU of a GET /v1/health (the floor).

    python bench/server_upload_cost.py                            # SQLite, 500 uploads of 1 record, 3 rounds
    python bench/server_upload_cost.py --uploads 500 --records 1 10 --pg postgresql+psycopg://...
    python bench/server_upload_cost.py --before /tmp/main-src     # beside a server of other code

Issue 19 goal 1: 40 tills' uploads queued at once must clear within the p99 goal, so each upload's fixed cost
(HTTP, authentication, the body, the thread trips, the commit) counts 40 times. Wall time on a busy shared
machine is noise; the server process's own CPU time (psutil: the kernel's counters for its pid and children)
much less so. A real `floreyn-server` (uvicorn, 1 worker) on loopback, one enrolled till with the real
SyncClient (signed requests, signed answers checked) sending N uploads of `--records` records one after the
other; the floor is N GETs of /v1/health on the same server (no signature, a SELECT 1).
Not in bench/run_all.py's BENCHES: a diagnosis of one part of goal 1, whose figure is server_http_ingest's.

`--before DIR`: a second server runs the code in DIR (e.g. `git archive main | tar -x -C DIR`) through
PYTHONPATH (`--after DIR`: the first one too, in place of this checkout's, so both import alike), on a
database of its own of the same shape. Both servers run at once and get the requests in alternating
blocks of BLOCK (the order turned each time), so a change in the machine's load falls on both alike;
besides each one's CPU per upload the bench prints the median of the blocks' ratios (this / before).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import requests

from common import min_med_max, process_cpu_s, scratch_pg_database, sibling  # bench/ is on sys.path (script)

from floreyn.server.db import Database
from floreyn.sync.client import SyncClient

UPLOADS = 500
RECORDS = (1,)
ROUNDS = 3
BLOCK = 50  # requests per block; the servers take turns block by block
WARM_UPLOADS = 20  # first requests compile statements and fill caches: not counted
CARDS = 1_000  # as server_http_ingest: spends spread so thin that no rule is broken (no alerts, which cost extra)

http_ingest = sibling("server_http_ingest")  # its Server: floreyn-server as its own process
si = sibling("server_ingest")  # its dataset: signed records, cards, merchants, enrolment


@dataclass
class Subject:
    """One server under test: its till, its batches to send, and the CPU it used per block."""

    name: str
    server: Any  # server_http_ingest.Server
    client: SyncClient
    batches: list[list[bytes]]
    health: requests.Session = field(default_factory=requests.Session)
    sent: int = 0
    upload_s: list[float] = field(default_factory=list)  # server CPU per block of uploads
    health_s: list[float] = field(default_factory=list)

    def upload(self, n: int) -> None:
        for batch in self.batches[self.sent : self.sent + n]:
            ack = self.client.upload(batch)
            self.sent += 1
            assert ack.acked_seq == self.sent * len(batch) and ack.accepted == len(batch), ack

    def get_health(self, n: int) -> None:
        for _ in range(n):
            self.health.get(self.server.base_url + "/v1/health", timeout=30).raise_for_status()

    def timed(self, work: Callable[[int], None], n: int, into: list[float]) -> None:
        pid = self.server.proc.pid
        before = process_cpu_s(pid)
        work(n)
        into.append(process_cpu_s(pid) - before)


def start(stack: ExitStack, name: str, url: str, src: str | None, uploads: int, per_upload: int,
          seed: int) -> Subject:
    db = Database(url)
    stack.callback(db.dispose)
    db.migrate()
    merchants = ["M-00"]
    cards = si.setup(db, CARDS, merchants)
    total = (WARM_UPLOADS + uploads) * per_upload
    dataset = si.make_records(1, total, cards, merchants, seed=seed, prefix=f"U{seed}")
    si.enroll(db, dataset)
    tid, _, key, raws = dataset[0]
    data_dir = Path(tempfile.mkdtemp(prefix="floreyn-upload-cost-"))
    stack.callback(shutil.rmtree, data_dir, ignore_errors=True)
    server = http_ingest.Server(url, data_dir, 1, env={**os.environ, "PYTHONPATH": src} if src else None)
    stack.callback(server.stop)
    client = SyncClient(server.base_url, tid, key, server_key=None, timeout_s=30)
    subject = Subject(name, server, client, [raws[i : i + per_upload] for i in range(0, total, per_upload)])
    subject.upload(WARM_UPLOADS)
    subject.get_health(WARM_UPLOADS)
    return subject


def one_round(urls: list[str], codes: list[tuple[str, str | None]], uploads: int, per_upload: int,
              seed: int) -> list[Subject]:
    with ExitStack() as stack:
        subjects = [start(stack, name, url, src, uploads, per_upload, seed)
                    for (name, src), url in zip(codes, urls, strict=True)]
        for b, first in enumerate(range(0, uploads, BLOCK)):
            n = min(BLOCK, uploads - first)
            for s in (subjects if b % 2 == 0 else subjects[::-1]):  # ABBA: neither always goes first
                s.timed(s.upload, n, s.upload_s)
            for s in (subjects if b % 2 == 0 else subjects[::-1]):
                s.timed(s.get_health, n, s.health_s)
        return subjects


def run(pg_url: str | None = None, uploads: int = UPLOADS, records: tuple[int, ...] = RECORDS, rounds: int = ROUNDS,
        before: str | None = None, sqlite: bool = True, after: str | None = None) -> list[dict[str, Any]]:
    this = ("after" if after else "this checkout", after)
    codes: list[tuple[str, str | None]] = [("before", before), this] if before else [this]
    backends = (["SQLite"] if sqlite else []) + (["PostgreSQL"] if pg_url else [])
    rows = []
    for label in backends:
        for per_upload in records:
            cost: dict[str, list[float]] = {name: [] for name, _ in codes}
            floor: dict[str, list[float]] = {name: [] for name, _ in codes}
            ratios: list[float] = []
            for r in range(rounds):
                with tempfile.TemporaryDirectory() as tmp, ExitStack() as dbs:
                    urls = []
                    for i in range(len(codes)):
                        if label == "PostgreSQL" and pg_url:
                            url, drop = scratch_pg_database(pg_url)
                            dbs.callback(drop)
                        else:
                            url = f"sqlite:///{Path(tmp) / f'cost{i}.db'}"
                        urls.append(url)
                    subjects = one_round(urls, codes, uploads, per_upload, seed=1000 + r)
                for s in subjects:
                    cost[s.name].append(1e6 * sum(s.upload_s) / uploads)
                    floor[s.name].append(1e6 * sum(s.health_s) / uploads)
                    print(f"  [{label}, {per_upload} record(s), {s.name}] round {r + 1}: server CPU "
                          f"{cost[s.name][-1]:,.0f} us per upload, {floor[s.name][-1]:,.0f} us per GET /v1/health",
                          flush=True)
                if before:
                    old, new = subjects
                    ratios += [n / o for n, o in zip(new.upload_s, old.upload_s, strict=True) if o > 0]
                    print(f"  [{label}, {per_upload} record(s)] round {r + 1}: this / before, median of the blocks' "
                          f"ratios: {statistics.median(ratios[-len(new.upload_s):]):.3f}", flush=True)
            for name, _ in codes:
                rows.append({
                    "name": f"server CPU per upload of {per_upload} record(s), {label}, {name}, "
                            f"{uploads} sequential uploads (min/med/max of {rounds})",
                    "value": "/".join(f"{v:,.0f}" for v in min_med_max(cost[name])), "unit": "us",
                    "baseline": "/".join(f"{v:,.0f}" for v in min_med_max(floor[name])),
                    "baseline_name": "server CPU per GET /v1/health, same server and round",
                    "target": "40 queued uploads clear in 1.5 s: <= 37,500 us each with their records",
                    "http": True})
            if before:
                rows.append({
                    "name": f"server CPU per upload, this / before, {per_upload} record(s), {label} (median of "
                            f"{len(ratios)} paired blocks of {BLOCK})",
                    "value": f"{statistics.median(ratios):.3f}", "unit": "x", "baseline": 1.0,
                    "baseline_name": "the same", "target": "below 1", "http": True})
    return rows


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pg", help="PostgreSQL URL (default: $FLOREYN_TEST_PG_URL; absent: SQLite only)")
    p.add_argument("--pg-only", action="store_true")
    p.add_argument("--uploads", type=int, default=UPLOADS)
    p.add_argument("--records", type=int, nargs="+", default=list(RECORDS), help="records per upload")
    p.add_argument("--rounds", type=int, default=ROUNDS)
    p.add_argument("--before", metavar="DIR", help="a source tree whose server runs beside this checkout's")
    p.add_argument("--after", metavar="DIR", help="a source tree in place of this checkout (both through PYTHONPATH)")
    args = p.parse_args(argv)
    pg = args.pg or os.environ.get("FLOREYN_TEST_PG_URL") or None
    for row in run(pg, args.uploads, tuple(args.records), args.rounds, args.before, sqlite=not args.pg_only,
                   after=args.after):
        print(f"{row['name']}: {row['value']} {row['unit']}  (baseline {row['baseline']} {row['unit']}: "
              f"{row['baseline_name']}; target {row['target']})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
