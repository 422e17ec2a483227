"""A member's pages: balance and budgets, the monthly statement (and CSV), the card, paying someone."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy import Connection, select

from floreyn.errors import FloreynError
from floreyn.money import Currency, parse_money
from floreyn.server import admin_people, payment_requests, payments, snapshots, state
from floreyn.server import schema as s
from floreyn.server.errors import NotFound
from floreyn.server.portal import csvout, queries, users, web
from floreyn.server.portal.guard import PAYERS, check_csrf, page

router = APIRouter()
Field = Annotated[str, Form(max_length=300)]
MEMBER = frozenset({"member"})
MAX_MERCHANTS_LISTED = 500  # the pay page's list of shops and self-employed; more is typed by number


@router.get("/me")
def me(request: Request) -> Response:
    p = page(request, MEMBER)
    member_id = subject(p)
    view = p.ctx.db.read(lambda conn: queries.member_overview(conn, member_id, p.now))
    return web.render(p, "me.html", **view, member_id=member_id)


@router.get("/statement")
def statement(request: Request, month: str = "") -> Response:
    p = page(request, MEMBER)
    month = queries.valid_month(month, p.now)
    member_id = subject(p)
    view = p.ctx.db.read(lambda conn: queries.statement(conn, member_id, month), snapshot=True)
    return web.render(p, "statement.html", **view, **queries.month_links(month, p.now))


@router.get("/statement.csv")
def statement_csv(request: Request, month: str = "") -> Response:
    p = page(request, MEMBER)
    month = queries.valid_month(month, p.now)
    member_id = subject(p)
    view = p.ctx.db.read(lambda conn: queries.statement(conn, member_id, month), snapshot=True)
    rows = [(web.day_text(x["ms"], "en"), web.time_text(x["ms"]), x["kind"], csvout.amount(x["amount_cents"]),
             x["budget"], x["other"], x["receipt"], x["memo"]) for x in view["lines"]]
    return csvout.response(f"floreyn-{month}.csv", ("date", "time", "kind", "amount_fl", "budget", "shop_or_person",
                                                    "receipt", "memo"), rows)


def subject(p: web.Page) -> str:
    """The signed-in user's member, merchant or funder id (`page` has checked the role)."""
    assert p.session is not None and p.session.user.subject_id is not None
    return p.session.user.subject_id


# -- the card ------------------------------------------------------------------------------------


@router.get("/card")
def card(request: Request, done: str = "") -> Response:
    p = page(request, MEMBER)
    member_id = subject(p)
    view = p.ctx.db.read(lambda conn: queries.member_overview(conn, member_id, p.now))
    return web.render(p, "card.html", cards=view["cards"], done=done)


@router.post("/card/block")
def block_card(request: Request, csrf: Field = "", card_id: Field = "") -> Response:
    p = page(request, MEMBER)
    check_csrf(p, csrf)
    session = p.session
    assert session is not None

    def run(conn: Connection) -> None:
        owner = conn.execute(select(s.cards.c.member_id, s.cards.c.status)
                             .where(s.cards.c.card_id == card_id[:32])).first()
        if owner is None or owner.member_id != session.user.subject_id:
            raise NotFound(what="card", id=card_id[-4:])
        if owner.status == "active":  # the desk's block: the tills' snapshots carry it at their next sync
            admin_people.block_card(conn, card_id, "blocked by the member in the portal")
        users.audit(conn, session.user, "portal.card_block", request.url.path, p.now, card=card_id[-4:])

    p.ctx.db.write(run)
    return web.redirect(f"{web.PREFIX}/card?done=blocked")


@router.post("/card/new")
def new_card(request: Request, csrf: Field = "") -> Response:
    p = page(request, MEMBER)
    check_csrf(p, csrf)
    session = p.session
    assert session is not None

    def run(conn: Connection) -> None:  # the desk sees the request among the treasurer's open alerts
        state.alert(conn, "card_requested", p.now, member=session.user.subject_id)
        users.audit(conn, session.user, "portal.card_request", request.url.path, p.now)

    p.ctx.db.write(run)
    return web.redirect(f"{web.PREFIX}/card?done=requested")


# -- paying --------------------------------------------------------------------------------------


def payer_of(p: web.Page) -> payments.Party:
    assert p.session is not None
    return payments.Party(p.session.user.role, p.session.user.subject_id or "")


