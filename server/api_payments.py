"""Admin endpoints for payments between accounts (the desk on the payer's behalf) and their limits.

The portal's members, shops and self-employed pay through the same service
(server/payments.py), authorized by their own session instead of a token.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import Field, StringConstraints

from floreyn.server import admin_auth, payments
from floreyn.server.api_common import Actor, read, require, write
from floreyn.server.models import MAX_DESK_CENTS, Ident, Strict, Write

router = APIRouter(prefix="/v1/admin/payments", tags=["desk"])
Desk = Annotated[Actor, Depends(require(admin_auth.DESK))]
Reader = Annotated[Actor, Depends(require(admin_auth.READ))]
Admin = Annotated[Actor, Depends(require(admin_auth.ADMIN))]
LimitCents = Annotated[int, Field(ge=0, le=MAX_DESK_CENTS)]


class PartyIn(Strict):
    kind: Literal["member", "merchant"] = Field(description="A self-employed person is a merchant account.")
    id: Ident


class PaymentIn(Write):
    payer: PartyIn
    payee: PartyIn
    amount_cents: Annotated[int, Field(ge=1, le=MAX_DESK_CENTS)]
    budget_id: Ident | None = Field(None, description="Pay from this budget of the member (its categories must "
                                                      "fit the payee merchant's); absent: the wallet.")
    memo: Annotated[str, StringConstraints(max_length=payments.MAX_MEMO_CHARS)] = ""


class LimitsIn(Strict):
    member_per_payment_cents: LimitCents | None = None
    member_per_day_cents: LimitCents | None = None
    merchant_per_payment_cents: LimitCents | None = None
    merchant_per_day_cents: LimitCents | None = None
    reconfirm_above_cents: LimitCents | None = None


class LimitsUpdate(Write):
    limits: LimitsIn


@router.post("", summary="Pay from a member or merchant to a member or merchant (on the payer's behalf)")
def pay(request: Request, body: PaymentIn, actor: Desk) -> dict[str, object]:
    return write(request, actor, "payment.pay", body, lambda conn, now: payments.pay(
        conn, payer=payments.Party(body.payer.kind, body.payer.id),
        payee=payments.Party(body.payee.kind, body.payee.id), amount_cents=body.amount_cents,
        request_id=body.request_id, now=now, budget_id=body.budget_id, memo=body.memo, channel="desk"))


@router.get("/limits", summary="Payment limits per payment and per day, and the portal's reconfirm amount")
def get_limits(request: Request, actor: Reader) -> dict[str, object]:
    from dataclasses import asdict

    return asdict(read(request, payments.get_limits))


@router.put("/limits", summary="Change payment limits (admin)")
def put_limits(request: Request, body: LimitsUpdate, actor: Admin) -> dict[str, object]:
    from dataclasses import asdict

    changes = {k: v for k, v in body.limits.model_dump().items() if v is not None}
    return write(request, actor, "payment.limits", body,
                 lambda conn, now: asdict(payments.set_limits(conn, changes)))
