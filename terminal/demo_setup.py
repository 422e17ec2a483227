"""The built-in demo: a bakery, six named member cards and an offline snapshot, no server needed.

Everything is derived from fixed seeds, so the demo cards are the same on
every machine: a system test or the card-writing tool can make the same
cards with `demo_card(name)`. The demo "server" key signs a fresh snapshot
at every start (there is no server to fetch one from), dated from the wall
clock, so budgets and the campaign are current when shown.

Cards:
    anna   known, fl 50 offline allowance, a shopping budget usable here and a
           maintenance budget that is not (wrong category)
    bram   known, only fl 5 allowance: shows the mixed payment
    cees   blocked
    dirk   genuine but not in the snapshot: no offline spend, saving works
    eva    known, her budget has expired
    fenna  known, two budgets usable here, the sooner-expiring one pays first
PINs: 1234 (Kassa, cashier) and 9999 (Beheer, manager).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Final

from floreyn import card as cards
from floreyn import keys
from floreyn.keys import PrivateKey
from floreyn.money import ExchangeRates
from floreyn.sync.snapshot import (
    SNAPSHOT_VERSION, BudgetInfo, Campaign, CardInfo, MerchantConfig, OfflineLimits, Snapshot, sign_snapshot,
)
from floreyn.terminal.config import Operator, SecurityConfig, TerminalConfig
from floreyn.pins import hash_pin

DEMO_ISSUER_SEED: Final = hashlib.sha256(b"floreyn demo card issuer v1").digest()
DEMO_SERVER_SEED: Final = hashlib.sha256(b"floreyn demo server v1").digest()
DEMO_TERMINAL_ID: Final = "T-demo-01"
DEMO_MERCHANT: Final = MerchantConfig("M-demo-bakker", "Bakkerij De Korenbloem", "winkel", save_rate_bp=500,
                                      topup_allowed=True)
DEMO_PINS: Final = {"1234": ("Kassa", "cashier"), "9999": ("Beheer", "manager")}
DEMO_CARD_NAMES: Final = ("anna", "bram", "cees", "dirk", "eva", "fenna", "gijs", "hanna")
DEMO_BLOCK_BUDGET: Final = "B-portaal-blok-7"  # gijs and hanna, tenants of one block, share it
DEMO_BLOCK_CONFIRM_ABOVE_CENTS: Final = 1_000


def demo_issuer() -> PrivateKey:
    return keys.private_from_seed(DEMO_ISSUER_SEED)


def demo_server_key() -> PrivateKey:
    return keys.private_from_seed(DEMO_SERVER_SEED)


def demo_card_id(name: str) -> bytes:
    return hashlib.sha256(b"floreyn demo card:" + name.encode()).digest()[:16]


def demo_card(name: str) -> cards.Card:
    """A genuine demo card (any name works; the six above are the ones the snapshot knows)."""
    return cards.issue(demo_issuer(), demo_card_id(name))


def demo_payload(name: str) -> bytes:
    return demo_card(name).payload()


def demo_cards(today: dt.date) -> tuple[CardInfo, ...]:
    def day(offset: int) -> str:
        return (today + dt.timedelta(days=offset)).isoformat()

    def info(name: str, alias: str, allowance: int, budgets: tuple[BudgetInfo, ...] = (),
             blocked: bool = False, balance: int | None = None) -> CardInfo:
        return CardInfo(demo_card_id(name).hex(), alias, blocked, allowance, budgets, balance_cents=balance)

    return (
        info("anna", "Anna", 5_000, (
            BudgetInfo("B-gemeente-boodschap-1", "Boodschappenbudget Gemeente", ("winkel", "markt"), day(60), 1_500,
                       "Gemeente Amersfoort"),
            BudgetInfo("B-portaal-onderhoud-1", "Onderhoudsbudget Portaal", ("klussen",), day(120), 10_000,
                       "Portaal"),
        )),
        info("bram", "Bram", 500),
        info("cees", "Cees", 5_000, blocked=True),
        info("eva", "Eva", 2_000, (
            BudgetInfo("B-gemeente-boodschap-2", "Boodschappenbudget Gemeente", ("winkel",), day(-1), 2_000,
                       "Gemeente Amersfoort"),
        )),
        info("fenna", "Fenna", 4_000, (
            BudgetInfo("B-alliantie-zomer-3", "Zomerbudget Alliantie", ("winkel", "markt"), day(10), 800,
                       "Alliantie"),
            BudgetInfo("B-gemeente-boodschap-3", "Boodschappenbudget Gemeente", ("winkel",), day(90), 3_000,
                       "Gemeente Amersfoort"),
        )),
        # Two tenants of one block: their block budget needs the second tenant's card above fl 10
        # (server/budget_rules.py; Engine.second_card).
        info("gijs", "Gijs", 1_000, (block_budget(day(45), cap_left=4_000),), balance=6_250),
        info("hanna", "Hanna", 1_000, (block_budget(day(45), cap_left=4_000),)),
    )


def block_budget(expires_on: str, *, cap_left: int) -> BudgetInfo:
    """The demo block's group budget as the snapshot lists it under each tenant's card."""
    return BudgetInfo(DEMO_BLOCK_BUDGET, "Blokbudget Portaal", (), expires_on, 30_000, "Portaal",
                      member_cap_left_cents=cap_left, confirm_above_cents=DEMO_BLOCK_CONFIRM_ABOVE_CENTS)


def demo_snapshot(terminal_id: str, now_ms: int, *, version: int = 1,
                  merchant: MerchantConfig = DEMO_MERCHANT) -> Snapshot:
    today = dt.datetime.fromtimestamp(now_ms / 1000, dt.UTC).date()
    return Snapshot(
        version=SNAPSHOT_VERSION, terminal_id=terminal_id, snapshot_version=version, server_time_ms=now_ms,
        merchant=merchant, rates=ExchangeRates(ask_bp=10_000, bid_bp=9_500), limits=OfflineLimits(),
        cards=demo_cards(today),
        campaigns=(Campaign("C-zomermarkt", "Zomermarkt: dubbel sparen", 20_000,
                            (today - dt.timedelta(days=7)).isoformat(), (today + dt.timedelta(days=30)).isoformat()),),
        issuer_keys=(keys.public_raw(demo_issuer()).hex(),),
    )


def signed_demo_snapshot(terminal_id: str, now_ms: int, *, version: int = 1) -> tuple[bytes, bytes]:
    return sign_snapshot(demo_snapshot(terminal_id, now_ms, version=version), demo_server_key())


def demo_config(data_dir: Path, *, security: SecurityConfig | None = None) -> TerminalConfig:
    """A complete configuration for the demo (the PIN hashes are made here, with fresh salts)."""
    security = security or SecurityConfig()
    operators = tuple(
        Operator(name, role, hash_pin(pin, n=security.scrypt_n, r=security.scrypt_r, p=security.scrypt_p))
        for pin, (name, role) in DEMO_PINS.items()
    )
    return TerminalConfig(
        terminal_id=DEMO_TERMINAL_ID, data_dir=data_dir, cooperative="Coöperatie Floreyn Amersfoort",
        issuer_keys=(keys.public_raw(demo_issuer()).hex(),), merchant=DEMO_MERCHANT, operators=operators,
        security=security,
    )
