"""Payments between accounts: member -> member / merchant, merchant -> merchant / member.

A self-employed person ("Handige Harry") is a merchant account here. Who may
pay what, in one place:

- a member pays from the own wallet, or from a live budget (own or the
  group's) whose categories fit the payee merchant's category, the same rule
  a till applies (`category_fits`); a budget never pays another member;
- a merchant pays from its own Floreyn (never below zero);
- nobody pays themselves; an erased member neither pays nor is paid;
- limits per payment and per day (per payer, per channel-independent day in
  Amersfoort), kept in the settings table (`PaymentLimits`), different for
  members and merchants; reaching one refuses the payment with the room left;
- what an online authorization at a till holds (`holds`) is not spendable.

Each payment is one balanced ledger transaction (kind "payment") and one row
in `payments`, written in the caller's transaction. The payer's client-made
request id makes a retry answer the first payment ("exists") and never pay
twice; the same id with other parameters is refused.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import asdict, dataclass
from typing import ClassVar, Final

from sqlalchemy import Connection, func, select

from floreyn.money import Money, format_money
from floreyn.refusals import translate
from floreyn.categories import covers
from floreyn.server import admin_categories, budget_rules, ledger, snapshots, state
from floreyn.server import schema as s
from floreyn.server.errors import (
    Conflict, ExistsWithDifferentParams, InsufficientFunds, NotFound, RequestInvalid, ServerError, StateRefused,
)
from floreyn.server.ledger import LedgerTx, TxKind
from floreyn.server.rows import TableRow

SETTINGS_KEY: Final = "payment_limits"
MAX_MEMO_CHARS: Final = 120
PARTY_KINDS: Final = ("member", "merchant")


class PaymentToSelf(ServerError):
    status = 422
    code = "payment_to_self"
    msgid = "You cannot pay yourself."


class PaymentOverLimit(ServerError):
    status = 422
    code = "payment_over_limit"
    msgid = "Amount too large: at most {limit} per payment."


class PaymentDayLimit(Conflict):
    code = "payment_day_limit"
    msgid = "Daily limit reached: {left} can still be paid today."


class BudgetNotUsable(Conflict):
    """params: budget, why / why_en (worded from REASONS; the budget rules' codes travel to tills as reasons)."""

    code = "budget_not_usable"
    msgid = "Budget {budget} cannot be used for this: {why}."
    REASONS: ClassVar[dict[str, str]] = {
        "payer_not_member": "only members pay from a budget",
        "payee_not_merchant": "a budget pays only shops and self-employed people",
        "wrong_category": "not for the category {category}",
        "unavailable": "it has expired or is not yours",
        "budget_member_cap": "your share of the group budget for this month is used up",
        "budget_needs_confirmation": "a second member of the group must approve this amount first",
        "budget_confirmer_invalid": "the confirmation is not from another member of the group",
    }

    @classmethod
    def because(cls, budget: str, why: str, **params: object) -> BudgetNotUsable:
        en = cls.REASONS[why]
        return cls(budget=budget, why=translate(en, "nl").format(**params), why_en=en.format(**params))


@dataclass(frozen=True, slots=True)
class PaymentLimits:
    """Per payment and per day, in cents. A member who wants more goes to the desk."""

    member_per_payment_cents: int = 50_000  # fl 500,00
    member_per_day_cents: int = 100_000  # fl 1.000,00
    merchant_per_payment_cents: int = 500_000  # a shop paying its supplier
    merchant_per_day_cents: int = 1_000_000
    reconfirm_above_cents: int = 5_000  # the portal asks for the password again above fl 50,00

    def per_payment(self, payer_kind: str) -> int:
        return self.member_per_payment_cents if payer_kind == "member" else self.merchant_per_payment_cents

    def per_day(self, payer_kind: str) -> int:
        return self.member_per_day_cents if payer_kind == "member" else self.merchant_per_day_cents


def get_limits(conn: Connection) -> PaymentLimits:
    raw = conn.execute(select(s.settings.c.value).where(s.settings.c.key == SETTINGS_KEY)).scalar()
    return PaymentLimits(**json.loads(raw)) if raw else PaymentLimits()


def set_limits(conn: Connection, changes: dict[str, int]) -> PaymentLimits:
    limits = PaymentLimits(**{**asdict(get_limits(conn)), **changes})
    state.put_setting(conn, SETTINGS_KEY, asdict(limits))
    return limits


@dataclass(frozen=True, slots=True)
class Party:
    """A payer or payee: ("member", member_id) or ("merchant", merchant_id)."""

    kind: str
    id: str

    def __post_init__(self) -> None:
        if self.kind not in PARTY_KINDS or not self.id:
            raise RequestInvalid(detail=f"a party is a member or a merchant, not {self.kind!r}")

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}"

    @property
    def account(self) -> str:
        return ledger.member_acct(self.id) if self.kind == "member" else ledger.merchant_acct(self.id)

    @classmethod
    def parse(cls, key: str) -> Party:
        kind, _, ident = key.partition(":")
        return cls(kind, ident)


