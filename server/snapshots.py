"""The per-terminal snapshot: full, or the delta since a version the terminal holds.

Versions: every write that changes what a terminal should know about a card
takes the next value of the `data_version` counter (after its ledger
writes, so the counter row is locked only at the end of the transaction)
and stamps the affected cards with it. Because the counter is one row,
versions are handed out in commit order; a reader takes the counter first
and then the cards changed after the terminal's version, so nothing
committed at or below the version it reports can be missed (a card seen
twice is harmless: deltas replace whole cards).

Merchant, rates, limits, campaigns and issuer keys are small and go whole in
every delta. A delta larger than MAX_DELTA_CARDS, or asked for a version the
server does not know (newer than its own, after a restore), is answered
with a full snapshot instead.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any, Sequence

from sqlalchemy import Connection, Row, func, select

from floreyn.server import admin_categories, budget_rules, bulk, ledger, spendable, state
from floreyn.server import schema as s
from floreyn.server.errors import NotFound
from floreyn.server.rates import rate_in_force
from floreyn.sync.snapshot import (
    MAX_DELTA_CARDS, SNAPSHOT_VERSION, BudgetInfo, Campaign, CardInfo, MerchantConfig, Snapshot, SnapshotDelta,
)


def build(conn: Connection, terminal_id: str, since: int | None, now_ms: int) -> Snapshot | SnapshotDelta:
    version = state.current_version(conn)  # first: see the module docstring
    term = conn.execute(select(s.terminals.c.merchant_id).where(s.terminals.c.terminal_id == terminal_id)).first()
    if term is None:
        raise NotFound(what="terminal", id=terminal_id)
    merchant = merchant_config(conn, term.merchant_id)
    cfg = state.get_settings(conn)
    today = state.local_date(now_ms).isoformat()
    campaigns = active_campaigns(conn, term.merchant_id, today)
    delta_rows = None
    if since is not None and 0 <= since <= version:
        count = conn.execute(select(func.count()).select_from(s.cards)
                             .where(s.cards.c.changed_version > since)).scalar_one()
        if count <= MAX_DELTA_CARDS:
            delta_rows = conn.execute(select(s.cards).where(s.cards.c.changed_version > since)).all()
    common = dict(version=SNAPSHOT_VERSION, terminal_id=terminal_id, snapshot_version=version,
                  server_time_ms=now_ms, merchant=merchant, rates=rate_in_force(conn, now_ms), limits=cfg.limits,
                  campaigns=campaigns, issuer_keys=cfg.issuer_keys,
                  extra={"categories": admin_categories.all_names(conn)})  # the list, for tills to show names
    if delta_rows is not None:
        assert since is not None
        cards = card_infos(conn, delta_rows, merchant.all_categories(), today, cfg.limits.cumulative_cents,
                           now_ms)
        return SnapshotDelta(base_version=since, cards=cards, **common)  # type: ignore[arg-type]  # common: shared fields
    rows = conn.execute(select(s.cards).order_by(s.cards.c.card_id)).all()
    cards = card_infos(conn, rows, merchant.all_categories(), today, cfg.limits.cumulative_cents, now_ms)
    return Snapshot(cards=cards, blocklist=tuple(c.card_id for c in cards if c.blocked),
                    **common)  # type: ignore[arg-type]  # common: shared fields


def merchant_config(conn: Connection, merchant_id: str) -> MerchantConfig:
    m = conn.execute(select(s.merchants).where(s.merchants.c.merchant_id == merchant_id)).first()
    if m is None:
        raise NotFound(what="merchant", id=merchant_id)
    return MerchantConfig(merchant_id=m.merchant_id, name=m.name, category=m.category,
                          categories=admin_categories.of_merchant(conn, merchant_id, m.category),
                          save_rate_bp=m.save_rate_bp, topup_allowed=bool(m.topup_allowed))


def active_campaigns(conn: Connection, merchant_id: str, today: str) -> tuple[Campaign, ...]:
    out = []
    for c in conn.execute(select(s.campaigns).where(s.campaigns.c.ends_on >= today)
                          .order_by(s.campaigns.c.campaign_id)):
        merchants = tuple(json.loads(c.merchant_ids))
        if not merchants or merchant_id in merchants:
            out.append(Campaign(campaign_id=c.campaign_id, name=c.name, multiplier_bp=c.multiplier_bp,
                                starts_on=c.starts_on, ends_on=c.ends_on, merchant_ids=merchants,
                                pot_left_cents=ledger.balance(conn, ledger.pot_acct(c.campaign_id)).cents
                                if c.pot else None, redeem_bonus_bp=c.redeem_bonus_bp))
    return tuple(out)


def member_budgets(conn: Connection, member_ids: list[str], today: str) -> dict[str, list]:
    """Live budgets each member may draw on: their own and their groups'."""
    groups_of: dict[str, list[str]] = defaultdict(list)
    for chunk in bulk.chunks(member_ids):
        for gid, mid in conn.execute(select(s.group_members.c.group_id, s.group_members.c.member_id)
                                     .where(s.group_members.c.member_id.in_(chunk))):
            groups_of[mid].append(gid)
    group_ids = sorted({g for gs in groups_of.values() for g in gs})
    live = (s.budgets.c.status == "active") & (s.budgets.c.expires_on >= today)
    by_member: dict[str, list] = defaultdict(list)
    by_group: dict[str, list] = defaultdict(list)
    for chunk in bulk.chunks(member_ids):
        for b in conn.execute(select(s.budgets).where(live, s.budgets.c.owner_member_id.in_(chunk))):
            by_member[b.owner_member_id].append(b)
    for chunk in bulk.chunks(group_ids):
        for b in conn.execute(select(s.budgets).where(live, s.budgets.c.owner_group_id.in_(chunk))):
            by_group[b.owner_group_id].append(b)
    return {mid: by_member.get(mid, []) + [b for g in groups_of.get(mid, []) for b in by_group.get(g, [])]
            for mid in member_ids}


