"""Admin endpoints of the money loop: exchange rates, settlement runs, statements, bank batches and files."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import Field, StringConstraints

from floreyn.server import admin_auth, circulation, rates, sepa, settlement, statements
from floreyn.server.api_common import Actor, ctx_of, read, require, write
from floreyn.server.models import Holder, Iban, Ident, IsoDate, Write

router = APIRouter()
Reader = Annotated[Actor, Depends(require(admin_auth.READ))]
Admin = Annotated[Actor, Depends(require(admin_auth.ADMIN))]
Period = Annotated[str, StringConstraints(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
Rate = Annotated[int, Field(ge=1, le=1_000_000)]


class RateSet(Write):
    ask_bp: Rate
    bid_bp: Annotated[int, Field(ge=0, le=1_000_000)]
    from_: Annotated[str, StringConstraints(min_length=3, max_length=40)] = Field(
        "now", alias="from", description="'now', YYYY-MM-DD (its first moment in Amersfoort) or an ISO date-time")


class SettleRun(Write):
    period: Period
    execution_date: IsoDate | None = Field(None, description="The day the bank pays or collects (default today)")


class BatchConfirm(Write):
    merchant_ids: list[Ident] | None = Field(None, max_length=5_000,
                                             description="Only these merchants' lines (default: the whole batch)")


class BankSet(Write):
    name: Holder
    iban: Iban
    creditor_id: Annotated[str, StringConstraints(min_length=5, max_length=35, pattern=r"^[A-Z0-9]+$")] | None = None


# -- rates ---------------------------------------------------------------------------


@router.get("/rates", tags=["rates"], summary="Exchange rates: the one in force now and the history")
def get_rates(request: Request, actor: Reader) -> dict[str, object]:
    now = ctx_of(request).clock()
    return read(request, lambda conn: rates.history(conn, now))


@router.post("/rates", tags=["rates"], summary="Set a rate from a moment on (never before now)")
def set_rates(request: Request, body: RateSet, actor: Admin) -> dict[str, object]:
    return write(request, actor, "rates.set", body, lambda conn, now: rates.set_rate(
        conn, ask_bp=body.ask_bp, bid_bp=body.bid_bp, from_ms=rates.from_ms_of(body.from_, now), now_ms=now))


# -- settlement ----------------------------------------------------------------------


@router.post("/settlements", tags=["settlement"],
             summary="Settle every merchant for a month, close it and open its bank batch")
def run_settlement(request: Request, body: SettleRun, actor: Admin) -> dict[str, object]:
    return write(request, actor, "settle.run", body, lambda conn, now: settlement.run(
        conn, period=body.period, execution_date=body.execution_date, request_id=body.request_id, now=now))


@router.get("/settlements", tags=["settlement"], summary="Closed periods and their batches")
def list_settlements(request: Request, actor: Reader) -> dict[str, object]:
    return {"periods": read(request, settlement.periods)}


@router.get("/settlements/{period}", tags=["settlement"], summary="What each merchant settled for a period")
def get_settlement(request: Request, period: Period, actor: Reader) -> dict[str, object]:
    return read(request, lambda conn: settlement.lines(conn, period))


_MEDIA = {"json": "application/json", "text": "text/plain; charset=utf-8", "csv": "text/csv; charset=utf-8",
          "html": "text/html; charset=utf-8"}


@router.get("/settlements/{period}/statements/{merchant_id}", tags=["settlement"],
            summary="A merchant's statement: json, text, csv or html (print-ready)")
def statement(request: Request, period: Period, merchant_id: Ident, actor: Reader,
              format: Annotated[str, Query(pattern="^(json|text|csv|html)$")] = "json") -> Any:
    st = ctx_of(request).db.read(lambda conn: statements.build(conn, period, merchant_id), snapshot=True)
    if format == "json":
        return st
    text = {"text": statements.as_text, "csv": statements.as_csv, "html": statements.as_html}[format](st)
    return Response(text, media_type=_MEDIA[format])


# -- circulation ---------------------------------------------------------------------


@router.get("/reports/circulation/monthly", tags=["reports"],
            summary="How Floreyn moved per month: issued, spent, re-spent, cashed out, velocity, twice-used share")
def circulation_monthly(request: Request, actor: Reader, from_: Annotated[Period, Query(alias="from")],
                        to: Period) -> dict[str, object]:
    return ctx_of(request).db.read(lambda conn: circulation.report(conn, from_, to), snapshot=True)


# -- bank batches --------------------------------------------------------------------


@router.post("/bank", tags=["settlement"], summary="The cooperative's own bank account (and SEPA creditor id)")
def set_bank(request: Request, body: BankSet, actor: Admin) -> dict[str, object]:
    return write(request, actor, "bank.set", body, lambda conn, now: sepa.set_bank(
        conn, name=body.name, iban=body.iban, creditor_id=body.creditor_id))


@router.get("/payouts/{batch_id}", tags=["settlement"], summary="A bank batch: its lines and whether paid")
def get_batch(request: Request, batch_id: Ident, actor: Reader) -> dict[str, object]:
    return read(request, lambda conn: settlement.batch_view(conn, batch_id))


@router.post("/payouts/{batch_id}/confirm", tags=["settlement"],
             summary="The bank carried out the batch (or the euros arrived): book it as paid")
def confirm_batch(request: Request, batch_id: Ident, body: BatchConfirm, actor: Admin) -> dict[str, object]:
    return write(request, actor, "settle.confirm", body, lambda conn, now: settlement.confirm(
        conn, batch_id=batch_id, merchant_ids=body.merchant_ids, request_id=body.request_id, now=now),
        path_params={"batch_id": batch_id})


@router.get("/payouts/{batch_id}/files/{name}", tags=["settlement"],
            summary="The batch's bank files: pain.001.xml (transfers), pain.008.xml (debits), invoices.csv")
def batch_file(request: Request, batch_id: Ident, actor: Reader,
               name: Annotated[str, StringConstraints(pattern=r"^(pain\.001\.xml|pain\.008\.xml|invoices\.csv)$")]
               ) -> Response:
    if name == "invoices.csv":
        return Response(read(request, lambda conn: sepa.invoice_csv(conn, batch_id)),
                        media_type="text/csv; charset=utf-8")
    make = sepa.transfer_file if name == "pain.001.xml" else sepa.debit_file
    return Response(read(request, lambda conn: make(conn, batch_id)), media_type="application/xml")
