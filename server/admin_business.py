"""Merchants (and freelancers), funders, terminals, joint campaigns and the server's settings."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from sqlalchemy import Connection, select, update

from floreyn import keys
from floreyn.money import ExchangeRates, RateError
from floreyn.server import admin_categories, bank, ledger, state
from floreyn.server import schema as s
from floreyn.server.errors import ExistsWithDifferentParams, NotFound, RequestInvalid, StateRefused
from floreyn.server.rates import rate_in_force, set_rate
from floreyn.server.rows import TableRow
from floreyn.sync.record import GENESIS_HASH
from floreyn.sync.snapshot import OfflineLimits

MERCHANT_FIELDS = ("name", "category", "save_rate_bp", "topup_allowed", "kind", "iban", "account_holder", "mandate_id",
                   "mandate_signed_on", "keep_fl_cents")


def _get(conn: Connection, table, key_col: str, key: str, what: str):
    row = conn.execute(select(table).where(table.c[key_col] == key)).first()
    if row is None:
        raise NotFound(what=what, id=key)
    return row


def _create(conn: Connection, table, key_col: str, key: str, what: str, values: dict[str, Any],
            now: int, created_col: str = "created_ms", insert_only: dict[str, Any] | None = None) -> str:
    """Insert, or recognise an identical earlier insert; 'created' or 'exists'."""
    prior = conn.execute(select(table).where(table.c[key_col] == key)).first()
    if prior is not None:
        if any(getattr(prior, k) != v for k, v in values.items()):
            raise ExistsWithDifferentParams(what=what, id=key)
        return "exists"
    conn.execute(table.insert().values({key_col: key, created_col: now, **values, **(insert_only or {})}))
    return "created"


def merchant_dict(m) -> dict[str, object]:
    return {"merchant_id": m.merchant_id, "name": m.name, "category": m.category,
            "save_rate_bp": m.save_rate_bp, "topup_allowed": bool(m.topup_allowed), "kind": m.kind,
            "iban": m.iban, "account_holder": m.account_holder, "mandate_id": m.mandate_id,
            "mandate_signed_on": m.mandate_signed_on, "keep_fl_cents": m.keep_fl_cents}


def create_merchant(conn: Connection, merchant_id: str, values: dict[str, Any], now: int) -> dict[str, object]:
    values = bank.bank_fields({k: v for k, v in values.items() if v is not None})
    others = values.pop("categories", None) or []
    admin_categories.require_known(conn, [values["category"], *others])
    result = _create(conn, s.merchants, "merchant_id", merchant_id, "merchant", values, now)
    if result == "created":
        admin_categories.set_merchant(conn, merchant_id, values["category"], others)
    ledger.ensure_accounts(conn, [ledger.merchant_acct(merchant_id), ledger.merchant_eur_acct(merchant_id)], now)
    return {**_with_categories(conn, _get(conn, s.merchants, "merchant_id", merchant_id, "merchant")),
            "result": result}


def _with_categories(conn: Connection, m: TableRow) -> dict[str, object]:
    return {**merchant_dict(m), "categories": list(admin_categories.of_merchant(conn, m.merchant_id, m.category))}


def update_merchant(conn: Connection, merchant_id: str, values: dict[str, Any]) -> dict[str, object]:
    m = _get(conn, s.merchants, "merchant_id", merchant_id, "merchant")
    others = values.get("categories")
    values = {k: v for k, v in values.items() if k in MERCHANT_FIELDS and v is not None}
    values = bank.bank_fields(values, m.account_holder)
    if values.get("mandate_id") and not (values.get("iban") or m.iban):
        raise RequestInvalid(detail="a direct debit mandate needs the merchant's IBAN")
    if others is not None or "category" in values:
        main = values.get("category", m.category)
        if others is None:
            others = [c for c in admin_categories.of_merchant(conn, merchant_id, m.category) if c != m.category]
        admin_categories.set_merchant(conn, merchant_id, main, others)
        state.bump_version(conn)
    if values:
        conn.execute(update(s.merchants).where(s.merchants.c.merchant_id == merchant_id).values(**values))
        state.bump_version(conn)  # merchant config travels whole in every delta
    return _with_categories(conn, _get(conn, s.merchants, "merchant_id", merchant_id, "merchant"))


def list_merchants(conn: Connection) -> list[dict[str, object]]:
    return [_with_categories(conn, m) for m in conn.execute(select(s.merchants).order_by(s.merchants.c.merchant_id))]


def merchant_view(conn: Connection, merchant_id: str) -> dict[str, object]:
    m = _with_categories(conn, _get(conn, s.merchants, "merchant_id", merchant_id, "merchant"))
    m["balance_cents"] = ledger.balance(conn, ledger.merchant_acct(merchant_id)).cents
    m["eur_owed_cents"] = ledger.balance(conn, ledger.merchant_eur_acct(merchant_id)).cents
    m["terminals"] = list(conn.execute(select(s.terminals.c.terminal_id)
                                       .where(s.terminals.c.merchant_id == merchant_id)).scalars())
    return m


def create_funder(conn: Connection, funder_id: str, name: str, now: int) -> dict[str, object]:
    result = _create(conn, s.funders, "funder_id", funder_id, "funder", {"name": name}, now)
    ledger.ensure_accounts(conn, [ledger.funder_acct(funder_id)], now)
    return {"funder_id": funder_id, "name": name, "result": result}


def list_funders(conn: Connection) -> list[dict[str, object]]:
    rows = conn.execute(select(s.funders).order_by(s.funders.c.funder_id)).all()
    bal = ledger.balances(conn, [ledger.funder_acct(f.funder_id) for f in rows])
    return [{"funder_id": f.funder_id, "name": f.name, "balance_cents": bal[ledger.funder_acct(f.funder_id)]}
            for f in rows]


# -- terminals -----------------------------------------------------------------------


def terminal_dict(t) -> dict[str, object]:
    return {"terminal_id": t.terminal_id, "merchant_id": t.merchant_id, "public_key": bytes(t.public_key).hex(),
            "status": t.status, "status_reason": t.status_reason, "head_seq": t.head_seq,
            "enrolled_ms": t.enrolled_ms, "last_seen_ms": t.last_seen_ms}


def enroll_terminal(conn: Connection, terminal_id: str, merchant_id: str, public_hex: str, now: int
                    ) -> dict[str, object]:
    try:
        public = bytes.fromhex(public_hex)
        keys.public_from_raw(public)
    except ValueError:
        raise RequestInvalid(detail="public_key must be 64 hex characters of an Ed25519 key") from None
    _get(conn, s.merchants, "merchant_id", merchant_id, "merchant")
    result = _create(conn, s.terminals, "terminal_id", terminal_id, "terminal",
                     {"merchant_id": merchant_id, "public_key": public}, now, created_col="enrolled_ms",
                     insert_only={"status": "active", "head_seq": 0, "head_hash": GENESIS_HASH})
    return {**terminal_dict(_get(conn, s.terminals, "terminal_id", terminal_id, "terminal")), "result": result}


def revoke_terminal(conn: Connection, terminal_id: str, reason: str) -> dict[str, object]:
    t = _get(conn, s.terminals, "terminal_id", terminal_id, "terminal")
    if t.status != "revoked":
        conn.execute(update(s.terminals).where(s.terminals.c.terminal_id == terminal_id)
                     .values(status="revoked", status_reason=reason))
    return terminal_dict(_get(conn, s.terminals, "terminal_id", terminal_id, "terminal"))


def list_terminals(conn: Connection) -> list[dict[str, object]]:
    return [terminal_dict(t) for t in conn.execute(select(s.terminals).order_by(s.terminals.c.terminal_id))]


def terminal_view(conn: Connection, terminal_id: str) -> dict[str, object]:
    return terminal_dict(_get(conn, s.terminals, "terminal_id", terminal_id, "terminal"))


# -- campaigns -----------------------------------------------------------------------


def campaign_dict(c) -> dict[str, object]:
    return {"campaign_id": c.campaign_id, "name": c.name, "multiplier_bp": c.multiplier_bp,
            "starts_on": c.starts_on, "ends_on": c.ends_on, "merchant_ids": json.loads(c.merchant_ids),
            "pot": bool(c.pot), "redeem_bonus_bp": c.redeem_bonus_bp}


def create_campaign(conn: Connection, campaign_id: str, values: dict[str, Any], now: int) -> dict[str, object]:
    if values["ends_on"] < values["starts_on"]:
        raise RequestInvalid(detail="ends_on is before starts_on")
    if values.get("redeem_bonus_bp") and not values.get("pot"):
        raise RequestInvalid(detail="a redeeming bonus is paid from a pot: give pot=true")
    for mid in values["merchant_ids"]:
        _get(conn, s.merchants, "merchant_id", mid, "merchant")
    stored = {**values, "merchant_ids": json.dumps(sorted(values["merchant_ids"]))}
    result = _create(conn, s.campaigns, "campaign_id", campaign_id, "campaign", stored, now)
    state.bump_version(conn)
    return {**campaign_dict(_get(conn, s.campaigns, "campaign_id", campaign_id, "campaign")), "result": result}


def end_campaign(conn: Connection, campaign_id: str, ends_on: str) -> dict[str, object]:
    c = _get(conn, s.campaigns, "campaign_id", campaign_id, "campaign")
    if ends_on < c.starts_on:
        raise StateRefused(detail="a campaign cannot end before it starts")
    if ends_on >= c.ends_on:  # "end early" never lengthens a campaign: say nothing changed (update does that)
        return {**campaign_dict(c), "result": "unchanged"}
    conn.execute(update(s.campaigns).where(s.campaigns.c.campaign_id == campaign_id).values(ends_on=ends_on))
    state.bump_version(conn)
    return {**campaign_dict(_get(conn, s.campaigns, "campaign_id", campaign_id, "campaign")), "result": "ended"}


def update_campaign(conn: Connection, campaign_id: str, changes: dict[str, Any]) -> dict[str, object]:
    """Change a campaign's name, multiplier, dates or merchants (None: keep); the tills learn it at their next sync."""
    c = _get(conn, s.campaigns, "campaign_id", campaign_id, "campaign")
    current = campaign_dict(c)
    values = {k: v for k, v in changes.items() if v is not None and k in current and k != "campaign_id"}
    merged = {**current, **values}
    if merged["ends_on"] < merged["starts_on"]:
        raise RequestInvalid(detail="ends_on is before starts_on")
    for mid in values.get("merchant_ids", []):
        _get(conn, s.merchants, "merchant_id", mid, "merchant")
    changed = sorted(k for k, v in values.items() if current[k] != (sorted(v) if k == "merchant_ids" else v))
    if changed:
        stored = {k: (json.dumps(sorted(v)) if k == "merchant_ids" else v) for k, v in values.items()}
        conn.execute(update(s.campaigns).where(s.campaigns.c.campaign_id == campaign_id).values(**stored))
        state.bump_version(conn)
    view = campaign_dict(_get(conn, s.campaigns, "campaign_id", campaign_id, "campaign"))
    return {**view, "changed": changed, "result": "updated" if changed else "unchanged"}


