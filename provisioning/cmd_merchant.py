"""`merchant add | list | show | update` and `funder add | list`.

    floreyn-provision merchant add --id M-bakker --name "Bakkerij De Korenbloem" --category winkel \\
        --save-rate 5 --topup
    floreyn-provision merchant update M-bakker --save-rate 2,5 --no-topup
    floreyn-provision funder add --id F-gemeente --name "Gemeente Amersfoort"

`merchant add` with the same values again answers "exists"; with other
values for an existing id the server refuses (exit 2): use `update`.
"""

from __future__ import annotations

import argparse
from typing import Any

from floreyn.money import Currency
from floreyn.provisioning import cmd_category, parse
from floreyn.provisioning.context import Ctx
from floreyn.provisioning.errors import invalid
from floreyn.provisioning.output import Col, fields, listed, money_col, pct, table, yes

MERCHANT_COLS = (
    Col("id", "merchant_id"),
    Col("naam", "name"),
    Col("categorie", "categories", lambda v: listed(v) if isinstance(v, list) else str(v)),
    Col("spaar", "save_rate_bp", pct, right=True),
    Col("opwaarderen", "topup_allowed", yes),
    Col("resultaat", "result"),
)


def add_parser(sub: Any) -> None:
    m = sub.add_parser("merchant", help="merchants and freelancers").add_subparsers(dest="action", required=True)
    p = m.add_parser("add", help="register a merchant or freelancer")
    p.add_argument("--id", required=True, dest="merchant_id")
    p.add_argument("--name", required=True)
    _merchant_options(p, required=True)
    p.set_defaults(run=add)
    p = m.add_parser("update", help="change a merchant's name, category, save rate or top-up")
    p.add_argument("merchant_id")
    p.add_argument("--name")
    _merchant_options(p, required=False)
    p.set_defaults(run=update)
    m.add_parser("list", help="all merchants").set_defaults(run=list_)
    p = m.add_parser("show", help="one merchant with its balances and terminals")
    p.add_argument("merchant_id")
    p.set_defaults(run=show)

    f = sub.add_parser("funder", help="funders of budgets (corporations, municipality)").add_subparsers(
        dest="action", required=True
    )
    p = f.add_parser("add", help="register a funder")
    p.add_argument("--id", required=True, dest="funder_id")
    p.add_argument("--name", required=True)
    p.set_defaults(run=funder_add)
    f.add_parser("list", help="all funders with their balance").set_defaults(run=funder_list)


def _merchant_options(p: argparse.ArgumentParser, *, required: bool) -> None:
    p.add_argument("--category", required=required, action="append", metavar="CATEGORY",
                   help="its category (repeat for more; the first is the main one); see `category list`")
    p.add_argument("--save-rate", help="percentage of the euro purchase saved in fl, e.g. 5 or 2,5 (default 0)")
    topup = p.add_mutually_exclusive_group()
    topup.add_argument(
        "--topup", dest="topup", action="store_true", default=None, help="members may top up at this merchant's till"
    )
    topup.add_argument("--no-topup", dest="topup", action="store_false")
    p.add_argument("--kind", choices=("winkel", "zelfstandige"), help="a shop or a self-employed resident")
    p.add_argument("--iban", help="bank account for payouts (checked by the server)")
    p.add_argument("--holder", help="the account holder's name, as the bank knows it")
    if not required:
        p.add_argument("--mandate", help="SEPA direct debit mandate id: amounts owed are collected")
        p.add_argument("--mandate-date", metavar="YYYY-MM-DD", help="the day the mandate was signed")
        p.add_argument("--keep", help="Floreyn kept at settlement for paying others, e.g. 50,00 (default 0)")


