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
every delta or page. Each card's figures (`card_infos`) are kept as entries
and served from there (server/snapshot_cache.py), in pages and in the JSON
snapshot alike.
"""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from operator import attrgetter, itemgetter
from typing import Any, Final, Sequence

from sqlalchemy import Connection, Row, select, text

from floreyn.server import admin_categories, budget_rules, bulk, ledger, spendable
from floreyn.server import schema as s
from floreyn.server.errors import NotFound
from floreyn.sync.snapshot import BudgetInfo, Campaign, CardInfo, MerchantConfig


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

    Set-based: three queries for all the cards' members whatever their number (`_wallets`, `_budgets`, and
    what the members spent from capped group budgets, `budget_rules.members_spent`), each with the member
    ids as one parameter or list. Per-card IN lists of aliases, groups, budgets, balances and holds took
    PostgreSQL 60-80 ms for a delta of 100 cards, most of it parsing and planning lists of up to 300
    parameters; the caps took three queries per capped budget of each card (issue 19).
    """
    del categories  # the till decides with the merchant's categories it holds (floreyn.categories.covers)
    cards = _card_columns(rows)
    member_ids = sorted({member_id for _, member_id, *_ in cards})
    wallets = _wallets(conn, member_ids, now_ms)
    budgets = _budgets(conn, member_ids, today, now_ms)
    spent = budget_rules.members_spent(conn, [(b[1], m) for m, bs in budgets.items() for b in bs
                                              if budget_rules.has_member_cap(b[6], b[7])], now_ms)
    out = []
    for card_id, member_id, status, flagged_ms, version, uploaded in cards:
        blocked = status != "active"
        alias, free = wallets.get(member_id, ("", 0))
        # Offline a card may spend what it holds free, up to the cumulative limit; a flagged card nothing.
        allowance = spendable.offline_allowance_cents(free, cap_cents, usable=not blocked and not flagged_ms)
        out.append(CardInfo(card_id=card_id, alias=alias, blocked=blocked, offline_allowance_cents=allowance,
                            state_version=int(version), balance_cents=free, offline_uploaded_cents=int(uploaded),
                            budgets=() if blocked else _budget_infos(budgets.get(member_id, ()), member_id, spent)))
    return tuple(out)


_CARD_COLUMNS: Final = ("card_id", "member_id", "status", "flagged_ms", "changed_version", "offline_spent_cents")


def _card_columns(rows: Sequence[Row[Any]]) -> list[tuple[Any, ...]]:
    """The columns `card_infos` reads of each card, as plain tuples by card id: the rows come from more than
    one statement (a page's, the job's), so the positions are looked up once by name, not per row and column."""
    if not rows:
        return []
    fields = rows[0]._fields
    return sorted(map(itemgetter(*(fields.index(c) for c in _CARD_COLUMNS)), rows))


def _budget_infos(rows: Sequence[Row[Any]], member_id: str, spent: dict[tuple[str, str], int]
                  ) -> tuple[BudgetInfo, ...]:
    """A card's budgets (rows of `_budgets`), by budget id. Read by position: a delta's cards are made per
    request, and by name each column of a row cost a lookup."""
    infos = []
    for _, budget_id, label, categories, expires_on, funder, group_id, cap, confirm_above, balance, held in rows:
        infos.append(BudgetInfo(
            budget_id=budget_id, label=label, categories=_categories(categories), expires_on=expires_on,
            funder=funder, remaining_cents=spendable.budget_offline_cents(spendable.free_cents(int(balance), int(held))),
            member_cap_left_cents=budget_rules.member_cap_left(group_id, cap, spent.get((budget_id, member_id), 0)),
            confirm_above_cents=confirm_above if group_id else None))
    return tuple(sorted(infos, key=_budget_id))


_budget_id = attrgetter("budget_id")


@functools.lru_cache(maxsize=1024)
def _categories(stored: str) -> tuple[str, ...]:
    """A budget's categories as stored (a JSON list): the same few lists for the budgets of a whole city, so
    each is parsed once (json.loads was some 40 % of making a card's budgets)."""
    return tuple(json.loads(stored))


def _among(conn: Connection, column: str) -> str:
    """`column` among the ids bound as :ids, one parameter however many (`_ids`): a PostgreSQL array, a JSON
    list in SQLite."""
    if conn.dialect.name == "postgresql":
        return f"{column} = ANY(:ids)"
    return f"{column} IN (SELECT value FROM json_each(:ids))"


def _ids(conn: Connection, ids: list[str]) -> Any:
    return ids if conn.dialect.name == "postgresql" else json.dumps(ids)


# What an account holds open (spendable.held_by_account, per row): `acct` is the account key's SQL.
_HELD = ("(SELECT COALESCE(SUM(h.amount_cents), 0) FROM holds h WHERE h.account = {acct} AND h.status = 'active' "
         "AND h.expires_ms >= :now)")


def _wallets(conn: Connection, member_ids: list[str], now_ms: int) -> dict[str, tuple[str, int]]:
    """(alias, free cents of the wallet) per member: balance minus open holds, as spendable.free_by_account."""
    acct = ":wallet || m.member_id"  # ledger.member_acct, its prefix bound as :wallet
    sql = (f"SELECT m.member_id, m.alias, COALESCE(a.balance_cents, 0), {_HELD.format(acct=acct)} FROM members m "
           f"LEFT JOIN accounts a ON a.key = {acct} WHERE {_among(conn, 'm.member_id')}")
    rows = conn.execute(text(sql), {"ids": _ids(conn, member_ids), "now": now_ms, "wallet": ledger.member_acct("")})
    return {m: (alias, spendable.free_cents(int(balance), int(held))) for m, alias, balance, held in rows.all()}


def _budgets(conn: Connection, member_ids: list[str], today: str, now_ms: int) -> dict[str, list[Row[Any]]]:
    """Live budgets each member may draw on, their own and their groups' (as `member_budgets`), each with
    its balance and open holds: (member, budget_id, label, categories, expires_on, funder_id, owner_group_id,
    member_cap_cents, confirm_above_cents, balance, held)."""
    acct = ":budget || b.budget_id"  # ledger.budget_acct, its prefix bound as :budget
    columns = ("b.budget_id, b.label, b.categories, b.expires_on, b.funder_id, b.owner_group_id, b.member_cap_cents, "
               f"b.confirm_above_cents, COALESCE(a.balance_cents, 0) AS balance, {_HELD.format(acct=acct)} AS held")
    joins = f"LEFT JOIN accounts a ON a.key = {acct} WHERE b.status = 'active' AND b.expires_on >= :today"
    sql = (f"SELECT b.owner_member_id AS member_id, {columns} FROM budgets b {joins} "
           f"AND {_among(conn, 'b.owner_member_id')} UNION ALL "
           f"SELECT g.member_id, {columns} FROM group_members g JOIN budgets b ON b.owner_group_id = g.group_id "
           f"{joins} AND {_among(conn, 'g.member_id')}")
    out: dict[str, list[Row[Any]]] = defaultdict(list)
    for row in conn.execute(text(sql), {"ids": _ids(conn, member_ids), "now": now_ms, "today": today,
                                        "budget": ledger.budget_acct("")}).all():  # (one fetch, not one per row)
        out[row[0]].append(row)  # the member: `_budget_infos` reads the rest by position
    return out
