"""TillContext: what one till operation decides from, read once at its start.

A quote, a card summary or a receipt is worked out from the server's
snapshot (and how old it is), the shop, the business date, the offline
limits and the exchange rates. The engine reads them from the store once per
operation into this immutable value and hands it to pure functions
(quoting.py, summary.py, pricing.py): a snapshot that arrives from the sync
thread in the middle of a sale cannot give the sale two different dates or
two different shops. confirm() reads a fresh one for its re-checks inside the
write transaction, as it must.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from floreyn.money import ExchangeRates
from floreyn.sync.snapshot import MerchantConfig, OfflineLimits, Snapshot
from floreyn.terminal.engine.errors import ConfigError


@dataclass(frozen=True, slots=True)
class TillContext:
    snapshot: Snapshot | None  # None before the first one arrived (a fresh till with a [merchant] section)
    age_s: float | None  # seconds since it arrived; None: unknown (restarted without a connection) = stale
    merchant: MerchantConfig
    today: dt.date  # the business date (see business_date)
    limits: OfflineLimits
    rates: ExchangeRates


def business_date(snapshot: Snapshot | None, age_s: float | None, wall_ms: int, timezone: str) -> dt.date:
    """Server time plus the snapshot's age when known (a Pi's own clock may be days off), else the wall clock."""
    ms = snapshot.server_time_ms + int(age_s * 1000) if snapshot is not None and age_s is not None else wall_ms
    return dt.datetime.fromtimestamp(ms / 1000, ZoneInfo(timezone)).date()


def till_context(snapshot: Snapshot | None, age_s: float | None, *, configured: MerchantConfig | None,
                 wall_ms: int, timezone: str) -> TillContext:
    """The context for one operation; ConfigError when neither the snapshot nor terminal.toml names the shop."""
    merchant = snapshot.merchant if snapshot is not None else configured
    if merchant is None:
        raise ConfigError(detail="no [merchant] section and no snapshot from the server yet")
    return TillContext(
        snapshot=snapshot, age_s=age_s, merchant=merchant,
        today=business_date(snapshot, age_s, wall_ms, timezone),
        limits=snapshot.limits if snapshot is not None else OfflineLimits(),
        rates=snapshot.rates if snapshot is not None else ExchangeRates(),
    )