def _values(args: argparse.Namespace) -> dict[str, object]:
    values: dict[str, Any] = {}
    if args.name is not None:
        values["name"] = parse.text(args.name, "--name", 200)
    if args.category:
        names = [parse.category(c, "--category") for c in args.category]
        values["category"] = names[0]
        if len(names) > 1 or args.action == "update":
            values["categories"] = sorted(set(names[1:]))
    if args.save_rate is not None:
        values["save_rate_bp"] = parse.percent_bp(args.save_rate, "--save-rate")
    if args.topup is not None:
        values["topup_allowed"] = args.topup
    if args.kind is not None:
        values["kind"] = args.kind
    if args.iban is not None:
        values["iban"] = args.iban.strip()
    if args.holder is not None:
        values["account_holder"] = parse.text(args.holder, "--holder", 70)
    if getattr(args, "mandate", None) is not None:
        values["mandate_id"] = args.mandate.strip()
        values["mandate_signed_on"] = parse.iso_date(args.mandate_date or "", "--mandate-date")
    if getattr(args, "keep", None) is not None:
        values["keep_fl_cents"] = parse.money(args.keep, "--keep", Currency.FL).cents
    return values


def _check_known(ctx: Ctx, values: dict[str, Any]) -> None:
    if "category" in values:
        known = cmd_category.known(ctx)
        for c in [values["category"], *values.get("categories", [])]:
            parse.category(c, "--category", known)


def add(ctx: Ctx) -> int:
    args = ctx.args
    merchant_id = parse.ident(args.merchant_id, "--id")
    body = {"merchant_id": merchant_id, "save_rate_bp": 0, "topup_allowed": False, **_values(args)}
    _check_known(ctx, body)
    answer = ctx.write("merchant.create", "POST", "/v1/admin/merchants", body)
    ctx.out.result(answer, lambda: table([answer], MERCHANT_COLS))
    return 0


def update(ctx: Ctx) -> int:
    merchant_id = parse.ident(ctx.args.merchant_id, "merchant")
    values = _values(ctx.args)
    if not values:
        raise invalid("merchant update", "nothing to change: give --name, --category, --save-rate or --(no-)topup")
    _check_known(ctx, values)
    answer = ctx.write("merchant.update", "PATCH", f"/v1/admin/merchants/{merchant_id}", values)
    ctx.out.result(answer, lambda: table([answer], MERCHANT_COLS[:-1]))
    return 0


def list_(ctx: Ctx) -> int:
    rows = ctx.api.get("/v1/admin/merchants")["merchants"]
    ctx.out.result(rows, lambda: table(rows, MERCHANT_COLS[:-1]))
    return 0


def show(ctx: Ctx) -> int:
    m = ctx.api.get(f"/v1/admin/merchants/{parse.ident(ctx.args.merchant_id, 'merchant')}")
    ctx.out.result(
        m,
        lambda: fields(
            [
                ("id", m["merchant_id"]),
                ("naam", m["name"]),
                ("categorie", m["category"]),
                ("spaarpercentage", pct(m["save_rate_bp"])),
                ("opwaarderen", yes(m["topup_allowed"])),
                ("soort", m.get("kind") or "winkel"),
                ("IBAN", f"{m['iban']} t.n.v. {m['account_holder']}" if m.get("iban") else "-"),
                ("machtiging", m.get("mandate_id") or "-"),
                ("saldo", money_col("", "balance_cents").cell(m)),
                ("te ontvangen euro", money_col("", "eur_owed_cents", "eur").cell(m)),
                ("terminals", listed(m.get("terminals")) or "-"),
            ]
        ),
    )
    return 0


def funder_add(ctx: Ctx) -> int:
    body = {"funder_id": parse.ident(ctx.args.funder_id, "--id"), "name": parse.text(ctx.args.name, "--name", 200)}
    answer = ctx.write("funder.create", "POST", "/v1/admin/funders", body)
    ctx.out.result(
        answer, lambda: table([answer], (Col("id", "funder_id"), Col("naam", "name"), Col("resultaat", "result")))
    )
    return 0


def funder_list(ctx: Ctx) -> int:
    rows = ctx.api.get("/v1/admin/funders")["funders"]
    ctx.out.result(
        rows, lambda: table(rows, (Col("id", "funder_id"), Col("naam", "name"), money_col("saldo", "balance_cents")))
    )
    return 0
