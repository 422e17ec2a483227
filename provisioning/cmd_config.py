"""`config show | set`: exchange rates, offline limits and the overspend rules, from the desk.

    floreyn-provision config show
    floreyn-provision config set --per-tx 25,00 --cumulative 50,00 --max-count 5
    floreyn-provision config set --ask-bp 10000 --bid-bp 9500
    floreyn-provision config set --overspend-block 10,00 --reinstate-after-h 24

One PATCH /v1/admin/config (admin role; audited, idempotent by request id).
Only the flags given change. New offline limits reach every till at its next
sync (the server stamps every card so deltas carry them too).
"""

from __future__ import annotations

from typing import Any

from floreyn.money import Currency
from floreyn.provisioning import parse
from floreyn.provisioning.context import Ctx
from floreyn.provisioning.errors import invalid
from floreyn.provisioning.output import fields, fl

MAX_LIMIT_CENTS = 100_000  # fl 1.000,00: the server's own cap on an offline limit is higher; no till needs more
MAX_HOURS = 90 * 24

_AMOUNTS = (  # flag, section, key
    ("per_tx", "limits", "per_tx_cents"),
    ("cumulative", "limits", "cumulative_cents"),
    ("unknown_card_allowance", "limits", "unknown_card_allowance_cents"),
    ("overspend_block", None, "overspend_block_cents"),
)


def add_parser(sub: Any) -> None:
    c = sub.add_parser("config", help="rates, offline limits, overspend rules").add_subparsers(
        dest="action", required=True)
    c.add_parser("show", help="the server's current settings").set_defaults(run=show)
    p = c.add_parser("set", help="change some settings (only the flags given)")
    p.add_argument("--ask-bp", type=int, metavar="BP", help="fl per euro at a top-up, basis points (10000 = 1:1)")
    p.add_argument("--bid-bp", type=int, metavar="BP", help="euro per fl at a cash-out, basis points")
    p.add_argument("--per-tx", metavar="FL", help="offline: most per tap, e.g. 25,00")
    p.add_argument("--cumulative", metavar="FL", help="offline: most per card between syncs, e.g. 50,00")
    p.add_argument("--max-count", type=int, metavar="N", help="offline: most taps per card between syncs")
    p.add_argument("--max-snapshot-age-h", type=int, metavar="H", help="offline: oldest server data a till uses")
    p.add_argument("--unknown-card-allowance", metavar="FL", help="offline: what a card unknown to the till may spend")
    p.add_argument("--overspend-block", metavar="FL", help="block a card this far below zero")
    p.add_argument("--reinstate-after-h", type=int, metavar="H",
                   help="reinstate a card blocked for overspend after its balances stayed >= 0 this long (0: never)")
    p.set_defaults(run=set_config)


def _hours(value: int, flag: str, low: int) -> int:
    if not low <= value <= MAX_HOURS:
        raise invalid(flag, "{low} to {MAX_HOURS} hours", low=low, MAX_HOURS=MAX_HOURS)
    return value * 3600


def changes(args: Any) -> dict[str, object]:
    """The PATCH body from the flags given; typed refusals name the flag."""
    body: dict[str, Any] = {}
    for flag, section, key in _AMOUNTS:
        text = getattr(args, flag)
        if text is not None:
            cents = parse.money(text, f"--{flag.replace('_', '-')}", Currency.FL, max_cents=MAX_LIMIT_CENTS).cents
            (body.setdefault(section, {}) if section else body)[key] = cents
    for flag, key in (("ask_bp", "ask_bp"), ("bid_bp", "bid_bp")):
        value = getattr(args, flag)
        if value is not None:
            if not 0 <= value <= 1_000_000:
                raise invalid(f"--{flag.replace('_', '-')}", "0 to 1000000")
            body.setdefault("rates", {})[key] = value
    if args.max_count is not None:
        if not 0 <= args.max_count <= 1000:
            raise invalid("--max-count", "0 to 1000")
        body.setdefault("limits", {})["max_count"] = args.max_count
    if args.max_snapshot_age_h is not None:
        body.setdefault("limits", {})["max_snapshot_age_s"] = _hours(args.max_snapshot_age_h, "--max-snapshot-age-h", 1)
    if args.reinstate_after_h is not None:
        body["reinstate_after_s"] = _hours(args.reinstate_after_h, "--reinstate-after-h", 0)
    if not body:
        raise invalid("config set", "give at least one setting")
    return body


def show(ctx: Ctx) -> int:
    cfg = ctx.api.get("/v1/admin/config")
    ctx.out.result(cfg, lambda: _text(cfg))
    return 0


def set_config(ctx: Ctx) -> int:
    cfg = ctx.write("config.set", "PATCH", "/v1/admin/config", changes(ctx.args))
    ctx.out.result(cfg, lambda: _text(cfg))
    return 0


def _text(cfg: dict[str, Any]) -> str:
    limits, rates = cfg["limits"], cfg["rates"]
    return fields([
        ("koers opwaarderen (bp)", str(rates["ask_bp"])),
        ("koers inwisselen (bp)", str(rates["bid_bp"])),
        ("offline per betaling", fl(limits["per_tx_cents"])),
        ("offline samen", fl(limits["cumulative_cents"])),
        ("offline aantal", str(limits["max_count"])),
        ("offline gegevens hoogstens", f"{limits['max_snapshot_age_s'] // 3600} uur oud"),
        ("onbekende pas offline", fl(limits["unknown_card_allowance_cents"])),
        ("blokkeren onder", fl(-cfg["overspend_block_cents"])),
        ("weer actief na", f"{cfg.get('reinstate_after_s', 0) // 3600} uur >= 0"
         if cfg.get("reinstate_after_s") else "alleen via de balie"),
        ("reservering online", f"{cfg['hold_ttl_s'] // 60} min"),
    ])