def sources(conn: Connection, payer: payments.Party, payee: payments.Party | None, now: int) -> list[dict[str, Any]]:
    """What the payer may pay this payee from: the wallet, and each live budget whose rules allow it."""
    out = [{"id": "", "label": None, "left_cents": payments.spendable(conn, payer.account, now)}]
    if payer.kind != "member" or payee is None or payee.kind != "merchant":
        return out
    category = snapshots.merchant_config(conn, payee.id).category
    for b in snapshots.member_budgets(conn, [payer.id], state.local_date(now).isoformat())[payer.id]:
        if payments.category_fits(category, json.loads(b.categories)):
            out.append({"id": b.budget_id, "label": b.label,
                        "left_cents": payments.spendable(conn, f"budget:{b.budget_id}", now)})
    return out


def merchants_list(conn: Connection) -> list[dict[str, str]]:
    rows = conn.execute(select(s.merchants.c.merchant_id, s.merchants.c.name).order_by(s.merchants.c.name)
                        .limit(MAX_MERCHANTS_LISTED)).all()
    return [{"id": r.merchant_id, "name": r.name} for r in rows]


@router.get("/pay")
def pay_form(request: Request, to: str = "", amount: str = "", memo: str = "") -> Response:
    p = page(request, PAYERS)
    shops = p.ctx.db.read(merchants_list)
    return web.render(p, "pay.html", shops=shops, to=to[:140], amount=amount[:20], memo=memo[:120], error=None,
                      member_number="")


def _parse_amount(text: str, lang: str) -> int:
    return parse_money(text.strip(), Currency.FL).cents


@router.post("/pay")
def pay_review(request: Request, csrf: Field = "", to_shop: Field = "", to_member: Field = "", amount: Field = "",
               memo: Field = "") -> Response:
    """Step 1 -> 2: who and how much, checked; the confirm page shows it plainly with the sources allowed."""
    p = page(request, PAYERS)
    check_csrf(p, csrf)
    payer = payer_of(p)
    try:
        payee = payments.Party("member", to_member.strip()) if to_member.strip() else payments.Party(
            "merchant", to_shop.strip())
        cents = _parse_amount(amount, p.lang)
        view = p.ctx.db.read(lambda conn: _review(conn, payer, payee, cents, p.now))
    except FloreynError as exc:
        shops = p.ctx.db.read(merchants_list)
        return web.render(p, "pay.html", status=422, shops=shops, to=f"merchant:{to_shop}" if to_shop else "",
                          amount=amount, memo=memo, error=exc.message(p.lang), member_number=to_member)
    return web.render(p, "confirm.html", **view, memo=memo[:120], request_id=uuid.uuid4().hex, code=None,
                      ask_password=_ask_password(p, view["limits"], cents), error=None)


def _review(conn: Connection, payer: payments.Party, payee: payments.Party, cents: int, now: int) -> dict[str, Any]:
    if payer == payee:
        raise payments.PaymentToSelf()
    limits = payments.get_limits(conn)
    if cents > limits.per_payment(payer.kind):
        raise payments.PaymentOverLimit(limit_cents=limits.per_payment(payer.kind), currency="fl")
    return {"payee": payee, "payee_name": payments.party_name(conn, payee), "amount_cents": cents,
            "sources": sources(conn, payer, payee, now), "limits": limits}


def _ask_password(p: web.Page, limits: payments.PaymentLimits, cents: int) -> bool:
    """Above the configured amount every payment asks for the password again (a phone left unlocked)."""
    return cents > limits.reconfirm_above_cents


