"""Portal pages: time to answer a signed-in page over HTTP, beside a bare FastAPI endpoint reading the same rows.

    python bench/portal_pages.py                 # demo size, then 100,000 postings / 10,000 members (SQLite)

The server is the real app (create_app: the envelope, the access log, the
session check, Jinja2 rendering) under uvicorn on loopback; the client sends
the session cookie as a phone would. The baseline, measured in the same run on
the same database and server, is a bare FastAPI endpoint added to that app
that runs the statement's query (the member's postings of the month joined to
their transactions) and answers the rows as JSON: what reading the data costs
without the portal. Figures are the median and the 95th percentile of
REQUESTS sequential requests per page.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import requests
import uvicorn
from sqlalchemy import select

from floreyn.money import Money
from floreyn.server import ledger, state
from floreyn.server import schema as s
from floreyn.server.app import create_app
from floreyn.server.cli import open_context
from floreyn.server.config import ServerConfig
from floreyn.server.portal import queries, users

REQUESTS = 60
OVER_HTTP = True  # bench/run_all.py: every figure here is measured through the HTTP API
DEMO = (10, 300)  # members, postings: the size of `make demo`'s cooperative
LARGE = (10_000, 100_000)
MERCHANTS = 20
MONTHS_SPREAD = 12  # the postings fall over a year, as a real ledger's do


def populate(ctx: Any, members: int, postings: int, now: int) -> str:
    """Members, merchants and payments between them (two postings each); returns the measured member."""
    rng = random.Random(7)
    member_ids = [f"m-{i:06d}" for i in range(members)]
    merchant_ids = [f"M-{i:03d}" for i in range(MERCHANTS)]

    def base(conn: Any) -> None:
        conn.execute(s.members.insert(), [{"member_id": m, "alias": f"Lid {m[-4:]}", "created_ms": now}
                                          for m in member_ids])
        conn.execute(s.merchants.insert(), [{"merchant_id": m, "name": f"Winkel {m}", "category": "winkel",
                                             "save_rate_bp": 0, "topup_allowed": False, "created_ms": now}
                                            for m in merchant_ids])

    ctx.db.write(base)
    year_ms = MONTHS_SPREAD * 30 * 86_400_000
    txs = []
    for i in range(postings // 2):
        member = member_ids[0] if i % 50 == 0 else rng.choice(member_ids)  # the measured member: a busy one
        when = now - rng.randrange(year_ms) if i % 50 else now - rng.randrange(20 * 86_400_000)
        amount = Money.fl(rng.randint(50, 2_500))
        payee = ledger.merchant_acct(rng.choice(merchant_ids))
        txs.append(ledger.LedgerTx(tx_id=str(uuid.uuid4()), kind=ledger.TxKind.SPEND, created_ms=when,
                                   terminal_id="T-bench", record_seq=i + 1, merchant_id=payee.split(":")[1],
                                   postings=ledger.legs((ledger.member_acct(member), -amount), (payee, amount))))
    for i in range(0, len(txs), 5_000):
        chunk = txs[i : i + 5_000]
        ctx.db.write(lambda conn, chunk=chunk: ledger.post(conn, chunk))
    return member_ids[0]


def serve(ctx: Any) -> tuple[uvicorn.Server, int]:
    app = create_app(ctx)
    month = queries.this_month(ctx.clock())

    @app.get("/bench/bare/{member_id}")
    def bare(member_id: str) -> list[list[Any]]:
        """The floor: the statement's rows straight from the database, as JSON."""
        start, end, _ = queries.month_bounds(month)
        p, t = s.postings, s.transactions

        def read(conn: Any) -> list[list[Any]]:
            rows = conn.execute(select(p.c.account, p.c.amount_cents, p.c.kind, p.c.created_ms, t.c.terminal_id,
                                       t.c.record_seq, t.c.merchant_id).join(t, t.c.tx_id == p.c.tx_id)
                                .where(p.c.account == ledger.member_acct(member_id), p.c.created_ms >= start,
                                       p.c.created_ms < end).order_by(p.c.created_ms)).all()
            return [list(r) for r in rows]

        return ctx.db.read(read)  # type: ignore[no-any-return]

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.01)
    return server, server.servers[0].sockets[0].getsockname()[1]


def timed(session: requests.Session, url: str, cookie: str | None) -> tuple[float, float]:
    headers = {"Cookie": f"floreyn_session={cookie}"} if cookie else {}
    samples = []
    for _ in range(REQUESTS):
        t0 = time.perf_counter()
        resp = session.get(url, headers=headers, allow_redirects=False, timeout=30)
        samples.append((time.perf_counter() - t0) * 1000)
        assert resp.status_code == 200, (url, resp.status_code)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def bench_size(label: str, members: int, postings: int) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        config = ServerConfig(data_dir=Path(tmp), db_url=f"sqlite:///{Path(tmp) / 'bench.db'}")
        ctx = open_context(config)
        now = state.now_ms()
        member = populate(ctx, members, postings, now)

        def signin(conn: Any) -> str:
            made = users.issue_code(conn, role="member", subject_id=member, login=None, email=None, now=now)
            user = users.activate(conn, login=made["login"], code=made["activation_code"], password="b" * 12,
                                  repeat="b" * 12, now=now)
            return users.start_session(conn, user, "bench", now)

        token = ctx.db.write(signin)
        server, port = serve(ctx)
        base = f"http://127.0.0.1:{port}"
        rows: list[dict[str, Any]] = []
        try:
            with requests.Session() as session:
                floor, floor95 = timed(session, f"{base}/bench/bare/{member}", None)
                target = 50 if label == "demo" else 200
                for page in ("me", "statement"):
                    p50, p95 = timed(session, f"{base}/portal/{page}", token)
                    rows.append({"name": f"portal /{page}, {label} ({members:,} members, {postings:,} postings), "
                                         "median", "value": round(p50, 1), "unit": "ms", "baseline": round(floor, 1),
                                 "baseline_name": "bare FastAPI endpoint, same rows", "target": f"<= {target} ms"})
                    rows.append({"name": f"portal /{page}, {label}, p95", "value": round(p95, 1), "unit": "ms",
                                 "baseline": round(floor95, 1), "baseline_name": "bare endpoint p95",
                                 "target": f"<= {target} ms"})
        finally:
            server.should_exit = True
            ctx.db.dispose()
        return rows


def run() -> list[dict[str, Any]]:
    return bench_size("demo", *DEMO) + bench_size("large", *LARGE)


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run_all import print_row

    for row in run():
        print_row(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
