"""After a server restore, a till sends again what the server lost: the ledger is whole, nothing doubled.

The real till engine and store, syncing over loopback HTTP with a real server:
backup -> more sales synced -> server stopped, restored -> the till's next sync
finds the server behind what it acknowledged, re-marks the records above the
server's head, uploads them again; every sale is in the ledger once.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select
from till_helpers import CASHIER_PIN, fast_config

from floreyn import card as cards
from floreyn import keys
from floreyn.money import Money
from floreyn.server import backup, restore
from floreyn.server import schema as s
from floreyn.server.db import Database
from floreyn.server.replay import replay
from floreyn.server.testing import ServerThread, World
from floreyn.terminal.config import ServerConfig, StoreConfig
from floreyn.terminal.drivers.virtual import VirtualPrinter
from floreyn.terminal.engine.build import build_engine
from floreyn.terminal.clock import FakeClock

ISSUER = keys.private_from_seed(bytes(range(40, 72)))
SPEND_CENTS = 125


class Setup:
    def __init__(self, db_url: str, tmp: Path) -> None:
        self.db_url, self.tmp = db_url, tmp
        self.data = tmp / "server"
        self.srv: ServerThread | None = None

    def start(self) -> ServerThread:
        self.srv = ServerThread(self.db_url, self.data).__enter__()
        return self.srv

    def stop(self) -> None:
        assert self.srv is not None
        self.srv.__exit__(None, None, None)
        self.srv = None


def till_for(world: World, tmp: Path, merchant_id: str, clock: FakeClock, retention_days: int = 30):  # noqa: ANN201
    srv = world.srv
    terminal_id = world.new_id("T")
    cfg = replace(fast_config(tmp / "till"), terminal_id=terminal_id, merchant=None, issuer_keys=(),
                  server=ServerConfig(srv.base_url, keys.public_raw(srv.public_key).hex()),
                  store=StoreConfig(retention_days=retention_days))
    engine = build_engine(cfg, VirtualPrinter(), clock=clock)
    srv.admin("POST", "/v1/admin/terminals", {"terminal_id": terminal_id, "merchant_id": merchant_id,
                                              "public_key": keys.public_raw(engine.public_key).hex()})
    return engine


def sell(engine, payload: bytes, n: int) -> None:  # noqa: ANN001
    for _ in range(n):
        engine.present_card(payload)
        engine.confirm(engine.quote_spend(Money.fl(SPEND_CENTS)).quote_id, repeat_ok=True)


def point_at(engine, srv: ServerThread) -> None:  # noqa: ANN001
    """The restored server listens on a new port here; in the field its name stays the same."""
    engine.sync.client.base_url = srv.base_url


def server_counts(db_url: str, terminal_id: str) -> tuple[int, int, int]:
    db = Database(db_url)
    try:
        return db.read(lambda conn: (
            conn.execute(select(func.count()).select_from(s.records).where(s.records.c.terminal_id == terminal_id))
            .scalar_one(),
            conn.execute(select(func.count()).select_from(s.transactions)
                         .where(s.transactions.c.terminal_id == terminal_id)).scalar_one(),
            conn.execute(select(s.terminals.c.head_seq).where(s.terminals.c.terminal_id == terminal_id)).scalar_one(),
        ))
    finally:
        db.dispose()


def test_restore_then_the_till_sends_again_what_the_server_lost(db_url, tmp_path):
    setup = Setup(db_url, tmp_path)
    srv = setup.start()
    engine = None
    try:
        srv.admin("PATCH", "/v1/admin/config", {"issuer_keys": [keys.public_raw(ISSUER).hex()]})
        world = World(srv)
        merchant_id = world.merchant()
        member_id, card_hex = world.member(eur_cents=10_000)
        start_balance = world.balance(f"member:{member_id}")
        payload = cards.issue(ISSUER, bytes.fromhex(card_hex)).payload()
        engine = till_for(world, tmp_path, merchant_id, FakeClock())
        engine.sync_now()
        engine.start()
        engine.gateway = None  # offline sales: the till's own records are what reaches the ledger
        engine.sign_in(CASHIER_PIN)
        sell(engine, payload, 3)
        assert engine.sync_now()["waiting"] == 0
        made = backup.backup(srv.ctx.db, tmp_path / "b.floreyn-backup", server_public_key=srv.ctx.public_hex)
        assert made.manifest.terminal_heads[engine.config.terminal_id] == 3
        version_at_backup = engine.store.current_snapshot().snapshot_version
        sell(engine, payload, 4)
        assert engine.sync_now()["waiting"] == 0 and engine.store.state().acked_seq == 7
        assert world.balance(f"member:{member_id}") == start_balance - 7 * SPEND_CENTS
        setup.stop()

        report = restore.restore(made.path, db_url, replace=True)
        assert report.rows["records"] == made.manifest.row_counts["records"]
        assert server_counts(db_url, engine.config.terminal_id) == (3, 3, 3)  # the server lost sales 4-7
        srv = setup.start()
        world = World(srv)
        point_at(engine, srv)
        state = engine.sync_now()
        assert state["online"] and state["waiting"] == 0 and state["last_error"] is None
        assert server_counts(db_url, engine.config.terminal_id) == (7, 7, 7)
        assert world.balance(f"member:{member_id}") == start_balance - 7 * SPEND_CENTS  # each sale once
        assert engine.store.state().acked_seq == 7 and engine.store.count_unsent() == 0
        # The restored server's snapshot is newer than anything the lost history handed out: the till took it.
        assert engine.store.current_snapshot().snapshot_version > version_at_backup + restore.RESTORE_VERSION_GAP - 1
        assert engine.sync_now()["waiting"] == 0 and server_counts(db_url, engine.config.terminal_id) == (7, 7, 7)
        kinds = [a["kind"] for a in srv.admin("GET", "/v1/admin/alerts")["alerts"]]
        assert "restored" in kinds
        assert replay(srv.ctx.db).ok
    finally:
        if engine is not None:
            engine.store.close()
        if setup.srv is not None:
            setup.stop()


def test_records_the_till_pruned_cannot_come_back_and_the_till_says_so(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'server.db'}"
    setup = Setup(db_url, tmp_path)
    srv = setup.start()
    clock = FakeClock()
    engine = None
    try:
        srv.admin("PATCH", "/v1/admin/config", {"issuer_keys": [keys.public_raw(ISSUER).hex()]})
        world = World(srv)
        merchant_id = world.merchant()
        _member_id, card_hex = world.member(eur_cents=10_000)
        payload = cards.issue(ISSUER, bytes.fromhex(card_hex)).payload()
        engine = till_for(world, tmp_path, merchant_id, clock, retention_days=1)
        engine.sync_now()
        engine.start()
        engine.gateway = None
        engine.sign_in(CASHIER_PIN)
        sell(engine, payload, 2)
        engine.sync_now()
        made = backup.backup(srv.ctx.db, tmp_path / "old.floreyn-backup", server_public_key=None)
        sell(engine, payload, 4)
        assert engine.sync_now()["waiting"] == 0
        clock.advance(2 * 86_400)  # older than the till's retention: acknowledged records are pruned
        assert engine.start()["pruned"] == 5  # all but the head
        setup.stop()
        restore.restore(made.path, db_url, replace=True)
        srv = setup.start()
        point_at(engine, srv)
        state = engine.sync_now()
        assert state["online"] is False and state["last_error"] == "sync_server_behind"
        assert "opgeruimd" in engine.sync.state.last_error_message
        assert server_counts(db_url, engine.config.terminal_id) == (2, 2, 2)  # nothing posted out of order
        engine.present_card(payload)  # the till keeps working meanwhile (saving needs no fresh server data)
        engine.confirm(engine.quote_save(Money.eur(1_000)).quote_id, repeat_ok=True)
        assert engine.store.count_unsent() == 2 and engine.status().pending_uploads == 2
    finally:
        if engine is not None:
            engine.store.close()
        if setup.srv is not None:
            setup.stop()


@pytest.mark.parametrize("behind", [False, True])
def test_resend_after_only_ever_marks_records_unsent(tmp_path, behind):
    """The store's half: a server ahead or level changes nothing; behind re-marks exactly the records above it."""
    from till_helpers import open_till

    till = open_till(fast_config(tmp_path / "data"), FakeClock())
    try:
        for _ in range(4):
            till.present("anna")
            till.spend(100, repeat_ok=True)
        till.store.acknowledge(4)
        assert till.store.resend_after(4) == 0 and till.store.resend_after(9) == 0  # level, or nonsense
        if behind:
            assert till.store.resend_after(1) == 3
            assert [r.seq for r in till.store.all_records() if r.sync_status == "pending"] == [2, 3, 4]
            assert till.store.state().acked_seq == 1
            till.store.acknowledge(4)
        assert till.store.count_unsent() == 0 and till.store.state().acked_seq == 4
    finally:
        till.store.close()