@router.post("/pay/confirm")
def pay_confirm(request: Request, csrf: Field = "", payee: Field = "", amount_cents: Field = "0",
                source: Field = "", memo: Field = "", request_id: Field = "", password: Field = "") -> Response:
    p = page(request, PAYERS)
    check_csrf(p, csrf)
    payer = payer_of(p)
    session = p.session
    assert session is not None
    cents = int(amount_cents) if amount_cents.isdigit() else 0
    to = payments.Party.parse(payee)
    rid = request_id if 8 <= len(request_id) <= 64 and request_id.isalnum() else uuid.uuid4().hex

    def run(conn: Connection) -> Any:
        limits = payments.get_limits(conn)
        if _ask_password(p, limits, cents) and not users.reconfirm(conn, session, password, p.now):
            users.audit(conn, session.user, "portal.pay_reconfirm_failed", request.url.path, p.now, status=401)
            return users.SigninRefused()
        try:
            out = payments.pay(conn, payer=payer, payee=to, amount_cents=cents, request_id=rid, now=p.now,
                               budget_id=source or None, memo=memo, channel="portal")
        except FloreynError as exc:
            users.audit(conn, session.user, "portal.pay_refused", request.url.path, p.now, status=409,
                        request_id=rid, reason=exc.code, amount_cents=cents, payee=to.key)
            return exc
        users.audit(conn, session.user, "portal.pay", request.url.path, p.now, request_id=rid,
                    payment_id=out["payment_id"], amount_cents=cents, payee=to.key, source=source or "wallet")
        return out

    out = p.ctx.db.write(run)
    if isinstance(out, FloreynError):
        view = p.ctx.db.read(lambda conn: _review(conn, payer, to, cents, p.now))
        return web.render(p, "confirm.html", status=409, **view, memo=memo, request_id=uuid.uuid4().hex,
                          code=None, ask_password=_ask_password(p, view["limits"], cents),
                          error=out.message(p.lang))
    name = p.ctx.db.read(lambda conn: payments.party_name(conn, to))
    return web.render(p, "paid.html", amount_cents=cents, payee_name=name, memo=memo)


# -- scanning a payment request ----------------------------------------------------------------------


@router.get("/scan")
def scan(request: Request, code: str = "") -> Response:
    p = page(request, PAYERS)
    code = code.strip().rsplit("/", 1)[-1][:32]
    if code:
        return web.redirect(f"{web.PREFIX}/r/{code}")
    return web.render(p, "scan.html")


@router.get("/r/{code}")
def request_to_pay(request: Request, code: str) -> Response:
    p = page(request, PAYERS)  # not signed in: sign in first, then back here
    payer = payer_of(p)

    def load(conn: Connection) -> dict[str, Any]:
        req = payment_requests.view(conn, code, p.now)
        return {**req, "sources": sources(conn, payer, req["payee"], p.now),
                "limits": payments.get_limits(conn)}

    view = p.ctx.db.read(load)
    return web.render(p, "confirm.html", payee=view["payee"], payee_name=view["payee_name"],
                      amount_cents=view["amount_cents"], sources=view["sources"], memo=view["description"],
                      request_id="", code=code, status_text=view["status"], error=None,
                      ask_password=_ask_password(p, view["limits"], view["amount_cents"]))


@router.post("/r/{code}/pay")
def pay_request(request: Request, code: str, csrf: Field = "", source: Field = "", password: Field = "") -> Response:
    p = page(request, PAYERS)
    check_csrf(p, csrf)
    payer = payer_of(p)
    session = p.session
    assert session is not None

    def run(conn: Connection) -> Any:
        req = payment_requests.view(conn, code, p.now)
        if _ask_password(p, payments.get_limits(conn), req["amount_cents"]) and not users.reconfirm(
                conn, session, password, p.now):
            return users.SigninRefused()
        try:
            out = payment_requests.pay(conn, code=code, payer=payer, budget_id=source or None, now=p.now)
        except FloreynError as exc:
            users.audit(conn, session.user, "portal.pay_request_refused", request.url.path[:60], p.now, status=409,
                        reason=exc.code)
            return exc
        users.audit(conn, session.user, "portal.pay_request", request.url.path[:60], p.now,
                    payment_id=out["payment_id"], amount_cents=out["amount_cents"], payee=out["payee"].key)
        return out

    out = p.ctx.db.write(run)
    if isinstance(out, FloreynError):
        view = p.ctx.db.read(lambda conn: {**payment_requests.view(conn, code, p.now)})
        srcs = p.ctx.db.read(lambda conn: sources(conn, payer, view["payee"], p.now))
        limits = p.ctx.db.read(payments.get_limits)
        return web.render(p, "confirm.html", status=409, payee=view["payee"], payee_name=view["payee_name"],
                          amount_cents=view["amount_cents"], sources=srcs, memo=view["description"], request_id="",
                          code=code, status_text=view["status"], error=out.message(p.lang),
                          ask_password=_ask_password(p, limits, view["amount_cents"]))
    return web.render(p, "paid.html", amount_cents=out["amount_cents"], payee_name=out["payee_name"],
                      memo=out["description"])