def card_infos(conn: Connection, rows: Sequence[Row[Any]], categories: tuple[str, ...], today: str,
               cap_cents: int, now_ms: int) -> tuple[CardInfo, ...]:
    """Each card's figures, from the same free amounts authorization decides on (server/spendable.py).

    Every live budget a card has goes along with its categories, also when it is empty or does not
    pay at this merchant (`categories`), so a till offline refuses it for the same reason the server
    would online (budget_wrong_category), not as an unknown budget.
    """
    del categories  # the till decides with the merchant's categories it holds (floreyn.categories.covers)
    member_ids = sorted({r.member_id for r in rows})
    aliases: dict[str, str] = {}
    for chunk in bulk.chunks(member_ids):
        aliases.update(conn.execute(select(s.members.c.member_id, s.members.c.alias)
                                    .where(s.members.c.member_id.in_(chunk))).tuples().all())
    budgets = member_budgets(conn, member_ids, today)
    keys = [ledger.member_acct(m) for m in member_ids]
    keys += [ledger.budget_acct(b.budget_id) for bs in budgets.values() for b in bs]
    free = spendable.free_by_account(conn, keys, now_ms)
    out = []
    for r in sorted(rows, key=lambda r: r.card_id):
        blocked = r.status != "active"
        # Offline a card may spend what it holds free, up to the cumulative limit; a flagged card nothing.
        allowance = spendable.offline_allowance_cents(free[ledger.member_acct(r.member_id)], cap_cents,
                                                      usable=not blocked and not r.flagged_ms)
        infos = [BudgetInfo(budget_id=b.budget_id, label=b.label, categories=tuple(json.loads(b.categories)),
                            expires_on=b.expires_on, funder=b.funder_id,
                            remaining_cents=spendable.budget_offline_cents(free[ledger.budget_acct(b.budget_id)]),
                            member_cap_left_cents=budget_rules.member_cap_left(conn, b, r.member_id, now_ms),
                            confirm_above_cents=b.confirm_above_cents if b.owner_group_id else None)
                 for b in budgets.get(r.member_id, [])]
        out.append(CardInfo(card_id=r.card_id, alias=aliases.get(r.member_id, ""), blocked=blocked,
                            offline_allowance_cents=allowance, state_version=int(r.changed_version),
                            balance_cents=free[ledger.member_acct(r.member_id)],
                            offline_uploaded_cents=int(r.offline_spent_cents),
                            budgets=tuple(sorted(infos, key=lambda b: b.budget_id)) if not blocked else ()))
    return tuple(out)
