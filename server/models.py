"""Request bodies of the HTTP API: strict (no type coercion), closed (unknown fields refused), bounded."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Final, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

MAX_DESK_CENTS = 10_000_000  # 100,000.00 in one desk transaction
MAX_TILL_CENTS = 1_000_000  # 10,000.00 in one authorization (money.DEFAULT_MAX_CENTS)


def _iso_date(value: str) -> str:
    dt.date.fromisoformat(value)  # ValueError -> 422 with the field named
    return value


Ident = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
# floreyn/categories.py: "duurzaam", "klussen/vakman"
CategoryId = Annotated[str, StringConstraints(max_length=64,
                                              pattern=r"^[a-z0-9][a-z0-9_-]{0,30}(/[a-z0-9][a-z0-9_-]{0,30})?$")]
CARD_HEX_PATTERN: Final = r"^[0-9a-f]{32}$"  # a card's 16-byte id in hex
CardHex = Annotated[str, StringConstraints(pattern=CARD_HEX_PATTERN)]
KeyHex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
IsoDate = Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$"), AfterValidator(_iso_date)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Short = Annotated[str, StringConstraints(min_length=1, max_length=80)]
DeskCents = Annotated[int, Field(ge=1, le=MAX_DESK_CENTS)]
BasisPoints = Annotated[int, Field(ge=0, le=10_000)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Write(Strict):
    request_id: Ident = Field(description="Client-made id; a retry with the same id never applies twice.")


# -- terminal ------------------------------------------------------------------------


class UploadRequest(Strict):
    records: list[Annotated[str, StringConstraints(min_length=1, max_length=700)]] = Field(
        max_length=500, description="Signed records (sync/record.py wire format), base64, ascending seq.")
    head_seq: Annotated[int, Field(ge=0, le=2**62)] | None = Field(
        None, description="The terminal's own highest sequence number (for the server's metrics). An upload with "
                          "no records asks for acked_seq only: after a server restore it may be lower than what "
                          "the terminal was told, and the terminal then sends the records above it again.")


class AuthorizeRequest(Strict):
    card_id: CardHex
    amount_cents: Annotated[int, Field(ge=1, le=MAX_TILL_CENTS)]
    request_id: Ident
    budget_id: Ident | None = None
    confirm_card_id: CardHex | None = Field(
        None, description="A second group member's card tapped to confirm a group-budget spend above its threshold")


class ReleaseRequest(Strict):
    request_id: Ident = Field(description="The request_id the authorization was asked under (the record id).")


# -- members, groups, cards ----------------------------------------------------------


class MemberCreate(Write):
    member_id: Ident | None = Field(None, description="Opaque id; generated when absent. Never a name.")
    alias: Short | None = Field(None, description="What the till shows, e.g. 'Anna B.'")
    name: Text | None = None
    email: Text | None = None
    phone: Annotated[str, StringConstraints(max_length=50)] | None = None
    address: Annotated[str, StringConstraints(max_length=300)] | None = None


class MemberUpdate(Write):
    alias: Short | None = None
    name: Text | None = None
    email: Text | None = None
    phone: Annotated[str, StringConstraints(max_length=50)] | None = None
    address: Annotated[str, StringConstraints(max_length=300)] | None = None


class Plain(Write):
    pass


class GroupCreate(Write):
    group_id: Ident
    name: Text
    member_ids: list[Ident] = Field(default_factory=list, max_length=10_000)


class GroupAdd(Write):
    member_ids: list[Ident] = Field(min_length=1, max_length=10_000)


class CardIssue(Write):
    card_id: CardHex
    member_id: Ident


class Reason(Write):
    reason: Text = "blocked by the cooperative"


class CardReplace(Write):
    new_card_id: CardHex


# -- merchants, funders, terminals, campaigns, config --------------------------------


MerchantKind = Literal["winkel", "zelfstandige"]
Iban = Annotated[str, StringConstraints(min_length=15, max_length=42, pattern=r"^[A-Za-z0-9 ]+$")]
Holder = Annotated[str, StringConstraints(min_length=1, max_length=70)]
MandateId = Annotated[str, StringConstraints(min_length=1, max_length=35, pattern=r"^[A-Za-z0-9+?/:().,' -]+$")]


class MerchantCreate(Write):
    merchant_id: Ident
    name: Text
    category: CategoryId = Field(description="its main category: winkel, klussen/vakman, ... (GET /categories)")
    categories: list[CategoryId] | None = Field(None, max_length=20, description="more categories it has")
    save_rate_bp: BasisPoints = 0
    topup_allowed: bool = False
    kind: MerchantKind = Field("winkel", description="a shop, or a self-employed resident (fl-zelfstandige)")
    iban: Iban | None = Field(None, description="Bank account for payouts (checked with schwifty)")
    account_holder: Holder | None = None


class MerchantUpdate(Write):
    name: Text | None = None
    category: CategoryId | None = None
    categories: list[CategoryId] | None = Field(None, max_length=20, description="replaces its other categories")
    save_rate_bp: BasisPoints | None = None
    topup_allowed: bool | None = None
    kind: MerchantKind | None = None
    iban: Iban | None = None
    account_holder: Holder | None = None
    mandate_id: MandateId | None = Field(None, description="SEPA direct debit mandate: amounts owed are collected")
    mandate_signed_on: IsoDate | None = None
    keep_fl_cents: Annotated[int, Field(ge=0, le=MAX_DESK_CENTS)] | None = Field(
        None, description="Floreyn the merchant keeps at settlement to pay others; the rest is cashed out")


class CategoryCreate(Write):
    category: CategoryId
    name: Short


class FunderCreate(Write):
    funder_id: Ident
    name: Text


class TerminalEnroll(Write):
    terminal_id: Ident
    merchant_id: Ident
    public_key: KeyHex = Field(description="The terminal's raw Ed25519 public key, hex.")


class CampaignCreate(Write):
    campaign_id: Ident
    name: Short
    multiplier_bp: Annotated[int, Field(ge=10_000, le=100_000)]
    starts_on: IsoDate
    ends_on: IsoDate
    merchant_ids: list[Ident] = Field(default_factory=list, max_length=500, description="Empty: all merchants.")
    pot: bool = Field(False, description="A joint pot the merchants pay into pays the saving extra and bonuses")
    redeem_bonus_bp: BasisPoints = Field(0, description="With a pot: share of a spend the pot gives back")


class PotPayIn(Write):
    merchant_id: Ident
    fl_cents: DeskCents


class CampaignUpdate(Write):
    name: Short | None = None
    multiplier_bp: Annotated[int, Field(ge=10_000, le=100_000)] | None = None
    starts_on: IsoDate | None = None
    ends_on: IsoDate | None = None
    merchant_ids: list[Ident] | None = Field(default=None, max_length=500, description="Empty: all merchants.")


class CampaignEnd(Write):
    ends_on: IsoDate


class RatesIn(Strict):
    ask_bp: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    bid_bp: Annotated[int, Field(ge=0, le=1_000_000)] | None = None


class LimitsIn(Strict):
    per_tx_cents: Annotated[int, Field(ge=0, le=MAX_TILL_CENTS)] | None = None
    cumulative_cents: Annotated[int, Field(ge=0, le=MAX_TILL_CENTS)] | None = None
    max_count: Annotated[int, Field(ge=0, le=1000)] | None = None
    max_snapshot_age_s: Annotated[int, Field(ge=60, le=30 * 86400)] | None = None
    unknown_card_allowance_cents: Annotated[int, Field(ge=0, le=MAX_TILL_CENTS)] | None = None


class ThresholdsIn(Strict):
    drain_cards: Annotated[int, Field(ge=1, le=10_000)] | None = None
    drain_window_s: Annotated[int, Field(ge=60, le=7 * 86400)] | None = None
    refund_share_bp: Annotated[int, Field(ge=0, le=10_000)] | None = None
    refund_min_cents: Annotated[int, Field(ge=0, le=MAX_TILL_CENTS)] | None = None
    terms_grace_s: Annotated[int, Field(ge=0, le=30 * 86400)] | None = None
    budget_expiry_grace_s: Annotated[int, Field(ge=0, le=30 * 86400)] | None = None


class ConfigUpdate(Write):
    rates: RatesIn | None = None
    limits: LimitsIn | None = None
    thresholds: ThresholdsIn | None = None
    overspend_block_cents: Annotated[int, Field(ge=0, le=MAX_TILL_CENTS)] | None = None
    hold_ttl_s: Annotated[int, Field(ge=60, le=86_400)] | None = None
    reinstate_after_s: Annotated[int, Field(ge=0, le=90 * 86_400)] | None = Field(
        None, description="A card blocked for overspend comes back after its balances stayed >= 0 this long; 0: "
                          "only the desk reinstates.")
    issuer_keys: list[KeyHex] | None = Field(None, max_length=20)


# -- money ---------------------------------------------------------------------------


class BudgetSpec(Strict):
    budget_id: Ident
    member_id: Ident | None = None
    group_id: Ident | None = None
    label: Short
    categories: list[CategoryId] = Field(default_factory=list, max_length=20,
                                         description="Empty: any merchant. A parent covers its sub-categories.")
    expires_on: IsoDate
    amount_cents: DeskCents
    member_cap_cents: DeskCents | None = Field(None, description="A group budget: most one member spends a month")
    confirm_above_cents: DeskCents | None = Field(
        None, description="A group budget: a spend above this needs a second group member's confirmation")
    keep_share_bp: BasisPoints = Field(0, description="Share of the rest at expiry the holder(s) keep as own fl")


class Grant(Write):
    funder_id: Ident
    budgets: list[BudgetSpec] = Field(min_length=1, max_length=1000)


class Expire(Write):
    as_of: IsoDate | None = Field(None, description="Expire budgets whose last day is before this date.")
    budget_ids: list[Ident] | None = Field(None, max_length=1000)


class Topup(Write):
    member_id: Ident | None = None
    funder_id: Ident | None = None
    merchant_id: Ident | None = Field(None, description="A merchant buys Floreyn at the ask rate (it owes fl)")
    eur_cents: DeskCents


class Cashout(Write):
    merchant_id: Ident
    fl_cents: DeskCents
    to_bank: bool = Field(False, description="Pay to the merchant's IBAN in the next bank batch instead of cash")


class Remit(Write):
    merchant_id: Ident
    eur_cents: DeskCents


class TokenCreate(Write):
    name: Ident
    role: Literal["admin", "clerk", "auditor"]
