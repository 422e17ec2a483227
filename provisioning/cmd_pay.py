"""`pay`: the desk pays between accounts on the payer's behalf (server/payments.py, POST /v1/admin/payments).

    floreyn-provision pay --from member:m-0042 --to merchant:M-harry --amount 25 --budget B-portaal-0042 \\
        --memo "dakgoot schoonmaken"
    floreyn-provision pay --from merchant:M-bakker --to merchant:M-molen --amount 180 --memo meel

A self-employed person is a merchant account. The same rules as in the
portal: a budget pays only a shop or self-employed person of a fitting
category, limits per payment and per day, never below zero. A rerun after a
lost answer reuses the journalled request id and is answered "exists".
"""

from __future__ import annotations

from typing import Any

from floreyn.money import Currency
from floreyn.provisioning import parse
from floreyn.provisioning.context import Ctx
from floreyn.provisioning.errors import invalid
from floreyn.provisioning.output import fields
from floreyn.provisioning.output import fl as fl_text


def add_parser(sub: Any) -> None:
    p = sub.add_parser("pay", help="pay between accounts on the payer's behalf (member or merchant)")
    p.add_argument("--from", required=True, dest="payer", help="member:ID or merchant:ID")
    p.add_argument("--to", required=True, dest="payee", help="member:ID or merchant:ID")
    p.add_argument("--amount", required=True, help="Floreyn, e.g. 25 or 12,50")
    p.add_argument("--budget", dest="budget_id", help="pay from this budget of the member (else the wallet)")
    p.add_argument("--memo", default="", help="what it is for (shown on both statements)")
    p.set_defaults(run=pay)


def _party(text: str, field: str) -> dict[str, str]:
    kind, _, ident = text.partition(":")
    if kind not in ("member", "merchant") or not ident:
        raise invalid(field, "{field} is member:ID or merchant:ID", field=field)
    return {"kind": kind, "id": parse.ident(ident, field)}


def pay(ctx: Ctx) -> int:
    a = ctx.args
    body: dict[str, object] = {"payer": _party(a.payer, "--from"), "payee": _party(a.payee, "--to"),
                            "amount_cents": parse.money(a.amount, "--amount", Currency.FL).cents,
                            "memo": parse.text(a.memo, "--memo", 120, required=False) or ""}
    if a.budget_id:
        body["budget_id"] = parse.ident(a.budget_id, "--budget")
    answer = ctx.write("payment.pay", "POST", "/v1/admin/payments", body)
    ctx.out.result(answer, lambda: fields([
        ("van", f"{answer['payer']} ({answer['from_account']})"),
        ("aan", answer["to_account"]),
        ("bedrag", fl_text(answer["amount_cents"])),
        ("betaling", f"{answer['payment_id']} ({answer.get('result')})"),
    ]))
    return 0
