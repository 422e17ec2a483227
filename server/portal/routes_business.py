"""Pages of shops and self-employed (sales, payment requests), funders (aggregates) and the treasurer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, Response
from markupsafe import Markup
from sqlalchemy import Connection

from floreyn.errors import FloreynError
from floreyn.money import Currency, parse_money
from floreyn.server import payment_requests, payments
from floreyn.server.errors import NotFound
from floreyn.server.portal import charts, csvout, qr, queries, users, web
from floreyn.server.portal.guard import PAYERS, check_csrf, page
from floreyn.server.portal.routes_member import subject

router = APIRouter()
Field = Annotated[str, Form(max_length=300)]
MERCHANT = frozenset({"merchant"})
FUNDER = frozenset({"funder"})
TREASURER = frozenset({"admin", "auditor"})


def _party(p: web.Page) -> payments.Party:
    assert p.session is not None
    return payments.Party(p.session.user.role, p.session.user.subject_id or "")


# -- payment requests ----------------------------------------------------------------------------


@router.get("/requests")
def requests_page(request: Request) -> Response:
    p = page(request, PAYERS)
    payee = _party(p)
    rows = p.ctx.db.read(lambda conn: payment_requests.recent(conn, payee, p.now))
    return web.render(p, "requests.html", requests=rows, error=None, amount="", description="")


@router.post("/requests")
def make_request(request: Request, csrf: Field = "", amount: Field = "", description: Field = "") -> Response:
    p = page(request, PAYERS)
    check_csrf(p, csrf)
    payee = _party(p)
    session = p.session
    assert session is not None
    try:
        cents = parse_money(amount.strip(), Currency.FL).cents

        def run(conn: Connection) -> dict[str, Any]:
            out = payment_requests.create(conn, payee=payee, amount_cents=cents, description=description, now=p.now)
            users.audit(conn, session.user, "portal.request_create", request.url.path, p.now,
                        amount_cents=cents, code=out["code"][:6])
            return out

        made = p.ctx.db.write(run)
    except FloreynError as exc:
        rows = p.ctx.db.read(lambda conn: payment_requests.recent(conn, payee, p.now))
        return web.render(p, "requests.html", status=422, requests=rows, error=exc.message(p.lang), amount=amount,
                          description=description)
    return web.redirect(f"{web.PREFIX}/requests/{made['code']}")


def _own_request(p: web.Page, code: str) -> dict[str, Any]:
    payee = _party(p)
    view = p.ctx.db.read(lambda conn: payment_requests.view(conn, code, p.now))
    if view["payee"] != payee:
        raise NotFound(what="payment request", id=code[:32])
    return view


def pay_url(p: web.Page, code: str) -> str:
    base = p.ctx.portal_url or str(p.request.base_url).rstrip("/") + web.PREFIX
    return f"{base.rstrip('/')}/r/{code}"


@router.get("/requests/{code}")
def request_page(request: Request, code: str) -> Response:
    p = page(request, PAYERS)
    view = _own_request(p, code)
    return web.render(p, "request.html", req=view, url=pay_url(p, code),
                      qr_svg=Markup(qr.svg(pay_url(p, code))))  # our own SVG: made from a URL we built


@router.get("/requests/{code}/status")
def request_status(request: Request, code: str) -> JSONResponse:
    """For the payee's page to update itself (static/portal.js polls it every second)."""
    p = page(request, PAYERS)
    view = _own_request(p, code)
    text = {"open": "Waiting for the payment…", "paid": "Paid by {name}", "expired": "Expired",
            "cancelled": "Cancelled"}[view["status"]]
    return JSONResponse({"status": view["status"], "text": web._(p.lang, text, name=view["paid_by"] or "")},
                        headers={"Cache-Control": "no-store"})


