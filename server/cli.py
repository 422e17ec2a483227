"""`floreyn-server`: serve (the default), replay, migrate, token.

    floreyn-server                              serve from ./floreyn-data (SQLite), 127.0.0.1:8470
    floreyn-server --host 0.0.0.0 --port 9000 --db postgresql://u@h/floreyn --workers 2
    floreyn-server replay [--no-records] [--json]   recompute balances, check ledger and chains; exit 1 on a problem
    floreyn-server migrate                      bring the schema up to date and exit
    floreyn-server token create --name NAME --role admin|clerk|auditor

Room is left for `backup` and `restore` (a later issue): each command is one
function taking the parsed options.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Callable

from floreyn.server import admin_auth, ledger, state
from floreyn.server.app import ServerContext
from floreyn.server.config import DEFAULT_HOST, DEFAULT_PORT, TOKEN_FILE, ServerConfig, default_data_dir, load_or_create_key
from floreyn.server.db import Database

log = logging.getLogger("floreyn.server")


def open_context(config: ServerConfig, *, clock: Callable[[], int] | None = None) -> ServerContext:
    """Database migrated, signing key loaded (made on first start), bootstrap token written if none exists."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(config.database_url)
    db.migrate()
    db.write(lambda conn: ledger.ensure_accounts(conn, ledger.FIXED_ACCOUNTS, state.now_ms()))
    key = load_or_create_key(config.data_dir)
    ctx = ServerContext(db=db, key=key, limits=config.limits, clock=clock or state.now_ms)
    bootstrap_token(ctx, config.data_dir)
    return ctx


def bootstrap_token(ctx: ServerContext, data_dir: Path) -> Path | None:
    """On a server with no admin token yet, make one ("bootstrap", role admin) and write it 0600."""
    def make(conn):  # type: ignore[no-untyped-def]
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
                        host=args.host, port=args.port)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from floreyn.server.app import create_app

    config = _config(args)
    ctx = open_context(config)
    print(f"floreyn-server: data in {config.data_dir.resolve()}, serving on http://{config.host}:{config.port}",
          flush=True)
    token_file = config.data_dir / TOKEN_FILE
    if token_file.exists():
        print(f"floreyn-server: bootstrap admin token in {token_file.resolve()}", flush=True)
    if args.workers == 1:
        uvicorn.run(create_app(ctx), host=config.host, port=config.port, log_level="info",
                    limit_concurrency=200, timeout_keep_alive=30)
        return 0
    ctx.db.dispose()  # each worker process opens its own connections
    os.environ["FLOREYN_DATA_DIR"] = str(config.data_dir.resolve())
    os.environ["FLOREYN_DB_URL"] = config.database_url
    uvicorn.run("floreyn.server.cli:app_from_env", factory=True, workers=args.workers, host=config.host,
                port=config.port, log_level="info", limit_concurrency=200, timeout_keep_alive=30)
    return 0


def app_from_env():  # type: ignore[no-untyped-def]
    """The app of one worker process of `serve --workers N` (the parent has migrated and made the key)."""
    from floreyn.server.app import create_app

    data_dir = Path(os.environ["FLOREYN_DATA_DIR"])
    ctx = ServerContext(db=Database(os.environ["FLOREYN_DB_URL"]), key=load_or_create_key(data_dir))
    return create_app(ctx)


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


def _server_options(p: argparse.ArgumentParser, suppress: bool) -> None:
    d = (lambda v: argparse.SUPPRESS) if suppress else (lambda v: v)
    p.add_argument("--host", default=d(DEFAULT_HOST), help=f"listen address (default {DEFAULT_HOST})")
    p.add_argument("--port", type=int, default=d(DEFAULT_PORT), help=f"listen port (default {DEFAULT_PORT})")
    p.add_argument("--db", default=d(None), metavar="URL",
                   help="SQLAlchemy URL (default: SQLite in the data folder); postgresql://... for PostgreSQL")
    p.add_argument("--data-dir", default=d(None), help="data folder (default ./floreyn-data or $FLOREYN_DATA_DIR)")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="floreyn-server", description="Floreyn sync server and ledger")
    _server_options(p, suppress=False)
    sub = p.add_subparsers(dest="command")
    p.add_argument("--workers", type=int, default=1, choices=range(1, 33), metavar="N",
                   help="server processes (default 1; on PostgreSQL one per core; on SQLite keep 1)")
    sp = sub.add_parser("serve", help="serve the HTTP API (default)")
    _server_options(sp, suppress=True)
    sp.add_argument("--workers", type=int, default=argparse.SUPPRESS, choices=range(1, 33), metavar="N")
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
    return p


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "serve": cmd_serve, "replay": cmd_replay, "migrate": cmd_migrate, "token": cmd_token,
}


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    args = parser().parse_args(argv)
    return COMMANDS[args.command or "serve"](args)


if __name__ == "__main__":
    sys.exit(main())
