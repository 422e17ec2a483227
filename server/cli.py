"""`floreyn-server`: serve (the default), replay, migrate, token.

    floreyn-server                              serve from ./floreyn-data (SQLite), 127.0.0.1:8470
    floreyn-server --host 0.0.0.0 --port 9000 --db postgresql://u@h/floreyn --workers 2
    floreyn-server replay [--no-records] [--json]   recompute balances, check ledger and chains; exit 1 on a problem
    floreyn-server migrate                      bring the schema up to date and exit
    floreyn-server token create --name NAME --role admin|clerk|auditor
    floreyn-server backup [--to FILE|DIR] [--keep N]   consistent copy of the database (server/backup.py)
    floreyn-server restore FILE [--replace] [--new-key] put a backup back (server/restore.py); server stopped

Logs are JSON lines on stderr (--log-format text for classic lines; server/logs.py).
Each command is one function taking the parsed options.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, Callable, Final

from sqlalchemy import Connection

from floreyn import keys
from floreyn.server import admin_auth, ledger, state
from floreyn.server.app import ServerContext
from floreyn.server.config import (
    DEFAULT_HOST, DEFAULT_PORT, KEY_FILE, TOKEN_FILE, ServerConfig, default_data_dir, load_or_create_key,
)
from floreyn.server.db import DEFAULT_POOL_SIZE, Database

log = logging.getLogger("floreyn.server")
MAX_EXPIRE_ROUNDS = 1_000  # x 1,000 budgets a round (admin_money): a million budgets in one night, then it stops
# New container objects between two collections of the cyclic garbage collector's youngest generation
# (CPython's default: 700). An upload of 100 records makes some 3,000 (records, postings, rows), nearly all
# freed by their reference counts; at 700 the collector ran four times per upload for nothing, and every tenth
# run promoted what was alive then towards the full collections below.
GC_YOUNG_OBJECTS: Final = 10_000


def settle_heap() -> None:
    """Before serving: what the imports and the app made is kept for the life of the process, so it leaves the
    garbage collector's view (gc.freeze). A full collection walked it all (~180,000 objects, 50 ms with the GIL
    held, every upload waiting) several times per 10,000 records ingested: a sixth of the server's CPU per
    record over HTTP (bench/server_http_ingest.py, 40 tills). Cycles made while serving are collected as before."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_OBJECTS, *gc.get_threshold()[1:])


