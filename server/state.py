"""Small shared server state: the clock, the data version, settings and alerts."""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import asdict, dataclass, field
from typing import Final, Iterable
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select, update

from floreyn.money import ExchangeRates
from floreyn.server import bulk
from floreyn.server import schema as s
from floreyn.sync.snapshot import OfflineLimits

TZ: Final = ZoneInfo("Europe/Amsterdam")  # budgets expire and campaigns end on Amersfoort's calendar
MAX_ALERT_DETAIL: Final = 4_000


def now_ms() -> int:
    return int(time.time() * 1000)


def local_date(ms: int) -> dt.date:
    return dt.datetime.fromtimestamp(ms / 1000, TZ).date()


def day_start_ms(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=TZ).timestamp() * 1000)


# -- data version --------------------------------------------------------------------


# One statement (every upload that changes a balance runs it): SQLite has RETURNING since 3.35, as nonces.py uses.
BUMP_VERSION: Final = (f"UPDATE {s.meta.name} SET value = value + 1 WHERE key = 'data_version' RETURNING value")
# touch_members for a transaction that bumped the version but has not read it yet (a pipeline: ingest).
TOUCH_MEMBERS_AT_CURRENT: Final = (f"UPDATE cards SET changed_version = (SELECT value FROM {s.meta.name}"
                                   " WHERE key = 'data_version') WHERE member_id IN ({values})")


def bump_version(conn: Connection) -> int:
    """Next data version. Taken after the ledger writes of a transaction, so the counter row
    is locked only briefly; versions then follow commit order (see snapshots)."""
    return int(bulk.run(conn, BUMP_VERSION).scalar_one())


def current_version(conn: Connection) -> int:
    return int(conn.execute(select(s.meta.c.value).where(s.meta.c.key == "data_version")).scalar_one())


def touch_members(conn: Connection, version: int, member_ids: Iterable[str]) -> None:
    """Mark the cards of these members changed, so the next snapshot delta carries them."""
    bulk.rows_in(conn, "UPDATE cards SET changed_version = {mark} WHERE member_id IN ({values})", (version,),
                 sorted(set(member_ids)))


def touch_all_cards(conn: Connection, version: int) -> None:
    conn.execute(update(s.cards).values(changed_version=version))


# -- settings ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When the rule check and the alerts speak up; defaults fit a neighbourhood of a few hundred members."""

    drain_cards: int = 3  # this many distinct cards emptied by one till within drain_window_s: alert
    drain_window_s: int = 3600
    refund_share_bp: int = 2_000  # refunds above 20 % of a merchant's spends today: alert
    refund_min_cents: int = 2_000  # ... once they exceed fl 20,00 (a single small refund is normal)
    terms_grace_s: int = 24 * 3600  # terms (rates, limits) a terminal was sent stay acceptable this long
    budget_expiry_grace_s: int = 24 * 3600  # a budget spend uploaded this long after the expiry day still posts


@dataclass(frozen=True, slots=True)
class Settings:
    rates: ExchangeRates = ExchangeRates()
    limits: OfflineLimits = OfflineLimits()
    overspend_block_cents: int = 1_000  # a card more than fl 10,00 below zero is blocked
    hold_ttl_s: int = 15 * 60  # an online authorization reserves the amount this long
    # A card blocked for overspend comes back once its member's wallet and budgets have stayed
    # >= 0 this long (server/reinstate.py); 0: only the desk lifts such a block.
    reinstate_after_s: int = 24 * 3600
    issuer_keys: tuple[str, ...] = field(default_factory=tuple)
    thresholds: Thresholds = Thresholds()


_SETTINGS: Final = f"SELECT key, value FROM {s.settings.name}"  # every upload reads them: straight to the driver


def get_settings(conn: Connection) -> Settings:
    stored = dict(bulk.run(conn, _SETTINGS).tuples().all())
    base = Settings()
    return Settings(
        rates=ExchangeRates(**json.loads(stored["rates"])) if "rates" in stored else base.rates,
        limits=OfflineLimits(**json.loads(stored["limits"])) if "limits" in stored else base.limits,
        overspend_block_cents=int(stored.get("overspend_block_cents", base.overspend_block_cents)),
        hold_ttl_s=int(stored.get("hold_ttl_s", base.hold_ttl_s)),
        reinstate_after_s=int(stored.get("reinstate_after_s", base.reinstate_after_s)),
        issuer_keys=tuple(json.loads(stored["issuer_keys"])) if "issuer_keys" in stored else (),
        thresholds=Thresholds(**json.loads(stored["thresholds"])) if "thresholds" in stored else base.thresholds,
    )


def settings_dict(cfg: Settings) -> dict[str, object]:
    return {"rates": asdict(cfg.rates), "limits": asdict(cfg.limits),
            "overspend_block_cents": cfg.overspend_block_cents, "hold_ttl_s": cfg.hold_ttl_s,
            "reinstate_after_s": cfg.reinstate_after_s,
            "issuer_keys": list(cfg.issuer_keys), "thresholds": asdict(cfg.thresholds)}


def put_setting(conn: Connection, key: str, value: object) -> None:
    text = json.dumps(value, sort_keys=True)
    if conn.execute(select(s.settings.c.key).where(s.settings.c.key == key)).first():
        conn.execute(update(s.settings).where(s.settings.c.key == key).values(value=text))
    else:
        conn.execute(s.settings.insert().values(key=key, value=text))


# -- alerts --------------------------------------------------------------------------


def alert(conn: Connection, kind: str, at_ms: int, *, terminal_id: str | None = None,
          card_id: str | None = None, **detail: object) -> None:
    """Something the cooperative must look at (fork, bad signature, overspend...)."""
    text = json.dumps(detail, sort_keys=True, default=str)[:MAX_ALERT_DETAIL]
    conn.execute(s.alerts.insert().values(at_ms=at_ms, kind=kind, terminal_id=terminal_id, card_id=card_id,
                                          detail=text))