def list_campaigns(conn: Connection) -> list[dict[str, object]]:
    return [campaign_dict(c) for c in conn.execute(select(s.campaigns).order_by(s.campaigns.c.campaign_id))]


# -- settings ------------------------------------------------------------------------


def update_settings(conn: Connection, changes: dict[str, Any], now: int) -> dict[str, object]:
    current = state.get_settings(conn)
    try:
        if changes.get("rates") is not None:
            rates = ExchangeRates(**{**asdict(rate_in_force(conn, now)), **changes["rates"]})
            state.put_setting(conn, "rates", asdict(rates))
            set_rate(conn, ask_bp=rates.ask_bp, bid_bp=rates.bid_bp, from_ms=now, now_ms=now,
                     replace_same_moment=True)
        if changes.get("limits") is not None:
            limits = OfflineLimits(**{**asdict(current.limits), **changes["limits"]})
            state.put_setting(conn, "limits", asdict(limits))
        if changes.get("thresholds") is not None:
            thresholds = state.Thresholds(**{**asdict(current.thresholds), **changes["thresholds"]})
            state.put_setting(conn, "thresholds", asdict(thresholds))
    except RateError:
        raise
    except TypeError as exc:
        raise RequestInvalid(detail=str(exc)) from None
    for key in ("overspend_block_cents", "hold_ttl_s", "reinstate_after_s"):
        if changes.get(key) is not None:
            state.put_setting(conn, key, changes[key])
    if changes.get("issuer_keys") is not None:
        for k in changes["issuer_keys"]:
            try:
                keys.public_from_raw(bytes.fromhex(k))
            except ValueError:
                raise RequestInvalid(detail=f"issuer key {k[:16]}... is not an Ed25519 public key") from None
        state.put_setting(conn, "issuer_keys", list(changes["issuer_keys"]))
    version = state.bump_version(conn)
    if changes.get("limits") is not None:
        state.touch_all_cards(conn, version)  # allowances are capped by the limits
    return settings_view(conn, now)


def settings_view(conn: Connection, now: int) -> dict[str, object]:
    """The settings, with the rates in force now (rates.py owns them)."""
    return {**state.settings_dict(state.get_settings(conn)), "rates": asdict(rate_in_force(conn, now))}