def category_fits(merchant_categories: str | tuple[str, ...], budget_categories: list[str]) -> bool:
    """A budget with no categories pays any merchant; "klussen" also pays "klussen/handig" (the one rule,
    floreyn/categories.py, over all the merchant's categories)."""
    cats = (merchant_categories,) if isinstance(merchant_categories, str) else merchant_categories
    return covers(budget_categories, cats)


def party_name(conn: Connection, party: Party) -> str:
    """What a person sees for the other side: a member's alias or a merchant's name."""
    table, col, name = ((s.members, s.members.c.member_id, s.members.c.alias) if party.kind == "member"
                        else (s.merchants, s.merchants.c.merchant_id, s.merchants.c.name))
    found = conn.execute(select(name).where(col == party.id)).scalar()
    if found is None:
        raise NotFound(what=party.kind, id=party.id)
    return str(found)


def _check_party(conn: Connection, party: Party) -> TableRow:
    if party.kind == "member":
        row = conn.execute(select(s.members).where(s.members.c.member_id == party.id)).first()
        if row is not None and row.erased_ms is not None:
            raise StateRefused(detail=f"member {party.id} was erased")
    else:
        row = conn.execute(select(s.merchants).where(s.merchants.c.merchant_id == party.id)).first()
    if row is None:
        raise NotFound(what=party.kind, id=party.id)
    return row


def _source(conn: Connection, payer: Party, payee_row: TableRow, payee: Party, budget_id: str | None, now: int,
            amount_cents: int = 0) -> str:
    """The account a payment draws on, after the budget rules."""
    if budget_id is None:
        return payer.account
    if payer.kind != "member":
        raise BudgetNotUsable.because(budget_id, "payer_not_member")
    if payee.kind != "merchant":
        raise BudgetNotUsable.because(budget_id, "payee_not_merchant")
    today = state.local_date(now).isoformat()
    for b in snapshots.member_budgets(conn, [payer.id], today)[payer.id]:
        if b.budget_id == budget_id:
            cats = admin_categories.of_merchant(conn, payee_row.merchant_id, payee_row.category)
            if not category_fits(cats, json.loads(b.categories)):
                raise BudgetNotUsable.because(b.label, "wrong_category", category=payee_row.category)
            refusal = budget_rules.check_spend(conn, b, payer.id, amount_cents, now)  # the funder's group rules
            if refusal is not None:
                raise BudgetNotUsable.because(b.label, refusal)
            if b.confirm_above_cents is not None and amount_cents > b.confirm_above_cents:
                budget_rules.use_approval(conn, budget_id, payer.id, amount_cents, now)
            return ledger.budget_acct(budget_id)
    raise BudgetNotUsable.because(budget_id, "unavailable")


