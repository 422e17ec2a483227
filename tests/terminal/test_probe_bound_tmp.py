"""The written offline bound (README, docs/operations.md "Offline limits across tills"), checked on the ledger.

Random interleavings of online and offline taps of ONE card at 2-6 real
tills (the engine, its SQLite store, the sync client) against one real
server over HTTP, with syncs and online holds left open or dropped. At the
end every till uploads and the member's wallet in the server's ledger says
how far the card was overspent:

- honest card (its trail is read and written at every tap):
  overspend <= one per-tap limit, whatever the number of tills;
- trail wiped before every tap (an attacker with a phone):
  overspend <= tills x cumulative cap, as before the trail.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from till_helpers import CASHIER_PIN, fast_config

from floreyn import card as cards
from floreyn import keys
from floreyn.errors import FloreynError
from floreyn.money import Money
from floreyn.server.testing import ServerThread, World
from floreyn.sync.record import Tender
from floreyn.terminal.config import ServerConfig
from floreyn.terminal.drivers.virtual import MemoryTrail, VirtualPrinter
from floreyn.terminal.engine.build import build_engine
from floreyn.terminal.engine.core import Engine

ISSUER = keys.private_from_seed(bytes(range(40, 72)))
FUNDS_CENTS = 3_000  # the member's wallet before the day


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    base = tmp_path_factory.mktemp("bound")
    with ServerThread(f"sqlite:///{base / 'server.db'}", base / "server") as server:
        server.admin("PATCH", "/v1/admin/config", {"issuer_keys": [keys.public_raw(ISSUER).hex()]})
        yield server


def make_till(world: World, folder: Path, merchant_id: str) -> Engine:
    terminal_id = world.new_id("T")
    cfg = replace(fast_config(folder), terminal_id=terminal_id, merchant=None, issuer_keys=(),
                  server=ServerConfig(world.srv.base_url, keys.public_raw(world.srv.public_key).hex()))
    engine = build_engine(cfg, VirtualPrinter())
    world.srv.admin("POST", "/v1/admin/terminals", {"terminal_id": terminal_id, "merchant_id": merchant_id,
                                                    "public_key": keys.public_raw(engine.public_key).hex()})
    engine.sync_now()
    engine.start()
    engine.sign_in(CASHIER_PIN)
    return engine


class Day:
    """One card, N tills, the card's trail pages (or a wiped page at every tap)."""

    def __init__(self, world: World, folder: Path, tills: int, wiped: bool) -> None:
        merchant = world.merchant()
        self.member, card_hex = world.member(eur_cents=FUNDS_CENTS)
        self.payload = cards.issue(ISSUER, bytes.fromhex(card_hex)).payload()
        self.tills = [make_till(world, folder / f"till-{i}", merchant) for i in range(tills)]
        self.trail = MemoryTrail()
        self.wiped = wiped
        self.open_holds: dict[int, str] = {}  # till -> quote id of an online quote left open

    def _present(self, till: Engine) -> None:
        till.present_card(self.payload, MemoryTrail() if self.wiped else self.trail)

    def _drop_hold(self, t: int) -> None:
        quote_id = self.open_holds.pop(t, None)
        if quote_id is not None:
            self.tills[t].cancel(quote_id)

    def tap(self, t: int, cents: int, *, online: bool, confirm: bool = True) -> None:
        self._drop_hold(t)
        till = self.tills[t]
        gateway = till.gateway
        if not online:
            till.gateway = None  # this till has no connection now
        try:
            self._present(till)
            quote = till.quote_spend(Money.fl(cents), online=online or None)
            if not confirm:
                self.open_holds[t] = quote.quote_id  # an online hold another till must respect
                return
            till.confirm(quote.quote_id, tender=Tender.CASH if quote.needs_tender else None, repeat_ok=True)
        except FloreynError:
            pass  # refused (limits, insufficient, no connection): the cashier takes euros instead
        finally:
            till.gateway = gateway

    def sync(self, t: int) -> None:
        self._drop_hold(t)
        self.tills[t].sync_now()

    def close(self) -> None:
        for t, till in enumerate(self.tills):
            self._drop_hold(t)
            assert till.sync_now()["waiting"] == 0
            till.store.close()


step = st.tuples(st.sampled_from(["offline", "offline", "online", "hold", "sync"]), st.integers(0, 5),
                 st.integers(100, 3_000))


@settings(max_examples=40, deadline=None, derandomize=False,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.integers(2, 6), st.booleans(), st.lists(step, min_size=3, max_size=14))
def test_offline_overspend_stays_within_the_written_bound(srv, tmp_path_factory, n_tills, wiped, steps):
    world = World(srv)
    day = Day(world, tmp_path_factory.mktemp("tills"), n_tills, wiped)
    for kind, t, cents in steps:
        t %= n_tills
        if kind == "sync":
            day.sync(t)
        else:
            day.tap(t, cents, online=kind in ("online", "hold"), confirm=kind != "hold")
    day.close()
    limits = srv.admin("GET", "/v1/admin/config")["limits"]
    overspend = max(0, -world.balance(f"member:{day.member}"))
    parked = sum(d["amount_cents"] for d in srv.admin("GET", "/v1/admin/disputes").get("disputes", [])
                 if d["payer_account"] == f"member:{day.member}")  # parked by the server's rules: overspend too
    bound = n_tills * limits["cumulative_cents"] if wiped else limits["per_tx_cents"]
    assert overspend + parked <= bound, f"{'wiped' if wiped else 'honest'} card overspent {overspend + parked}"


def test_the_issue_case_three_tills_offline_after_an_online_payment(srv, tmp_path_factory):
    """An online payment, then the card visits three tills that synced before it: one tap at most."""
    world = World(srv)
    day = Day(world, tmp_path_factory.mktemp("three"), 4, wiped=False)
    day.tap(0, 1_567, online=True)  # T-bakker-1 online, not uploaded yet
    for t in (1, 2, 3):
        day.tap(t, 1_797, online=False)
        day.tap(t, 1_797, online=False)
    day.close()
    limits = srv.admin("GET", "/v1/admin/config")["limits"]
    balance = world.balance(f"member:{day.member}")
    assert -balance <= limits["per_tx_cents"]
    assert day.trail.area is not None and day.trail.area.current is not None
    assert day.trail.writes >= 2  # the online stamp and at least one offline spend went onto the card


def test_without_the_trail_the_same_visit_overspends_by_more(srv, tmp_path_factory):
    """The same day with the card's trail wiped at every tap: the per-till caps alone let it go further."""
    world = World(srv)
    day = Day(world, tmp_path_factory.mktemp("three-wiped"), 4, wiped=True)
    day.tap(0, 1_567, online=True)
    for t in (1, 2, 3):
        day.tap(t, 1_797, online=False)
        day.tap(t, 1_797, online=False)
    day.close()
    limits = srv.admin("GET", "/v1/admin/config")["limits"]
    overspend = -world.balance(f"member:{day.member}")
    assert limits["per_tx_cents"] < overspend <= 3 * limits["cumulative_cents"]
