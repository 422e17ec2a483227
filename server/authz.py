"""Online authorization of a spend above the offline limits, and the card summary a till may ask for.

An approval reserves the amount (a hold) for `hold_ttl_s`, so two tills
cannot both spend the same Floreyn while the first record is on its way.
The hold is consumed when the spend record arrives (ingest matches it by
request id, else by terminal, card and amount), released when the till
drops the quote unconfirmed (`release`), or expires. The request id makes a
retry return the same decision and never reserve twice; asking again under
the id of a released hold decides afresh on the same row.

Hold statuses: active | consumed | declined | expired | released.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Callable, Final

from sqlalchemy import ColumnElement, Connection, String, bindparam, exists, func, literal, or_, select, update

from floreyn.categories import covers
from floreyn.server import budget_rules, bulk, ledger, snapshots, spendable, state
from floreyn.server import schema as s
from floreyn.server.errors import ExistsWithDifferentParams, HoldConsumed, NotFound


# Active holds one terminal may have at once. A till has one quote open at a time, so a
# handful is normal; reaching this means a till asks and never spends or releases. Then
# new requests are declined with reason "too_many_holds" (the till shows it and takes
# the sale offline or not at all) until holds are consumed, released or expire
# (hold_ttl_s). Ingest reads a terminal's active holds in one query of this many rows.
MAX_ACTIVE_HOLDS_PER_TERMINAL: Final = 1000


def _params_hash(card_hex: str, amount_cents: int, budget_id: str | None) -> str:
    text = json.dumps({"card": card_hex, "amount": amount_cents, "budget": budget_id}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def authorize(conn: Connection, terminal_id: str, card_hex: str, amount_cents: int, request_id: str,
              budget_id: str | None, now: int, confirm_card_hex: str | None = None) -> dict[str, object]:
    """The decision, with the card's state version after it: an online till writes that version into
    the card's trail, so a till whose snapshot predates this hold knows its figure is stale."""
    answer = _authorize(conn, terminal_id, card_hex, amount_cents, request_id, budget_id, now, confirm_card_hex)
    version = conn.execute(select(s.cards.c.changed_version).where(s.cards.c.card_id == card_hex)).scalar()
    return {**answer, "card_version": int(version or 0)}


def _authorize(conn: Connection, terminal_id: str, card_hex: str, amount_cents: int, request_id: str,
               budget_id: str | None, now: int, confirm_card_hex: str | None = None) -> dict[str, object]:
    phash = _params_hash(card_hex, amount_cents, budget_id)
    prior = conn.execute(select(s.holds).where(s.holds.c.terminal_id == terminal_id,
                                               s.holds.c.request_id == request_id)).first()
    if prior is not None:
        if prior.params_hash != phash:
            raise ExistsWithDifferentParams(what="authorization", id=request_id)
        if prior.status not in _decided_afresh(confirm_card_hex):
            return _answer(prior.auth_id, prior.status in ("active", "consumed", "expired"), prior.reason, "exists")
    spendable.expire_holds(conn, now)
    cfg = state.get_settings(conn)
    account, reason = _payer(conn, terminal_id, card_hex, budget_id, now, amount_cents, confirm_card_hex)
    if account is not None:
        ledger.ensure_accounts(conn, [account], now)
        # Lock the payer's balance row: two tills authorizing on one account queue here.
        conn.execute(select(s.accounts.c.balance_cents).where(s.accounts.c.key == account)
                     .with_for_update()).scalar_one()
        if not spendable.may_authorize(spendable.free_by_account(conn, [account], now)[account], amount_cents):
            reason = "insufficient_funds"
    if reason is None and _active_holds(conn, terminal_id) >= MAX_ACTIVE_HOLDS_PER_TERMINAL:
        reason = "too_many_holds"
    approved = reason is None
    if approved:
        spendable.stamp_accounts(conn, [account or ""])  # the hold lowers the card's figure in every snapshot
    if prior is not None:  # released (a cancelled quote asked again under its ids) or declined: decide afresh
        conn.execute(update(s.holds).where(s.holds.c.auth_id == prior.auth_id,
                                           s.holds.c.status.in_(_decided_afresh(confirm_card_hex)))
                     .values(status="active" if approved else "declined", reason=reason, account=account,
                             created_ms=now, expires_ms=now + cfg.hold_ttl_s * 1000))
        return _answer(prior.auth_id, approved, reason, "created")
    auth_id = str(uuid.uuid4())
    conn.execute(s.holds.insert().values(
        auth_id=auth_id, request_id=request_id, terminal_id=terminal_id, card_id=card_hex, account=account,
        amount_cents=amount_cents, status="active" if approved else "declined", reason=reason, params_hash=phash,
        created_ms=now, expires_ms=now + cfg.hold_ttl_s * 1000))
    return _answer(auth_id, approved, reason, "created")