def _params_hash(payer: Party, payee: Party, amount_cents: int, budget_id: str | None, memo: str) -> str:
    text = json.dumps({"payer": payer.key, "payee": payee.key, "amount": amount_cents, "budget": budget_id,
                       "memo": memo}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def spendable(conn: Connection, account: str, now: int) -> int:
    """The balance, locked for this transaction, less what active till authorizations hold."""
    ledger.ensure_accounts(conn, [account], now)
    held = conn.execute(select(s.accounts.c.balance_cents).where(s.accounts.c.key == account)
                        .with_for_update()).scalar_one()
    held -= conn.execute(select(func.coalesce(func.sum(s.holds.c.amount_cents), 0)).where(
        s.holds.c.account == account, s.holds.c.status == "active", s.holds.c.expires_ms >= now)).scalar_one()
    return int(held)


def paid_today(conn: Connection, payer: Party, now: int) -> int:
    start = state.day_start_ms(state.local_date(now))
    return int(conn.execute(select(func.coalesce(func.sum(s.payments.c.amount_cents), 0)).where(
        s.payments.c.payer == payer.key, s.payments.c.created_ms >= start)).scalar_one())


def pay(conn: Connection, *, payer: Party, payee: Party, amount_cents: int, request_id: str, now: int,
        budget_id: str | None = None, memo: str = "", channel: str = "desk") -> dict[str, object]:
    """Move Floreyn from payer to payee (see the module docstring); refuses with a typed error or pays once."""
    memo = memo[:MAX_MEMO_CHARS]
    phash = _params_hash(payer, payee, amount_cents, budget_id, memo)
    prior = conn.execute(select(s.payments).where(s.payments.c.payer == payer.key,
                                                  s.payments.c.request_id == request_id)).first()
    if prior is not None:
        if prior.params_hash != phash:
            raise ExistsWithDifferentParams(what="payment", id=request_id)
        return {**_answer(prior), "result": "exists"}
    if amount_cents < 1:
        raise RequestInvalid(detail="the amount must be at least 1 cent")
    if payer == payee:
        raise PaymentToSelf()
    _check_party(conn, payer)
    payee_row = _check_party(conn, payee)
    limits = get_limits(conn)
    if amount_cents > limits.per_payment(payer.kind):
        raise PaymentOverLimit(limit_cents=limits.per_payment(payer.kind), currency="fl")
    source = _source(conn, payer, payee_row, payee, budget_id, now, amount_cents)
    # Lock the source row first: two payments by one payer queue here, so the day's sum below is exact.
    available = spendable(conn, source, now)
    room = limits.per_day(payer.kind) - paid_today(conn, payer, now)
    if amount_cents > room:
        raise PaymentDayLimit(left_cents=max(room, 0), currency="fl")
    if available < amount_cents:
        raise InsufficientFunds(available=format_money(Money.fl(max(available, 0))),
                                wanted=format_money(Money.fl(amount_cents)))
    payment_id = str(uuid.uuid4())
    merchant_id = payee.id if payee.kind == "merchant" else (payer.id if payer.kind == "merchant" else None)
    amount = Money.fl(amount_cents)
    tx = LedgerTx(tx_id=payment_id, kind=TxKind.PAYMENT, created_ms=now, request_id=request_id,
                  merchant_id=merchant_id, memo=memo,
                  postings=ledger.legs((source, -amount), (payee.account, amount)))
    ledger.post(conn, [tx])
    conn.execute(s.payments.insert().values(
        payment_id=payment_id, payer=payer.key, request_id=request_id, params_hash=phash, from_account=source,
        to_account=payee.account, amount_cents=amount_cents, memo=memo, channel=channel, created_ms=now))
    members = [p.id for p in (payer, payee) if p.kind == "member"]
    if members:  # the tills' snapshots carry the new wallet balances at their next sync
        state.touch_members(conn, state.bump_version(conn), members)
    row = conn.execute(select(s.payments).where(s.payments.c.payment_id == payment_id)).one()
    assert row.amount_cents == amount_cents and row.from_account == source, "payment row read back"
    return {**_answer(row), "result": "created"}


def _answer(row: TableRow) -> dict[str, object]:
    return {"payment_id": row.payment_id, "payer": row.payer, "from_account": row.from_account,
            "to_account": row.to_account, "amount_cents": row.amount_cents, "memo": row.memo,
            "created_ms": row.created_ms, "request_id": row.request_id}
