"""Payment requests: "Ontvang fl 25,00 voor: dakgoot schoonmaken", paid once, before it expires.

A shop or self-employed person without a till (or a member) makes a request;
its random code goes into a QR code; the payer opens it, confirms, and the
payment goes through server/payments.py under the request id "req:<code>",
so a double tap pays once. The request row is locked while it is paid, and
only an open, unexpired request can be paid: a second payer is refused.
"""

from __future__ import annotations

import secrets
from typing import Any, Final

from sqlalchemy import Connection, select, update

from floreyn.server import payments
from floreyn.server import schema as s
from floreyn.server.errors import Conflict, NotFound, RequestInvalid

CODE_BYTES: Final = 12  # 16 url-safe characters: not guessable, short enough for a QR code a phone reads
DEFAULT_TTL_S: Final = 30 * 60  # a request on a phone screen is meant for now
MAX_TTL_S: Final = 7 * 86400
MAX_OPEN_PER_PAYEE: Final = 50  # more open requests than this are refused (cancel or let some expire)
MAX_DESCRIPTION_CHARS: Final = 120


class RequestClosed(Conflict):
    code = "payment_request_closed"
    msgid = "This payment request is {state}."


_STATE_TEXT: Final = {"paid": ("al betaald", "already paid"), "expired": ("verlopen", "expired"),
                      "cancelled": ("ingetrokken", "cancelled")}


def create(conn: Connection, *, payee: payments.Party, amount_cents: int, description: str, now: int,
           ttl_s: int = DEFAULT_TTL_S) -> dict[str, Any]:
    description = " ".join(description.split())[:MAX_DESCRIPTION_CHARS]
    if not description:
        raise RequestInvalid(detail="say what the payment is for")
    if not 1 <= amount_cents <= payments.get_limits(conn).member_per_payment_cents:
        raise payments.PaymentOverLimit(limit_cents=payments.get_limits(conn).member_per_payment_cents,
                                        currency="fl")
    if not 60 <= ttl_s <= MAX_TTL_S:
        raise RequestInvalid(detail=f"a request lasts 60 s to {MAX_TTL_S} s")
    open_count = len(conn.execute(select(s.payment_requests.c.request_code).where(
        s.payment_requests.c.payee == payee.key, s.payment_requests.c.status == "open",
        s.payment_requests.c.expires_ms > now).limit(MAX_OPEN_PER_PAYEE)).all())
    if open_count >= MAX_OPEN_PER_PAYEE:
        raise Conflict(detail=f"at most {MAX_OPEN_PER_PAYEE} open payment requests")
    code = secrets.token_urlsafe(CODE_BYTES)
    conn.execute(s.payment_requests.insert().values(
        request_code=code, payee=payee.key, amount_cents=amount_cents, description=description, status="open",
        created_ms=now, expires_ms=now + ttl_s * 1000))
    return view(conn, code, now)


def view(conn: Connection, code: str, now: int) -> dict[str, Any]:
    row = conn.execute(select(s.payment_requests).where(s.payment_requests.c.request_code == code[:32])).first()
    if row is None:
        raise NotFound(what="payment request", id=code[:32])
    status = "expired" if row.status == "open" and row.expires_ms < now else row.status
    payee = payments.Party.parse(row.payee)
    paid_by = payments.party_name(conn, payments.Party.parse(row.paid_by)) if row.paid_by else None
    return {"code": row.request_code, "payee": payee, "payee_name": payments.party_name(conn, payee),
            "amount_cents": row.amount_cents, "description": row.description, "status": status,
            "created_ms": row.created_ms, "expires_ms": row.expires_ms, "paid_by": paid_by, "paid_ms": row.paid_ms,
            "payment_id": row.payment_id}


def recent(conn: Connection, payee: payments.Party, now: int, limit: int = 20) -> list[dict[str, Any]]:
    codes = conn.execute(select(s.payment_requests.c.request_code).where(s.payment_requests.c.payee == payee.key)
                         .order_by(s.payment_requests.c.created_ms.desc()).limit(limit)).scalars().all()
    return [view(conn, c, now) for c in codes]


def pay(conn: Connection, *, code: str, payer: payments.Party, budget_id: str | None, now: int) -> dict[str, Any]:
    """Pay an open request once; the payment's request id is the request's, so a retry answers "exists"."""
    row = conn.execute(select(s.payment_requests).where(s.payment_requests.c.request_code == code[:32])
                       .with_for_update()).first()
    if row is None:
        raise NotFound(what="payment request", id=code[:32])
    if row.status == "paid" and row.paid_by == payer.key:  # the same payer's retry: the same answer
        return {**view(conn, code, now), "result": "exists"}
    state = "expired" if row.status == "open" and row.expires_ms < now else row.status
    if state != "open":
        nl, en = _STATE_TEXT[state]
        raise RequestClosed(state_nl=nl, state_en=en)
    paid = payments.pay(conn, payer=payer, payee=payments.Party.parse(row.payee), amount_cents=row.amount_cents,
                        request_id=f"req:{row.request_code}", now=now, budget_id=budget_id,
                        memo=row.description, channel="portal")
    done = conn.execute(update(s.payment_requests).where(s.payment_requests.c.request_code == row.request_code,
                                                         s.payment_requests.c.status == "open")
                        .values(status="paid", payment_id=paid["payment_id"], paid_by=payer.key, paid_ms=now))
    assert done.rowcount == 1, "the request row was locked and open"
    return {**view(conn, code, now), "result": "created"}


def cancel(conn: Connection, *, code: str, payee: payments.Party) -> None:
    conn.execute(update(s.payment_requests).where(s.payment_requests.c.request_code == code[:32],
                                                  s.payment_requests.c.payee == payee.key,
                                                  s.payment_requests.c.status == "open").values(status="cancelled"))