def open_context(config: ServerConfig, *, clock: Callable[[], int] | None = None) -> ServerContext:
    """Database migrated, signing key loaded (made on first start), bootstrap token written if none exists."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(config.database_url, config.db_pool_size)
    db.migrate()
    db.write(lambda conn: ledger.ensure_accounts(conn, ledger.FIXED_ACCOUNTS, state.now_ms()))
    key = load_or_create_key(config.data_dir)
    ctx = ServerContext(db=db, key=key, limits=config.limits, clock=clock or state.now_ms,
                        portal_url=config.portal_url)
    bootstrap_token(ctx, config.data_dir)
    return ctx


def bootstrap_token(ctx: ServerContext, data_dir: Path) -> Path | None:
    """On a server with no admin token yet, make one ("bootstrap", role admin) and write it 0600."""
    def make(conn):
        if admin_auth.has_tokens(conn):
            return None
        return admin_auth.create_token(conn, "bootstrap", "admin", ctx.clock())

    token = ctx.db.write(make)
    if token is None:
        return None
    path = data_dir / TOKEN_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return path


def _config(args: argparse.Namespace) -> ServerConfig:
    return ServerConfig(data_dir=Path(args.data_dir) if args.data_dir else default_data_dir(), db_url=args.db,
                        host=args.host, port=args.port, portal_url=args.portal_url,
                        db_pool_size=getattr(args, "db_pool", None) or DEFAULT_POOL_SIZE)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from floreyn.server.app import create_app
    from floreyn.server.logs import uvicorn_log_config
    from floreyn.server.restore import server_lock

    config = _config(args)
    lock = server_lock(config.database_url)  # noqa: F841 - held for the life of the process (restore checks it)
    ctx = open_context(config)
    log_config = uvicorn_log_config(args.log_format)
    print(f"floreyn-server: data in {config.data_dir.resolve()}, serving on http://{config.host}:{config.port}",
          flush=True)
    token_file = config.data_dir / TOKEN_FILE
    if token_file.exists():
        print(f"floreyn-server: bootstrap admin token in {token_file.resolve()}", flush=True)
    if args.workers == 1:
        app = create_app(ctx)
        settle_heap()
        uvicorn.run(app, host=config.host, port=config.port, log_level="info",
                    limit_concurrency=200, timeout_keep_alive=30, log_config=log_config, access_log=False)
        return 0
    ctx.db.dispose()  # each worker process opens its own connections
    os.environ["FLOREYN_DATA_DIR"] = str(config.data_dir.resolve())
    os.environ["FLOREYN_DB_URL"] = config.database_url
    os.environ["FLOREYN_DB_POOL"] = str(config.db_pool_size)
    if config.portal_url:
        os.environ["FLOREYN_PORTAL_URL"] = config.portal_url
    uvicorn.run("floreyn.server.cli:app_from_env", factory=True, workers=args.workers, host=config.host,
                port=config.port, log_level="info", limit_concurrency=200, timeout_keep_alive=30,
                log_config=log_config, access_log=False)
    return 0


def app_from_env():
    """The app of one worker process of `serve --workers N` (the parent has migrated and made the key)."""
    from floreyn.server.app import create_app

    data_dir = Path(os.environ["FLOREYN_DATA_DIR"])
    pool = int(os.environ.get("FLOREYN_DB_POOL") or DEFAULT_POOL_SIZE)
    ctx = ServerContext(db=Database(os.environ["FLOREYN_DB_URL"], pool), key=load_or_create_key(data_dir),
                        portal_url=os.environ.get("FLOREYN_PORTAL_URL"))
    app = create_app(ctx)
    settle_heap()
    return app


def cmd_replay(args: argparse.Namespace) -> int:
    from floreyn.server.replay import replay

    config = _config(args)
    db = Database(config.database_url)
    db.migrate()
    report = replay(db, records=not args.no_records)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(f"accounts {report.accounts}, postings {report.postings}, records {report.records}: "
              f"{'OK' if report.ok else 'PROBLEMS FOUND'}")
        for name in ("balance_mismatches", "unbalanced_txs", "currency_mismatches", "chain_errors"):
            for item in getattr(report, name)[:20]:
                print(f"  {name}: {item}")
        nonzero = {c: v for c, v in report.currency_totals.items() if v}
        if nonzero:
            print(f"  currency totals not zero: {nonzero}")
    return 0 if report.ok else 1


def cmd_migrate(args: argparse.Namespace) -> int:
    Database(_config(args).database_url).migrate()
    print("schema up to date")
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    config = _config(args)
    db = Database(config.database_url)
    db.migrate()
    token = db.write(lambda conn: admin_auth.create_token(conn, args.name, args.role, state.now_ms()))
    print(token)
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    """Write a backup (no migration: a backup is taken before an upgrade too), note it, prune old ones."""
    from floreyn.server import backup, schema

    config = _config(args)
    db = Database(config.database_url)
    try:
        key_path = config.data_dir / KEY_FILE
        public = keys.public_raw(keys.load_private_key(key_path)).hex() if key_path.exists() else None
        dest = Path(args.to) if args.to else config.data_dir / "backups"
        if not args.to:
            dest.mkdir(parents=True, exist_ok=True, mode=0o700)
        info = backup.backup(db, dest, server_public_key=public)
        if backup.has_table(db, "backups"):  # schema 0002 on; an older schema is backed up all the same
            db.write(lambda conn: conn.execute(schema.backups.insert().values(
                at_ms=info.manifest.created_ms, path=str(info.path)[:500], size_bytes=info.size_bytes,
                sha256=info.sha256, duration_ms=info.duration_ms, revision=info.manifest.revision)))
        out = info.to_dict()
        if args.keep:
            out["pruned"] = [str(p) for p in backup.prune_backups(info.path.parent, args.keep)]
    finally:
        db.dispose()
    print(json.dumps(out, indent=2))
    return 0


def cmd_expire_budgets(args: argparse.Namespace) -> int:
    """The daily job (floreyn-budget-expire.timer): expire due budgets by each funder's rule, audited.

    Runs in rounds of admin_money.MAX_EXPIRE_PER_CALL; each round has its own request id (the day and the
    round), so a rerun the same day answers "exists" for the rounds already done and does the rest."""
    from floreyn.server import admin_money

    if args.as_of:
        dt.date.fromisoformat(args.as_of)  # ValueError: argparse-style refusal below
    db = Database(_config(args).database_url)
    as_of = args.as_of or state.local_date(state.now_ms()).isoformat()
    expired: list[dict[str, object]] = []
    try:
        for round_no in range(1, MAX_EXPIRE_ROUNDS + 1):
            rid = f"daily-expire-{as_of}-{round_no}"

            def run(conn: Connection, rid: str = rid) -> dict[str, Any]:
                return admin_auth.idempotent(
                    conn, request_id=rid, action="budget.expire", params={"as_of": as_of, "budget_ids": None},
                    actor=("system:expire-budgets", "admin"), path="floreyn-server expire-budgets",
                    run=lambda: admin_money.expire(conn, as_of=as_of, budget_ids=None, request_id=rid,
                                                   now=state.now_ms()))
            out = db.write(run)
            expired.extend(out["expired"])
            if not out["more"]:
                break
    finally:
        db.dispose()
    print(json.dumps({"as_of": as_of, "expired": expired}, indent=2))
    return 0


def cmd_housekeeping(args: argparse.Namespace) -> int:
    """The frequent job (floreyn-housekeeping.timer): lapsed holds, due reinstatements, snapshot entries."""
    from floreyn.server import housekeeping

    db = Database(_config(args).database_url)
    try:
        result = housekeeping.run(db, state.now_ms)
    finally:
        db.dispose()
    print(json.dumps(result.to_dict()))
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from floreyn.server.backup import read_manifest
    from floreyn.server.replay import replay
    from floreyn.server.restore import ServerKeyMismatch, ServerKeyMissing, restore

    config = _config(args)
    manifest = read_manifest(Path(args.file))
    key_path = config.data_dir / KEY_FILE
    if manifest.server_public_key and not args.new_key:
        if not key_path.exists():
            raise ServerKeyMissing(path=str(key_path), public=manifest.server_public_key)
        here = keys.public_raw(keys.load_private_key(key_path)).hex()
        if here != manifest.server_public_key:
            raise ServerKeyMismatch(path=str(key_path), public=manifest.server_public_key, here=here)
    report = restore(Path(args.file), config.database_url, replace=args.replace)
    db = Database(config.database_url)
    try:
        check = replay(db)
    finally:
        db.dispose()
    print(json.dumps({**report.to_dict(), "replay_ok": check.ok, "terminal_heads": manifest.terminal_heads},
                     indent=2))
    return 0 if check.ok else 1


def _server_options(p: argparse.ArgumentParser, suppress: bool) -> None:
    d = (lambda v: argparse.SUPPRESS) if suppress else (lambda v: v)
    p.add_argument("--host", default=d(DEFAULT_HOST), help=f"listen address (default {DEFAULT_HOST})")
    p.add_argument("--port", type=int, default=d(DEFAULT_PORT), help=f"listen port (default {DEFAULT_PORT})")
    p.add_argument("--db", default=d(None), metavar="URL",
                   help="SQLAlchemy URL (default: SQLite in the data folder); postgresql://... for PostgreSQL")
    p.add_argument("--data-dir", default=d(None), help="data folder (default ./floreyn-data or $FLOREYN_DATA_DIR)")
    p.add_argument("--portal-url", default=d(os.environ.get("FLOREYN_PORTAL_URL")), metavar="URL",
                   help="the portal's public address for QR codes and slips, e.g. https://floreyn.nl/portal "
                        "(default $FLOREYN_PORTAL_URL, else the address a request came in on)")
    p.add_argument("--log-format", choices=("json", "text"), default=d(os.environ.get("FLOREYN_LOG_FORMAT", "json")),
                   help="stderr log lines: json (default; $FLOREYN_LOG_FORMAT) or text")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="floreyn-server", description="Floreyn sync server and ledger")
    _server_options(p, suppress=False)
    sub = p.add_subparsers(dest="command")
    p.add_argument("--workers", type=int, default=1, choices=range(1, 33), metavar="N",
                   help="server processes (default 1; on PostgreSQL one per core; on SQLite keep 1)")
    sp = sub.add_parser("serve", help="serve the HTTP API (default)")
    _server_options(sp, suppress=True)
    sp.add_argument("--workers", type=int, default=argparse.SUPPRESS, choices=range(1, 33), metavar="N")
    for q in (p, sp):
        q.add_argument("--db-pool", type=int, default=argparse.SUPPRESS if q is sp else None, choices=range(1, 101),
                       metavar="N", help=f"PostgreSQL connections each server process keeps (default "
                                         f"{DEFAULT_POOL_SIZE}), and as many again at a peak")
    _server_options(sub.add_parser("migrate", help="update the schema and exit"), suppress=True)
    rp = sub.add_parser("replay", help="recompute and check every balance and record chain")
    _server_options(rp, suppress=True)
    rp.add_argument("--no-records", action="store_true", help="skip re-verifying the record chains")
    rp.add_argument("--json", action="store_true")
    tp = sub.add_parser("token", help="admin tokens")
    _server_options(tp, suppress=True)
    tsub = tp.add_subparsers(dest="token_command", required=True)
    tc = tsub.add_parser("create")
    tc.add_argument("--name", required=True)
    tc.add_argument("--role", required=True, choices=admin_auth.ROLES)
    bp = sub.add_parser("backup", help="write a consistent backup of the database (not the key)")
    _server_options(bp, suppress=True)
    bp.add_argument("--to", metavar="PATH",
                    help="a file *.floreyn-backup, or a folder for a new one (default DATA/backups)")
    bp.add_argument("--keep", type=int, metavar="N", help="then delete all but the newest N backups in that folder")
    ep = sub.add_parser("expire-budgets", help="expire due budgets by each funder's rule (the daily job)")
    _server_options(ep, suppress=True)
    ep.add_argument("--as-of", metavar="YYYY-MM-DD", help="expire budgets whose last day is before this (default today)")
    _server_options(sub.add_parser("housekeeping", help="expire lapsed holds, reinstate due cards, refresh the "
                                                        "snapshot entries (the every-minute job)"), suppress=True)
    rs = sub.add_parser("restore", help="restore a backup into an empty (or, with --replace, this) database")
    _server_options(rs, suppress=True)
    rs.add_argument("file", help="a file made by floreyn-server backup")
    rs.add_argument("--replace", action="store_true",
                    help="replace the data there (SQLite: the old file is kept beside it)")
    rs.add_argument("--new-key", action="store_true",
                    help="restore although the data folder lacks the key the backup was made with "
                         "(every terminal must then be given the new server key)")
    return p


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "serve": cmd_serve, "replay": cmd_replay, "migrate": cmd_migrate, "token": cmd_token,
    "backup": cmd_backup, "restore": cmd_restore, "expire-budgets": cmd_expire_budgets,
    "housekeeping": cmd_housekeeping,
}


def main(argv: list[str] | None = None) -> int:
    from floreyn.errors import FloreynError
    from floreyn.server import logs

    args = parser().parse_args(argv)
    logs.configure(args.log_format)
    try:
        return COMMANDS[args.command or "serve"](args)
    except FloreynError as exc:  # a refusal of the operator's request (backup, restore): said plainly
        if args.command in (None, "serve"):
            raise
        print(f"floreyn-server {args.command}: {exc.message('en')}", file=sys.stderr)
        print(json.dumps(exc.to_dict()), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