@router.get("/requests/{code}/qr.svg")
def request_qr(request: Request, code: str) -> Response:
    p = page(request, PAYERS)
    _own_request(p, code)
    return Response(qr.svg(pay_url(p, code)), media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


@router.get("/requests/{code}/qr.png")
def request_qr_png(request: Request, code: str) -> Response:
    p = page(request, PAYERS)
    _own_request(p, code)
    return Response(qr.png(pay_url(p, code)), media_type="image/png", headers={"Cache-Control": "no-store"})


@router.post("/requests/{code}/cancel")
def cancel_request(request: Request, code: str, csrf: Field = "") -> Response:
    p = page(request, PAYERS)
    check_csrf(p, csrf)
    payee = _party(p)
    session = p.session
    assert session is not None

    def run(conn: Connection) -> None:
        payment_requests.cancel(conn, code=code, payee=payee)
        users.audit(conn, session.user, "portal.request_cancel", request.url.path[:60], p.now, code=code[:6])

    p.ctx.db.write(run)
    return web.redirect(f"{web.PREFIX}/requests")


# -- shops and self-employed -------------------------------------------------------------------------


@router.get("/shop")
def shop(request: Request, month: str = "") -> Response:
    p = page(request, MERCHANT)
    month = queries.valid_month(month, p.now)
    merchant_id = subject(p)
    view = p.ctx.db.read(lambda conn: {**queries.merchant_sales(conn, merchant_id, month),
                                       "name": payments.party_name(conn, payments.Party("merchant", merchant_id))},
                         snapshot=True)
    per_day: dict[str, int] = {}
    for line in view["lines"]:
        per_day[line["day"][8:]] = per_day.get(line["day"][8:], 0) + line["received_cents"]
    chart = charts.bars(list(per_day.items()), [web.money(v, p.lang) for v in per_day.values()],
                        web._(p.lang, "Received per day"))
    return web.render(p, "shop.html", **view, chart=Markup(chart), **queries.month_links(month, p.now))


@router.get("/shop.csv")
def shop_csv(request: Request, month: str = "") -> Response:
    p = page(request, MERCHANT)
    month = queries.valid_month(month, p.now)
    merchant_id = subject(p)
    view = p.ctx.db.read(lambda conn: queries.merchant_sales(conn, merchant_id, month), snapshot=True)
    rows = [(x["day"], x["till"], x["count"], csvout.amount(x["received_cents"]), csvout.amount(x["refunded_cents"]),
             csvout.amount(x["saved_cents"]), csvout.amount(x["net_cents"])) for x in view["lines"]]
    return csvout.response(f"floreyn-sales-{month}.csv", ("date", "till", "transactions", "received_fl",
                                                          "refunded_fl", "savings_granted_fl", "net_fl"), rows)


# -- funders -------------------------------------------------------------------------------------------


@router.get("/funder")
def funder(request: Request) -> Response:
    p = page(request, FUNDER)
    funder_id = subject(p)
    programmes = p.ctx.db.read(lambda conn: queries.funder_report(conn, funder_id), snapshot=True)
    for prog in programmes:
        if prog["shown"]:
            rows = prog["by_category"]["rows"]
            prog["chart"] = Markup(charts.bars([(r["name"], r["spent_cents"]) for r in rows],
                                               [web.money(r["spent_cents"], p.lang) for r in rows],
                                               web._(p.lang, "Spent by category")))
            months = prog["by_month"]["rows"]
            prog["month_chart"] = Markup(charts.bars([(r["name"], r["spent_cents"]) for r in months],
                                                     [web.money(r["spent_cents"], p.lang) for r in months],
                                                     web._(p.lang, "Spent by month")))
    return web.render(p, "funder.html", programmes=programmes, minimum=queries.MIN_RECIPIENTS)


@router.get("/funder.csv")
def funder_csv(request: Request) -> Response:
    p = page(request, FUNDER)
    funder_id = subject(p)
    programmes = p.ctx.db.read(lambda conn: queries.funder_report(conn, funder_id), snapshot=True)
    rows: list[tuple[object, ...]] = []
    for prog in programmes:
        if not prog["shown"]:
            rows.append((prog["label"], "withheld", "", "", "fewer than 5 recipients"))
            continue
        for name in ("granted", "spent", "left", "expired"):
            rows.append((prog["label"], "total", name, csvout.amount(prog[f"{name}_cents"]), prog["recipients"]))
        for dim in ("by_category", "by_merchant", "by_month"):
            for r in prog[dim]["rows"]:
                rows.append((prog["label"], dim, r["name"], csvout.amount(r["spent_cents"]), r["recipients"]))
    return csvout.response("floreyn-funder.csv", ("programme", "dimension", "name", "fl", "recipients"), rows)


# -- the treasurer ----------------------------------------------------------------------------------------


@router.get("/treasurer")
def treasurer(request: Request) -> Response:
    p = page(request, TREASURER)
    view = p.ctx.db.read(lambda conn: queries.treasurer(conn, p.now), snapshot=True)
    chart = charts.bars([(m["name"], m["circulation_cents"]) for m in view["months"]],
                        [web.money(m["circulation_cents"], p.lang) for m in view["months"]],
                        web._(p.lang, "Floreyn in circulation at the end of each month"))
    return web.render(p, "treasurer.html", **view, chart=Markup(chart))