def _decided_afresh(confirm_card_hex: str | None) -> tuple[str, ...]:
    """Hold statuses a request asked again under the same id decides afresh instead of repeating. A released
    hold holds nothing. A declined one holds nothing either, and is kept (a retry repeats it) except when a
    second group member's card comes with the request: the tenants may try another card after a refusal
    (budget_confirmer_invalid), and the decision depends on that card."""
    return ("released",) if confirm_card_hex is None else ("released", "declined")


def _active_holds(conn: Connection, terminal_id: str) -> int:
    count: int = conn.execute(select(func.count()).select_from(s.holds).where(
        s.holds.c.terminal_id == terminal_id, s.holds.c.status == "active")).scalar_one()
    return count


def release(conn: Connection, terminal_id: str, request_id: str, now: int) -> dict[str, object]:
    """Give back what an authorization holds: the till dropped its quote unconfirmed.

    Idempotent: a retry answers result "exists". A hold that holds nothing
    (declined, expired) answers "nothing_held". A hold a posted record has
    consumed is refused (HoldConsumed): that money has moved. The update is
    conditional on the status, so a release racing the record's upload
    cannot undo the consumption.
    """
    prior = conn.execute(select(s.holds.c.auth_id, s.holds.c.status, s.holds.c.expires_ms).where(
        s.holds.c.terminal_id == terminal_id, s.holds.c.request_id == request_id)).first()
    if prior is None:
        raise NotFound(what="authorization", id=request_id)
    if prior.status == "active" and prior.expires_ms < now:
        spendable.expire_holds(conn, now)
    done = conn.execute(update(s.holds).where(s.holds.c.auth_id == prior.auth_id, s.holds.c.status == "active")
                        .values(status="released"))
    if done.rowcount == 1:
        account = conn.execute(select(s.holds.c.account).where(s.holds.c.auth_id == prior.auth_id)).scalar_one()
        spendable.stamp_accounts(conn, [account or ""])  # the money is free again: tills learn it by delta
        return _released(prior.auth_id, "released", "released")
    status = conn.execute(select(s.holds.c.status).where(s.holds.c.auth_id == prior.auth_id)).scalar_one()
    if status == "consumed":
        raise HoldConsumed(id=request_id)
    return _released(prior.auth_id, status, "exists" if status == "released" else "nothing_held")


def _released(auth_id: str, status: str, result: str) -> dict[str, object]:
    return {"auth_id": auth_id, "status": status, "result": result}


def _answer(auth_id: str, approved: bool, reason: str | None, result: str) -> dict[str, object]:
    return {"auth_id": auth_id, "approved": approved, "reason": reason, "result": result}


def _payer(conn: Connection, terminal_id: str, card_hex: str, budget_id: str | None, now: int,
           amount_cents: int = 0, confirm_card_hex: str | None = None) -> tuple[str | None, str | None]:
    """(account to draw on, refusal reason or None)."""
    card = conn.execute(select(s.cards).where(s.cards.c.card_id == card_hex)).first()
    if card is None:
        return None, "card_unknown"
    if card.status != "active":
        return None, "card_blocked"
    if card.flagged_ms is not None:
        return None, "card_flagged"
    if budget_id is None:
        return ledger.member_acct(card.member_id), None
    merchant_id = conn.execute(select(s.terminals.c.merchant_id)
                               .where(s.terminals.c.terminal_id == terminal_id)).scalar_one()
    categories = snapshots.merchant_config(conn, merchant_id).all_categories()
    today = state.local_date(now).isoformat()
    for b in snapshots.member_budgets(conn, [card.member_id], today)[card.member_id]:
        if b.budget_id == budget_id:
            cats = json.loads(b.categories)
            if not covers(cats, categories):
                return None, "budget_wrong_category"  # the till's code for it, online and offline alike
            confirmer = _confirmer(conn, confirm_card_hex, card.card_id)
            if confirmer == "":
                return None, "budget_confirmer_invalid"
            refusal = budget_rules.check_spend(conn, b, card.member_id, amount_cents, now,
                                               confirmer_member_id=confirmer)
            if refusal is not None:
                return None, refusal
            if confirmer is None and b.confirm_above_cents is not None and amount_cents > b.confirm_above_cents:
                budget_rules.use_approval(conn, budget_id, card.member_id, amount_cents, now)
            return ledger.budget_acct(budget_id), None
    return None, "budget_not_usable"


