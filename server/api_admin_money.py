"""Admin endpoints that move or report money: the desk, budgets, the ledger and reports."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field, StringConstraints
from sqlalchemy import select

from floreyn.server import admin_auth, admin_money, budget_rules, disputes, export, ledger, reports
from floreyn.server import schema as s
from floreyn.server.api_common import (MAX_ADMIN_PAGE, Actor, AfterId, ClosingStreamingResponse, ctx_of, read, require,
                                       write)
from floreyn.server.errors import NotFound, RequestInvalid
from floreyn.server.models import Cashout, DeskCents, Expire, Grant, Ident, IsoDate, Remit, Topup, Write
from floreyn.server.replay import replay

router = APIRouter()
Reader = Annotated[Actor, Depends(require(admin_auth.READ))]
Desk = Annotated[Actor, Depends(require(admin_auth.DESK))]
Admin = Annotated[Actor, Depends(require(admin_auth.ADMIN))]
AccountKey = Annotated[str, StringConstraints(min_length=3, max_length=140, pattern=r"^[a-z_]+:[A-Za-z0-9._:-]+$")]


class Correction(Write):
    reason: Annotated[str, StringConstraints(min_length=1, max_length=ledger.MAX_MEMO_CHARS)]  # the reversal's memo


class DisputeDecision(Write):
    decision: Literal["release", "return", "write_off"]
    note: Annotated[str, StringConstraints(min_length=1, max_length=200)]


# -- the desk ------------------------------------------------------------------------


@router.post("/desk/topup", tags=["desk"], summary="Top-up: euros in, Floreyn out at the ask rate")
def topup(request: Request, body: Topup, actor: Desk) -> dict[str, object]:
    return write(request, actor, "desk.topup", body, lambda conn, now: admin_money.topup(
        conn, member_id=body.member_id, funder_id=body.funder_id, merchant_id=body.merchant_id,
        eur_cents=body.eur_cents, request_id=body.request_id, now=now))


@router.post("/desk/cashout", tags=["desk"], summary="Cash-out: a merchant's Floreyn in, euros out at the bid rate")
def cashout(request: Request, body: Cashout, actor: Desk) -> dict[str, object]:
    return write(request, actor, "desk.cashout", body, lambda conn, now: admin_money.cashout(
        conn, merchant_id=body.merchant_id, fl_cents=body.fl_cents, request_id=body.request_id, now=now,
        to_bank=body.to_bank))


@router.post("/desk/remit", tags=["desk"], summary="Remit: a merchant hands in the euros of top-ups at its till")
def remit(request: Request, body: Remit, actor: Desk) -> dict[str, object]:
    return write(request, actor, "desk.remit", body, lambda conn, now: admin_money.remit(
        conn, merchant_id=body.merchant_id, eur_cents=body.eur_cents, request_id=body.request_id, now=now))


# -- budgets -------------------------------------------------------------------------


@router.post("/budgets/grant", tags=["budgets"], summary="Grant labeled budgets in bulk from a funder's Floreyn")
def grant(request: Request, body: Grant, actor: Admin) -> dict[str, object]:
    specs = [b.model_dump() for b in body.budgets]
    return write(request, actor, "budget.grant", body, lambda conn, now: admin_money.grant(
        conn, funder_id=body.funder_id, budgets=specs, request_id=body.request_id, now=now))


@router.post("/budgets/expire", tags=["budgets"],
             summary="Expire due (or named) budgets; the rest goes back to the funder")
def expire(request: Request, body: Expire, actor: Admin) -> dict[str, object]:
    return write(request, actor, "budget.expire", body, lambda conn, now: admin_money.expire(
        conn, as_of=body.as_of, budget_ids=body.budget_ids, request_id=body.request_id, now=now))


class Approval(Write):
    member_id: Ident = Field(description="The member who will spend")
    approver_member_id: Ident = Field(description="The second member of the group who confirms")
    amount_cents: DeskCents


@router.post("/budgets/{budget_id}/approvals", tags=["budgets"],
             summary="A second group member confirms one spend above the budget's threshold (used once, 24 h)")
def approve(request: Request, budget_id: Ident, body: Approval, actor: Desk) -> dict[str, object]:
    return write(request, actor, "budget.approve", body, lambda conn, now: budget_rules.approve(
        conn, budget_id=budget_id, member_id=body.member_id, approver_member_id=body.approver_member_id,
        amount_cents=body.amount_cents, now=now), path_params={"budget_id": budget_id})


@router.get("/budgets/{budget_id}", tags=["budgets"])
def get_budget(request: Request, budget_id: Ident, actor: Reader) -> dict[str, object]:
    def view(conn):
        b = conn.execute(select(s.budgets).where(s.budgets.c.budget_id == budget_id)).first()
        if b is None:
            raise NotFound(what="budget", id=budget_id)
        return admin_money.budget_dict(conn, b)
    return read(request, view)


@router.get("/budgets", tags=["budgets"], summary="Budgets of a member, a group or a funder")
def list_budgets(request: Request, actor: Reader, member_id: Ident | None = None, group_id: Ident | None = None,
                 funder_id: Ident | None = None) -> dict[str, object]:
    if (member_id, group_id, funder_id).count(None) != 2:
        raise RequestInvalid(detail="filter by exactly one of member_id, group_id, funder_id")

    def rows(conn):
        col = (s.budgets.c.owner_member_id if member_id else s.budgets.c.owner_group_id if group_id
               else s.budgets.c.funder_id)
        q = select(s.budgets).where(col == (member_id or group_id or funder_id)).order_by(s.budgets.c.budget_id)
        return [admin_money.budget_dict(conn, b) for b in conn.execute(q.limit(10_000))]
    return {"budgets": read(request, rows)}


# -- the ledger ----------------------------------------------------------------------


@router.get("/accounts/{key}", tags=["ledger"], summary="An account's balance and postings (paged by posting id)")
def account(request: Request, key: AccountKey, actor: Reader, after: AfterId = 0,
            limit: Annotated[int, Query(ge=1, le=MAX_ADMIN_PAGE)] = 100) -> dict[str, object]:
    return read(request, lambda conn: reports.account_view(conn, key, after, limit))


@router.get("/transactions/{tx_id}", tags=["ledger"])
def transaction(request: Request, tx_id: Annotated[str, StringConstraints(max_length=64)],
                actor: Reader) -> dict[str, object]:
    return read(request, lambda conn: reports.transaction_view(conn, tx_id))


@router.post("/transactions/{tx_id}/reverse", tags=["ledger"],
             summary="Correct a transaction: post its reversal (postings are never changed)")
def reverse(request: Request, tx_id: Annotated[str, StringConstraints(max_length=64)], body: Correction,
            actor: Admin) -> dict[str, object]:
    return write(request, actor, "tx.reverse", body, lambda conn, now: admin_money.reverse(
        conn, tx_id=tx_id, reason=body.reason, request_id=body.request_id, now=now), path_params={"tx_id": tx_id})


@router.get("/disputes", tags=["ledger"], summary="Parked excess of records over the rules, by status or terminal")
def list_disputes(request: Request, actor: Reader,
                  status: Annotated[str | None, Query(pattern="^(open|released|returned|written_off|voided)$")] = None,
                  terminal_id: Ident | None = None) -> dict[str, object]:
    return {"disputes": read(request, lambda conn: disputes.list_disputes(conn, status, terminal_id))}


@router.post("/disputes/{dispute_id}/resolve", tags=["ledger"],
             summary="Decide a dispute: release (to the payee), return (to the payer) or write off; posted as one "
                     "balanced transaction under the request id, audited")
def resolve_dispute(request: Request, dispute_id: Annotated[str, StringConstraints(max_length=64)],
                    body: DisputeDecision, actor: Admin) -> dict[str, object]:
    return write(request, actor, "dispute.resolve", body, lambda conn, now: disputes.resolve(
        conn, dispute_id, body.decision, body.note, actor[0], body.request_id, now),
        path_params={"dispute_id": dispute_id})


@router.get("/replay", tags=["ledger"], summary="Recompute every balance and check the ledger and record chains")
def check(request: Request, actor: Reader) -> dict[str, object]:
    return replay(ctx_of(request).db).to_dict()


# -- reports -------------------------------------------------------------------------


@router.get("/reports/settlement", tags=["reports"], summary="A merchant's settlement statement for a period")
def settlement(request: Request, actor: Reader, merchant_id: Ident, from_: Annotated[IsoDate, Query(alias="from")],
               to: IsoDate) -> dict[str, object]:
    return ctx_of(request).db.read(lambda conn: reports.settlement(conn, merchant_id, from_, to),
                                   snapshot=True)


@router.get("/reports/circulation", tags=["reports"], summary="Floreyn in circulation against the euro reserve")
def circulation(request: Request, actor: Reader) -> dict[str, object]:
    return ctx_of(request).db.read(reports.circulation, snapshot=True)


@router.get("/reports/overspend", tags=["reports"], summary="Cards flagged for offline overspend")
def overspend(request: Request, actor: Reader) -> dict[str, object]:
    return read(request, reports.overspend)


@router.get("/reports/export.csv", tags=["reports"], summary="Every posting in a period, CSV for the bookkeeping",
            response_description="Streamed in constant memory. dialect=plain: ',' and a decimal point, English "
                                 "headers; dialect=nl: ';', a decimal comma, Dutch headers and a BOM (Dutch Excel).")
def export_csv(request: Request, actor: Reader, from_: Annotated[IsoDate, Query(alias="from")],
               to: IsoDate, dialect: Literal["plain", "nl"] = "plain") -> ClosingStreamingResponse:
    # csv_export checks the period before the stream (and its 200) starts
    chunks = export.csv_export(ctx_of(request).db, from_, to, dialect)
    name = f"floreyn-{from_}-{to}" + ("" if dialect == "plain" else f"-{dialect}")
    return ClosingStreamingResponse(chunks, media_type="text/csv; charset=utf-8",
                                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
