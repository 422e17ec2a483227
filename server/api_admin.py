"""Admin endpoints: members, groups, cards, merchants, funders, terminals, campaigns, config, tokens, logs.

Roles: reads need any role; the desk's work (members, cards, top-up,
cash-out, remit) needs `clerk` or `admin`; everything else `admin`.
Money, budgets and reports are in api_admin_money.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from floreyn.server import (
    admin_auth, admin_business, admin_categories, admin_people, campaign_pots, reports, zreports,
)
from floreyn.server import schema as s
from floreyn.server.api_admin_money import router as money_router
from floreyn.server.api_admin_settle import router as settle_router
from floreyn.server.api_common import MAX_ADMIN_PAGE, Actor, AfterId, ctx_of, read, require, write
from floreyn.server.models import (
    CampaignCreate, CampaignEnd, CampaignUpdate, CardHex, CardIssue, CardReplace, CategoryCreate, ConfigUpdate,
    FunderCreate, GroupAdd,
    GroupCreate, Ident, MemberCreate, MemberUpdate, MerchantCreate, MerchantUpdate, Plain, PotPayIn, Reason,
    TerminalEnroll, TokenCreate,
)

router = APIRouter(prefix="/v1/admin", tags=["admin"])
Reader = Annotated[Actor, Depends(require(admin_auth.READ))]
Desk = Annotated[Actor, Depends(require(admin_auth.DESK))]
Admin = Annotated[Actor, Depends(require(admin_auth.ADMIN))]
Limit = Annotated[int, Query(ge=1, le=MAX_ADMIN_PAGE)]


# -- members -------------------------------------------------------------------------


@router.post("/members", summary="Register a member (personal data stays on the server)")
def create_member(request: Request, body: MemberCreate, actor: Desk) -> dict[str, object]:
    return write(request, actor, "member.create", body,
                 lambda conn, now: admin_people.create_member(conn, body.model_dump(), now))


@router.get("/members", summary="List members (id, alias), paged by member_id")
def list_members(request: Request, actor: Reader, after: Annotated[str, Query(max_length=64)] = "",
                 limit: Limit = 100) -> dict[str, object]:
    return {"members": read(request, lambda conn: admin_people.list_members(conn, after, limit))}


@router.get("/members/search", summary="Members by alias, name, e-mail, phone or the last characters of a card")
def find_members(request: Request, actor: Reader,
                 q: Annotated[str, Query(min_length=1, max_length=200)]) -> dict[str, object]:
    return read(request, lambda conn: admin_people.find_members(conn, q))


@router.get("/members/{member_id}", summary="One member with cards, groups and balance")
def get_member(request: Request, member_id: Ident, actor: Reader) -> dict[str, object]:
    return read(request, lambda conn: admin_people.member_view(conn, member_id))


@router.patch("/members/{member_id}", summary="Change a member's alias or personal data")
def update_member(request: Request, member_id: Ident, body: MemberUpdate, actor: Desk) -> dict[str, object]:
    return write(request, actor, "member.update", body,
                 lambda conn, now: admin_people.update_member(conn, member_id, body.model_dump()),
                 path_params={"member_id": member_id})


@router.get("/members/{member_id}/export", summary="GDPR export: everything held about the member")
def export_member(request: Request, member_id: Ident, actor: Admin) -> dict[str, object]:
    return read(request, lambda conn: admin_people.export_member(conn, member_id))


@router.post("/members/{member_id}/erase", summary="GDPR erasure: pseudonymise, block cards, keep the ledger whole")
def erase_member(request: Request, member_id: Ident, body: Plain, actor: Admin) -> dict[str, object]:
    return write(request, actor, "member.erase", body,
                 lambda conn, now: admin_people.erase_member(conn, member_id, now),
                 path_params={"member_id": member_id})


# -- groups --------------------------------------------------------------------------


@router.post("/groups", summary="Create a group of members (e.g. a block of houses) that can own budgets")
def create_group(request: Request, body: GroupCreate, actor: Admin) -> dict[str, object]:
    return write(request, actor, "group.create", body, lambda conn, now: admin_people.create_group(
        conn, body.group_id, body.name, body.member_ids, now))


@router.post("/groups/{group_id}/members", summary="Add members to a group")
def add_group_members(request: Request, group_id: Ident, body: GroupAdd, actor: Admin) -> dict[str, object]:
    return write(request, actor, "group.add", body,
                 lambda conn, now: admin_people.add_group_members(conn, group_id, body.member_ids),
                 path_params={"group_id": group_id})


@router.get("/groups/{group_id}")
def get_group(request: Request, group_id: Ident, actor: Reader) -> dict[str, object]:
    return read(request, lambda conn: admin_people.group_view(conn, group_id))


# -- cards ---------------------------------------------------------------------------


@router.post("/cards", summary="Issue: register a card id for a member")
def issue_card(request: Request, body: CardIssue, actor: Desk) -> dict[str, object]:
    return write(request, actor, "card.issue", body, lambda conn, now: admin_people.issue_card(
        conn, body.card_id, body.member_id, now, body.request_id))


@router.get("/cards/{card_id}")
def get_card(request: Request, card_id: CardHex, actor: Reader) -> dict[str, object]:
    return read(request, lambda conn: admin_people.card_view(conn, card_id))


@router.post("/cards/{card_id}/block", summary="Block a card (lost, stolen, misuse)")
def block_card(request: Request, card_id: CardHex, body: Reason, actor: Desk) -> dict[str, object]:
    return write(request, actor, "card.block", body,
                 lambda conn, now: admin_people.block_card(conn, card_id, body.reason),
                 path_params={"card_id": card_id})


@router.post("/cards/{card_id}/unblock", summary="Lift a block and clear the overspend flag")
def unblock_card(request: Request, card_id: CardHex, body: Plain, actor: Admin) -> dict[str, object]:
    return write(request, actor, "card.unblock", body, lambda conn, now: admin_people.unblock_card(conn, card_id),
                 path_params={"card_id": card_id})


@router.post("/cards/{card_id}/replace", summary="Replace a card: the new one carries the balance and budgets")
def replace_card(request: Request, card_id: CardHex, body: CardReplace, actor: Desk) -> dict[str, object]:
    return write(request, actor, "card.replace", body, lambda conn, now: admin_people.replace_card(
        conn, card_id, body.new_card_id, now, body.request_id), path_params={"card_id": card_id})


# -- merchants, funders, terminals ---------------------------------------------------


@router.post("/merchants", summary="Register a merchant or freelancer (category, save rate, top-up allowed)")
def create_merchant(request: Request, body: MerchantCreate, actor: Admin) -> dict[str, object]:
    values = body.model_dump(exclude={"request_id", "merchant_id"})
    return write(request, actor, "merchant.create", body,
                 lambda conn, now: admin_business.create_merchant(conn, body.merchant_id, values, now))


@router.patch("/merchants/{merchant_id}")
def update_merchant(request: Request, merchant_id: Ident, body: MerchantUpdate, actor: Admin) -> dict[str, object]:
    return write(request, actor, "merchant.update", body,
                 lambda conn, now: admin_business.update_merchant(conn, merchant_id, body.model_dump()),
                 path_params={"merchant_id": merchant_id})


@router.post("/categories", summary="Define a category (a sub-category as parent/name, e.g. klussen/vakman)")
def create_category(request: Request, body: CategoryCreate, actor: Admin) -> dict[str, object]:
    return write(request, actor, "category.create", body,
                 lambda conn, now: admin_categories.create(conn, body.category, body.name, now))


@router.get("/categories", summary="The cooperative's categories")
def list_categories(request: Request, actor: Reader) -> dict[str, object]:
    return {"categories": read(request, admin_categories.listing)}


@router.get("/merchants")
def list_merchants(request: Request, actor: Reader) -> dict[str, object]:
    return {"merchants": read(request, admin_business.list_merchants)}


@router.get("/merchants/{merchant_id}", summary="A merchant with its balances and terminals")
def get_merchant(request: Request, merchant_id: Ident, actor: Reader) -> dict[str, object]:
    return read(request, lambda conn: admin_business.merchant_view(conn, merchant_id))


@router.post("/funders", summary="Register a funder (housing corporation, municipality)")
def create_funder(request: Request, body: FunderCreate, actor: Admin) -> dict[str, object]:
    return write(request, actor, "funder.create", body,
                 lambda conn, now: admin_business.create_funder(conn, body.funder_id, body.name, now))


@router.get("/funders")
def list_funders(request: Request, actor: Reader) -> dict[str, object]:
    return {"funders": read(request, admin_business.list_funders)}


@router.post("/terminals", summary="Enroll a terminal with its Ed25519 public key for a merchant")
def enroll_terminal(request: Request, body: TerminalEnroll, actor: Admin) -> dict[str, object]:
    return write(request, actor, "terminal.enroll", body, lambda conn, now: admin_business.enroll_terminal(
        conn, body.terminal_id, body.merchant_id, body.public_key, now))


@router.post("/terminals/{terminal_id}/revoke", summary="Revoke a terminal: every request it makes is refused")
def revoke_terminal(request: Request, terminal_id: Ident, body: Reason, actor: Admin) -> dict[str, object]:
    return write(request, actor, "terminal.revoke", body,
                 lambda conn, now: admin_business.revoke_terminal(conn, terminal_id, body.reason),
                 path_params={"terminal_id": terminal_id})


@router.get("/terminals")
def list_terminals(request: Request, actor: Reader) -> dict[str, object]:
    return {"terminals": read(request, admin_business.list_terminals)}


@router.get("/terminals/{terminal_id}")
def get_terminal(request: Request, terminal_id: Ident, actor: Reader) -> dict[str, object]:
    return read(request, lambda conn: admin_business.terminal_view(conn, terminal_id))


@router.get("/terminals/{terminal_id}/zreports", summary="The days a terminal closed (DAY_CLOSE records received)")
def list_zreports(request: Request, terminal_id: Ident, actor: Reader) -> dict[str, object]:
    return {"terminal_id": terminal_id, "days": read(request, lambda conn: zreports.days(conn, terminal_id))}


@router.get("/terminals/{terminal_id}/zreports/{day_no}",
            summary="The Z-report of one day close, recomputed from the records the terminal uploaded")
def get_zreport(request: Request, terminal_id: Ident, day_no: Annotated[int, Path(ge=1, le=1_000_000)],
                actor: Reader) -> dict[str, object]:
    return read(request, lambda conn: zreports.day_report(conn, terminal_id, day_no))


# -- campaigns, config, tokens -------------------------------------------------------


@router.post("/campaigns", summary="Start a joint campaign (save multiplier for some or all merchants)")
def create_campaign(request: Request, body: CampaignCreate, actor: Admin) -> dict[str, object]:
    values = body.model_dump(exclude={"request_id", "campaign_id"})
    return write(request, actor, "campaign.create", body,
                 lambda conn, now: admin_business.create_campaign(conn, body.campaign_id, values, now))


@router.post("/campaigns/{campaign_id}/end", summary="End a campaign early")
def end_campaign(request: Request, campaign_id: Ident, body: CampaignEnd, actor: Admin) -> dict[str, object]:
    return write(request, actor, "campaign.end", body,
                 lambda conn, now: admin_business.end_campaign(conn, campaign_id, body.ends_on),
                 path_params={"campaign_id": campaign_id})


@router.patch("/campaigns/{campaign_id}", summary="Change a campaign's name, multiplier, dates or merchants")
def update_campaign(request: Request, campaign_id: Ident, body: CampaignUpdate, actor: Admin) -> dict[str, object]:
    changes = body.model_dump(exclude={"request_id"})
    return write(request, actor, "campaign.update", body,
                 lambda conn, now: admin_business.update_campaign(conn, campaign_id, changes),
                 path_params={"campaign_id": campaign_id})


@router.post("/campaigns/{campaign_id}/pot", summary="A participating merchant pays Floreyn into the campaign's pot")
def pot_pay_in(request: Request, campaign_id: Ident, body: PotPayIn, actor: Admin) -> dict[str, object]:
    return write(request, actor, "campaign.pot", body, lambda conn, now: campaign_pots.pay_in(
        conn, campaign_id=campaign_id, merchant_id=body.merchant_id, fl_cents=body.fl_cents,
        request_id=body.request_id, now=now), path_params={"campaign_id": campaign_id})


@router.get("/campaigns/{campaign_id}/report", summary="A campaign's pot: what each merchant put in, what went out")
def campaign_report(request: Request, campaign_id: Ident, actor: Reader) -> dict[str, object]:
    return read(request, lambda conn: campaign_pots.report(conn, campaign_id))


@router.get("/campaigns")
def list_campaigns(request: Request, actor: Reader) -> dict[str, object]:
    return {"campaigns": read(request, admin_business.list_campaigns)}


@router.get("/config", summary="Rates, offline limits, overspend threshold, hold time, card issuer keys")
def get_config(request: Request, actor: Reader) -> dict[str, object]:
    now = ctx_of(request).clock()
    return read(request, lambda conn: admin_business.settings_view(conn, now))


@router.patch("/config", summary="Change rates, limits, thresholds or issuer keys")
def update_config(request: Request, body: ConfigUpdate, actor: Admin) -> dict[str, object]:
    changes = body.model_dump(exclude={"request_id"}, exclude_none=True)
    for part in ("rates", "limits", "thresholds"):
        if part in changes:
            changes[part] = {k: v for k, v in changes[part].items() if v is not None}
    return write(request, actor, "config.update", body,
                 lambda conn, now: admin_business.update_settings(conn, changes, now))


@router.post("/tokens", summary="Create an admin token (shown once) with a role: admin, clerk, auditor")
def create_token(request: Request, body: TokenCreate, actor: Admin) -> dict[str, object]:
    return write(request, actor, "token.create", body, lambda conn, now: {
        "name": body.name, "role": body.role, "token": admin_auth.create_token(conn, body.name, body.role, now)},
        secret=("token",))


@router.post("/tokens/{name}/revoke")
def revoke_token(request: Request, name: Ident, body: Plain, actor: Admin) -> dict[str, object]:
    return write(request, actor, "token.revoke", body, lambda conn, now: {
        "name": name, "revoked": admin_auth.revoke_token(conn, name, now)}, path_params={"name": name})


@router.get("/audit", summary="The audit log: every admin action, oldest first, paged by id")
def audit_log(request: Request, actor: Reader, after: AfterId = 0,
              limit: Limit = 100) -> dict[str, object]:
    return {"entries": read(request, lambda conn: reports.listing(conn, s.audit_log, after, limit))}


@router.get("/alerts", summary="Alerts: forks, bad signatures, overspend, unknown cards, misused budgets")
def alerts(request: Request, actor: Reader, after: AfterId = 0, limit: Limit = 100,
           kind: Annotated[str | None, Query(max_length=32)] = None) -> dict[str, object]:
    return {"alerts": read(request, lambda conn: reports.listing(conn, s.alerts, after, limit, kind=kind))}


router.include_router(money_router)
router.include_router(settle_router)