def _confirmer(conn: Connection, confirm_card_hex: str | None, card_hex: str) -> str | None:
    """The member of the confirming card; "" for a card that cannot confirm (unknown, inactive, the same)."""
    if confirm_card_hex is None:
        return None
    other = conn.execute(select(s.cards).where(s.cards.c.card_id == confirm_card_hex)).first()
    if other is None or other.status != "active" or other.card_id == card_hex:
        return ""
    return str(other.member_id)


def _key_of(prefix_of: Callable[[str], str], ident: ColumnElement[str]) -> ColumnElement[str]:
    """An account key as SQL: ledger.member_acct / budget_acct of a column."""
    return literal(prefix_of(""), String) + ident


def _live_budgets_of(member_id: ColumnElement[str]) -> ColumnElement[bool]:
    """snapshots.member_budgets as a condition: the member's own live budgets and its groups'."""
    groups = (select(s.group_members.c.group_id).where(s.group_members.c.member_id == member_id)
              .correlate_except(s.group_members))  # the card's member two levels up (_CARD_SUMMARY)
    return ((s.budgets.c.status == "active") & (s.budgets.c.expires_on >= bindparam("today"))
            & or_(s.budgets.c.owner_member_id == member_id, s.budgets.c.owner_group_id.in_(groups)))


# A till asks for this at every tap, so it is one statement (two when the member has budgets), built once and
# compiled once (seven statements built per call cost ~5 ms of Python per read), sent straight to the driver
# (bulk.Compiled: SQLAlchemy's execution of the cached statement cost ~50 us more than SQLite's work).
_WALLET = _key_of(ledger.member_acct, s.cards.c.member_id)
_CARD_SUMMARY = bulk.Compiled(
    select(s.cards.c.member_id, s.cards.c.status, s.cards.c.flagged_ms, s.cards.c.changed_version,
           s.cards.c.offline_spent_cents, s.members.c.alias,
           spendable.balance_of(_WALLET).label("balance_cents"), spendable.held_on(_WALLET).label("held_cents"),
           exists().where(_live_budgets_of(s.cards.c.member_id)).label("has_budgets"))
    .join_from(s.cards, s.members, s.members.c.member_id == s.cards.c.member_id)
    .where(s.cards.c.card_id == bindparam("card_id")))
_BUDGET = _key_of(ledger.budget_acct, s.budgets.c.budget_id)
_SUMMARY_BUDGETS = bulk.Compiled(
    select(s.budgets, spendable.balance_of(_BUDGET).label("balance_cents"),
           spendable.held_on(_BUDGET).label("held_cents"))
    .where(_live_budgets_of(bindparam("member_id")))
    .order_by(s.budgets.c.owner_group_id.is_not(None), s.budgets.c.granted_ms, s.budgets.c.budget_id))


def card_summary(conn: Connection, card_hex: str, now: int) -> dict[str, object]:
    today = state.local_date(now).isoformat()
    card = _CARD_SUMMARY.run(conn, {"card_id": card_hex, "now_ms": now, "today": today}).first()
    if card is None:
        raise NotFound(what="card", id=card_hex)
    budgets = (_SUMMARY_BUDGETS.run(conn, {"member_id": card.member_id, "now_ms": now, "today": today}).all()
               if card.has_budgets else [])
    spent = budget_rules.members_spent(conn, [(b.budget_id, card.member_id) for b in budgets
                                              if budget_rules.has_member_cap(b.owner_group_id, b.member_cap_cents)],
                                         now)
    # The figures authorization decides on (balance minus open holds), so a quote never offers
    # money the server will then decline; the ledger balance is shown beside it.
    return {
        "card_id": card_hex, "alias": card.alias, "blocked": card.status != "active",
        "flagged": card.flagged_ms is not None,
        "balance_cents": spendable.free_cents(int(card.balance_cents), int(card.held_cents)),
        "ledger_balance_cents": int(card.balance_cents),
        "version": card.changed_version,
        "offline_uploaded_cents": card.offline_spent_cents,
        "budgets": [{"budget_id": b.budget_id, "label": b.label, "categories": json.loads(b.categories),
                     "expires_on": b.expires_on,
                     "remaining_cents": spendable.free_cents(int(b.balance_cents), int(b.held_cents)),
                     "funder": b.funder_id,
                     # a group budget's rules for this member, as in the snapshot (budget_rules.py)
                     "member_cap_left_cents": budget_rules.member_cap_left(
                         b.owner_group_id, b.member_cap_cents, spent.get((b.budget_id, card.member_id), 0)),
                     "confirm_above_cents": b.confirm_above_cents if b.owner_group_id else None}
                    for b in budgets],
    }
