"""Helpers for the till engine tests (imported by conftest.py and the tests: tests/terminal is on sys.path)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, replace
from pathlib import Path

from floreyn import keys
from floreyn.terminal import demo_setup
from floreyn.terminal.config import Operator, SecurityConfig, TerminalConfig
from floreyn.terminal.drivers.virtual import VirtualPrinter
from floreyn.pins import hash_pin
from floreyn.terminal.clock import FakeClock
from floreyn.terminal.engine.core import Engine
from floreyn.terminal.store import TerminalStore

CASHIER_PIN, MANAGER_PIN = "1111", "2222"
FAST = SecurityConfig(scrypt_n=16, scrypt_r=1, scrypt_p=1, max_failures=3, lockout_s=30)
TERMINAL_SEED = bytes(range(32))


def fast_config(data_dir: Path, **changes: object) -> TerminalConfig:
    ops = (
        Operator("Carla", "cashier", hash_pin(CASHIER_PIN, n=16, r=1, p=1)),
        Operator("Mo", "manager", hash_pin(MANAGER_PIN, n=16, r=1, p=1)),
    )
    base = demo_setup.demo_config(data_dir, security=FAST)
    return replace(base, operators=ops, **changes)  # type: ignore[arg-type]


@dataclass
class Till:
    engine: Engine
    printer: VirtualPrinter
    clock: FakeClock
    config: TerminalConfig
    events: list

    @property
    def store(self) -> TerminalStore:
        return self.engine.store

    def present(self, name: str):  # noqa: ANN201
        return self.engine.present_card(demo_setup.demo_payload(name))

    def spend(self, amount_cents: int, **quote_kw):  # noqa: ANN201
        from floreyn.money import Money

        tender = quote_kw.pop("tender", None)
        repeat_ok = quote_kw.pop("repeat_ok", False)
        q = self.engine.quote_spend(Money.fl(amount_cents), **quote_kw)
        return self.engine.confirm(q.quote_id, tender=tender, repeat_ok=repeat_ok)

    def reopen(self, *, reboot: bool = False, sign_in: bool = True) -> Till:
        """Close and open again on the same data folder, like a restart (optionally a reboot)."""
        self.store.close()
        if reboot:
            self.clock.reboot()
        return open_till(self.config, self.clock, install_snapshot=False, sign_in=sign_in)


def open_till(config: TerminalConfig, clock: FakeClock, *, install_snapshot: bool = True,
              printer: VirtualPrinter | None = None, sign_in: bool = True, gateway=None) -> Till:  # noqa: ANN001
    store = TerminalStore(config.db_path, config.terminal_id, clock)
    if install_snapshot:
        data, sig = demo_setup.signed_demo_snapshot(config.terminal_id, clock.wall_ms())
        store.store_signed_snapshot(data, sig, demo_setup.demo_server_key().public_key())
    events: list = []
    printer = printer or VirtualPrinter()
    engine = Engine(config, store, printer, keys.private_from_seed(TERMINAL_SEED), clock=clock,
                    listener=events.append, gateway=gateway)
    engine.start()
    if sign_in:
        engine.sign_in(CASHIER_PIN)
    return Till(engine, printer, clock, config, events)


def dump_db(db_path: Path) -> dict[str, list[tuple]]:
    """Every row of every table, read with plain sqlite3: for 'a refusal changes nothing'."""
    con = sqlite3.connect(str(db_path))
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        return {t: sorted(con.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables}
    finally:
        con.close()


def kinds_of(events: list) -> list[str]:
    return [type(e).__name__ for e in events]

