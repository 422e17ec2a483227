"""What a card or budget may spend now, here: one figure for the snapshot, the card summary and authorization.

Before this module the snapshot offered min(wallet, cap) and ignored open
holds, the card summary showed the bare balance and authorization alone
deducted holds, so a till quoted money the server would then decline, and
a till that synced after another till's online payment offered it again
offline (issue 14). Every reader now goes through `free_by_account`.

"Free" is the ledger balance minus the open holds on the account: the
online authorizations another till has been granted and whose spend record
has not been uploaded yet (ingest consumes a hold when its record lands,
so an uploaded spend is in the balance and no longer held). A hold past
its `expires_ms` holds nothing, whether or not the housekeeping job has marked it
expired yet (`expire_holds` does, and stamps the cards it frees).

The pure functions below are the rules; the queries only gather their
inputs, so the property tests (tests/server/test_spendable.py) check the
rules without a database. `balance_of` and `held_on` are the same two inputs
as expressions, for a reader that gathers everything in one statement (the
card summary a till asks for at every tap: authz.card_summary).
"""

from __future__ import annotations

from typing import Final, Iterable

from sqlalchemy import BigInteger, ColumnElement, Connection, ScalarSelect, bindparam, func, select, update

from floreyn.server import ledger, state
from floreyn.server import schema as s


def free_cents(balance_cents: int, held_cents: int) -> int:
    """What the account may still spend online: may be negative (an overspent wallet)."""
    assert held_cents >= 0
    return balance_cents - held_cents


def offline_allowance_cents(free: int, cap_cents: int, *, usable: bool) -> int:
    """What a card may spend offline from its own balance across taps: never above the free amount or the cap."""
    return max(0, min(free, cap_cents)) if usable else 0


def budget_offline_cents(free: int) -> int:
    """What a budget may pay offline: its free amount, never negative."""
    return max(0, free)


def may_authorize(free: int, amount_cents: int) -> bool:
    return 0 < amount_cents <= free


NOW_MS: Final = bindparam("now_ms", type_=BigInteger)  # the moment a hold must still be open at (held_on)


def balance_of(account: ColumnElement[str]) -> ScalarSelect[int]:
    """The ledger balance of `account` as an expression (0 for an account not opened yet)."""
    return select(func.coalesce(func.sum(s.accounts.c.balance_cents), 0)).where(
        s.accounts.c.key == account).scalar_subquery()


def held_on(account: ColumnElement[str]) -> ScalarSelect[int]:
    """`held_by_account` of one account as an expression; the statement binds NOW_MS."""
    return select(func.coalesce(func.sum(s.holds.c.amount_cents), 0)).where(
        s.holds.c.account == account, s.holds.c.status == "active", s.holds.c.expires_ms >= NOW_MS).scalar_subquery()


def held_by_account(conn: Connection, accounts: Iterable[str], now_ms: int) -> dict[str, int]:
    """Open holds per account (0 for an account without any)."""
    keys = sorted(set(accounts))
    out = dict.fromkeys(keys, 0)
    for i in range(0, len(keys), 500):
        chunk = keys[i : i + 500]
        rows = conn.execute(select(s.holds.c.account, func.sum(s.holds.c.amount_cents))
                            .where(s.holds.c.account.in_(chunk), s.holds.c.status == "active",
                                   s.holds.c.expires_ms >= now_ms)
                            .group_by(s.holds.c.account)).tuples().all()
        out.update({a: int(c) for a, c in rows})
    return out


def free_by_account(conn: Connection, accounts: Iterable[str], now_ms: int) -> dict[str, int]:
    """Balance minus open holds, per account: the one figure every reader uses."""
    keys = sorted(set(accounts))
    balances = ledger.balances(conn, keys)
    held = held_by_account(conn, keys, now_ms)
    return {k: free_cents(balances[k], held[k]) for k in keys}


def holders_of(conn: Connection, account: str) -> list[str]:
    """Members whose cards draw on an account: a wallet's owner, a budget's owner or its group's members."""
    kind, _, ident = ledger.account_kind(account)
    if ident is None:
        return []
    if kind == "member":
        return [ident]
    if kind != "budget":
        return []
    b = conn.execute(select(s.budgets.c.owner_member_id, s.budgets.c.owner_group_id)
                     .where(s.budgets.c.budget_id == ident)).first()
    if b is None:
        return []
    if b.owner_member_id:
        return [b.owner_member_id]
    return list(conn.execute(select(s.group_members.c.member_id)
                             .where(s.group_members.c.group_id == b.owner_group_id)).scalars())


def stamp_accounts(conn: Connection, accounts: Iterable[str]) -> None:
    """A hold, release or expiry changed what these accounts may spend: the next delta carries their cards."""
    members = sorted({m for a in set(accounts) if a for m in holders_of(conn, a)})
    if members:
        state.touch_members(conn, state.bump_version(conn), members)


def expire_holds(conn: Connection, now_ms: int) -> int:
    """Mark lapsed holds expired and stamp the cards they free; how many lapsed."""
    lapsed = conn.execute(select(s.holds.c.auth_id, s.holds.c.account)
                          .where(s.holds.c.status == "active", s.holds.c.expires_ms < now_ms)).all()
    if not lapsed:
        return 0
    conn.execute(update(s.holds).where(s.holds.c.status == "active", s.holds.c.expires_ms < now_ms)
                 .values(status="expired"))
    stamp_accounts(conn, [r.account for r in lapsed if r.account])
    return len(lapsed)
