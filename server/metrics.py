"""GET /metrics: Prometheus text format (0.0.4), read from the database at each scrape.

Every figure comes from the database, not from process memory, so it is the
same whichever `--workers` process answers the scrape and survives restarts.

Protected by a bearer token with role `auditor` or `admin` (Prometheus:
`authorization: {credentials_file: ...}`), because terminal ids, counts and
backup times say how the cooperative runs; a reverse proxy should not expose
the path to the internet at all (deploy/server/Caddyfile). Scrapes are not
written to the audit log (every 15 s would swamp it).
"""

from __future__ import annotations

import time
from typing import Any, Final, Iterable

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from sqlalchemy import Connection, func, select
from starlette.concurrency import run_in_threadpool

from floreyn.server import admin_auth, state
from floreyn.server import schema as s

router = APIRouter(tags=["health"])
MAX_TERMINALS: Final = 5_000  # per scrape; a cooperative has tens
CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
ROLES: Final = frozenset({"admin", "auditor"})
INGEST_ALERTS: Final = ("fork", "chain_break", "bad_signature", "merchant_mismatch", "amount_implausible")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class _Out:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str,
               samples: Iterable[tuple[dict[str, str], float | int]]) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            text = ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels.items())
            self.lines.append(f"{name}{{{text}}} {value}" if text else f"{name} {value}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def render(conn: Connection, now_ms: int) -> str:
    started = time.perf_counter()
    out = _Out()
    terms = conn.execute(select(s.terminals.c.terminal_id, s.terminals.c.merchant_id, s.terminals.c.status,
                                s.terminals.c.head_seq, s.terminals.c.reported_head_seq, s.terminals.c.last_seen_ms,
                                s.terminals.c.rejected_uploads)
                         .order_by(s.terminals.c.terminal_id).limit(MAX_TERMINALS)).all()
    tid = [{"terminal_id": t.terminal_id} for t in terms]
    out.family("floreyn_terminal_info", "gauge", "Enrolled terminals (value 1) with merchant and status.",
               [({"terminal_id": t.terminal_id, "merchant_id": t.merchant_id, "status": t.status}, 1) for t in terms])
    out.family("floreyn_terminal_acked_seq", "gauge", "Highest record sequence number the server holds.",
               [(lab, t.head_seq) for lab, t in zip(tid, terms, strict=True)])
    out.family("floreyn_terminal_reported_head_seq", "gauge",
               "Highest sequence number the terminal said it has, with its last upload.",
               [(lab, t.reported_head_seq) for lab, t in zip(tid, terms, strict=True) if t.reported_head_seq is not None])
    out.family("floreyn_terminal_records_waiting", "gauge",
               "Records the terminal has and the server not yet (as of the terminal's last upload).",
               [(lab, max(0, (t.reported_head_seq or 0) - t.head_seq)) for lab, t in zip(tid, terms, strict=True)])
    out.family("floreyn_terminal_last_sync_timestamp_seconds", "gauge", "When the terminal last uploaded (Unix time).",
               [(lab, t.last_seen_ms / 1000) for lab, t in zip(tid, terms, strict=True) if t.last_seen_ms])
    out.family("floreyn_terminal_sync_lag_seconds", "gauge", "Seconds since the terminal last uploaded.",
               [(lab, max(0.0, (now_ms - t.last_seen_ms) / 1000)) for lab, t in zip(tid, terms, strict=True) if t.last_seen_ms])
    out.family("floreyn_terminal_rejected_uploads_total", "counter",
               "Uploads refused after the terminal authenticated (bad record, fork, too large, ...).",
               [(lab, t.rejected_uploads) for lab, t in zip(tid, terms, strict=True)])
    cards = dict(conn.execute(select(s.cards.c.status, func.count()).group_by(s.cards.c.status)).tuples().all())
    out.family("floreyn_cards", "gauge", "Member cards by status.",
               [({"status": st}, cards.get(st, 0)) for st in sorted({"active", "blocked", "replaced", *cards})])
    flagged = conn.execute(select(func.count()).select_from(s.cards).where(s.cards.c.flagged_ms.is_not(None))
                           ).scalar_one()
    out.family("floreyn_cards_flagged", "gauge", "Cards flagged for an offline overspend.", [({}, flagged)])
    alerts = dict(conn.execute(select(s.alerts.c.kind, func.count()).group_by(s.alerts.c.kind)).tuples().all())
    out.family("floreyn_alerts_total", "counter", "Alerts raised, by kind (fork, bad_signature, overspend, ...).",
               [({"kind": k}, alerts.get(k, 0)) for k in sorted(set(INGEST_ALERTS) | set(alerts))])
    _totals(conn, out)
    last_backup = conn.execute(select(func.max(s.backups.c.at_ms))).scalar()
    out.family("floreyn_last_backup_timestamp_seconds", "gauge",
               "When the newest `floreyn-server backup` was made (Unix time; 0: never).",
               [({}, (last_backup or 0) / 1000)])
    out.family("floreyn_metrics_scrape_duration_seconds", "gauge", "Time to compute this answer.",
               [({}, round(time.perf_counter() - started, 4))])
    return out.text()


def _totals(conn: Connection, out: _Out) -> None:
    records = conn.execute(select(func.count()).select_from(s.records)).scalar_one()
    out.family("floreyn_records_total", "counter", "Terminal records held.", [({}, records)])
    txs = conn.execute(select(func.count()).select_from(s.transactions)).scalar_one()
    out.family("floreyn_transactions_total", "counter", "Ledger transactions.", [({}, txs)])
    out.family("floreyn_data_version", "gauge", "Data version the snapshots are at.",
               [({}, state.current_version(conn))])


@router.get("/metrics", summary="Prometheus metrics (bearer token: auditor or admin)",
            response_class=PlainTextResponse)
async def metrics(request: Request) -> PlainTextResponse:
    ctx: Any = request.app.state.ctx
    authorization = request.headers.get("authorization")

    def read(conn: Connection) -> str:
        admin_auth.check_token(conn, authorization, ROLES)
        return render(conn, ctx.clock())

    body = await run_in_threadpool(ctx.db.read, read, snapshot=True)
    return PlainTextResponse(body, media_type=CONTENT_TYPE)
