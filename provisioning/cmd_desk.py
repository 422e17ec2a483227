"""`desk topup | cashout | remit` and `campaign add | update | list | end`.

    floreyn-provision desk topup --member m-1a2b3c --amount 20          # € 20,00 in, fl at the ask rate
    floreyn-provision desk topup --funder F-gemeente --amount 5000,00   # a funder buys fl for its budgets
    floreyn-provision desk cashout --merchant M-bakker --amount 150,00  # fl 150,00 in, euros out at the bid rate
    floreyn-provision desk remit --merchant M-bakker --amount 80        # a merchant hands in till top-up euros
    floreyn-provision campaign add --id C-zomer --name "Zomermarkt: dubbel sparen" --multiplier 2 \\
        --from 2025-07-01 --to 2025-08-31 --merchant M-kraam1 --merchant M-kraam2

Every desk transaction carries a request id stored before it is sent: if
the answer is lost, run the identical command again and the server answers
"exists" with the original transaction, never a second one. A top-up that
repeats one this desk booked (same member, amount and day, within
recent.REPEAT_WINDOW_S) asks first, or needs --again. A campaign without
--merchant applies to every shop: the tool says so and asks (or --all-merchants).
"""

from __future__ import annotations

from typing import Any

from floreyn.money import Currency
from floreyn.provisioning import parse, recent
from floreyn.provisioning.context import Ctx
from floreyn.provisioning.errors import invalid
from floreyn.provisioning.journal import command_key
from floreyn.provisioning.output import Col, factor, fields, listed, table, word
from floreyn.provisioning.output import eur as eur_text
from floreyn.provisioning.output import fl as fl_text


def add_parser(sub: Any) -> None:
    d = sub.add_parser("desk", help="money at the cooperative's desk").add_subparsers(dest="action", required=True)
    p = d.add_parser("topup", help="euros in, Floreyn out at the ask rate")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--member", dest="member_id")
    who.add_argument("--funder", dest="funder_id")
    who.add_argument("--merchant", dest="merchant_id", help="a merchant buys the Floreyn it owes, at the ask rate")
    p.add_argument("--amount", required=True, help="euros paid in, e.g. 20 or 12,50")
    p.add_argument("--again", action="store_true", help="book it even if this desk just booked the same top-up")
    p.set_defaults(run=topup)
    p = d.add_parser("cashout", help="a merchant's Floreyn in, euros out at the bid rate")
    p.add_argument("--merchant", required=True, dest="merchant_id")
    p.add_argument("--amount", required=True, help="Floreyn handed in, e.g. 150 or 150,00")
    p.add_argument("--to-bank", action="store_true", help="pay to the merchant's IBAN with the next bank batch")
    p.set_defaults(run=cashout)
    p = d.add_parser("remit", help="a merchant hands in the euros of top-ups taken at its till")
    p.add_argument("--merchant", required=True, dest="merchant_id")
    p.add_argument("--amount", required=True, help="euros handed in")
    p.set_defaults(run=remit)

    c = sub.add_parser("campaign", help="joint campaigns (save multipliers)").add_subparsers(
        dest="action", required=True
    )
    p = c.add_parser("add", help="start a campaign")
    p.add_argument("--id", required=True, dest="campaign_id")
    p.add_argument("--name", required=True)
    p.add_argument("--multiplier", required=True, help="save multiplier, e.g. 2 (double) or 1,5")
    p.add_argument("--from", required=True, dest="starts_on", metavar="YYYY-MM-DD")
    p.add_argument("--to", required=True, dest="ends_on", metavar="YYYY-MM-DD", help="last day (inclusive)")
    p.add_argument("--merchant", action="append", default=[], dest="merchants", help="repeat; none: all merchants")
    p.add_argument("--all-merchants", action="store_true", help="for every shop (without asking)")
    p.add_argument("--pot", action="store_true", help="a joint pot the merchants pay into pays the extras")
    p.add_argument("--bonus", help="with --pot: percentage of a spend the pot gives back (verzilveractie), e.g. 10")
    p.set_defaults(run=campaign_add)
    p = c.add_parser("update", help="change a campaign's name, multiplier, dates or shops")
    p.add_argument("campaign_id")
    p.add_argument("--name")
    p.add_argument("--multiplier", help="save multiplier, e.g. 2 (double) or 1,5")
    p.add_argument("--from", dest="starts_on", metavar="YYYY-MM-DD")
    p.add_argument("--to", dest="ends_on", metavar="YYYY-MM-DD", help="last day (inclusive)")
    shops = p.add_mutually_exclusive_group()
    shops.add_argument("--merchant", action="append", dest="merchants", help="repeat: the new list of shops")
    shops.add_argument("--all-merchants", action="store_true", help="for every shop from now on")
    p.set_defaults(run=campaign_update)
    c.add_parser("list", help="all campaigns").set_defaults(run=campaign_list)
    p = c.add_parser("pay-in", help="a participating merchant pays Floreyn into the campaign's pot")
    p.add_argument("campaign_id")
    p.add_argument("--merchant", required=True, dest="merchant_id")
    p.add_argument("--amount", required=True, help="Floreyn, e.g. 50 or 50,00")
    p.set_defaults(run=campaign_pay_in)
    p = c.add_parser("report", help="the pot: what each merchant put in, what its customers got")
    p.add_argument("campaign_id")
    p.set_defaults(run=campaign_report)
    p = c.add_parser("end", help="end a campaign early")
    p.add_argument("campaign_id")
    p.add_argument("--on", required=True, dest="ends_on", metavar="YYYY-MM-DD", help="its new last day")
    p.set_defaults(run=campaign_end)


def topup(ctx: Ctx) -> int:
    a = ctx.args
    eur_cents = parse.money(a.amount, "--amount", Currency.EUR).cents
    body: dict[str, object] = {"eur_cents": eur_cents}
    if a.member_id:
        body["member_id"] = parse.ident(a.member_id, "--member")
    elif a.merchant_id:
        body["merchant_id"] = parse.ident(a.merchant_id, "--merchant")
    else:
        body["funder_id"] = parse.ident(a.funder_id, "--funder")
    holder = f"member:{body['member_id']}" if a.member_id else f"funder:{body['funder_id']}"
    path = "/v1/admin/desk/topup"
    key = command_key("desk.topup", {"method": "POST", "path": path, **body})
    resuming = (ctx.settings.pending_dir / f"{key}.json").exists()  # a lost answer's rerun is never asked about
    earlier = None if (a.again or resuming) else recent.repeat_of(ctx.settings.home, holder, eur_cents)
    if earlier is not None:
        minutes = max(1, (recent._now()[0] - earlier.at_s + 59) // 60)
        who = body.get("member_id") or body.get("funder_id")
        ctx.confirm(
            "This desk booked {amount} for {who} {minutes} min ago. Book it again?",
            "--again",
            amount=eur_text(eur_cents),
            who=who,
            minutes=minutes,
        )
    answer = ctx.write("desk.topup", "POST", path, body)
    recent.remember(ctx.settings.home, holder, eur_cents)
    ctx.out.result(
        answer,
        lambda: fields(
            [
                ("rekening", answer["account"]),
                ("betaald", eur_text(answer["eur_cents"])),
                ("opgewaardeerd", fl_text(answer["fl_cents"])),
                ("nieuw saldo", fl_text(answer["balance_cents"])),
                ("transactie", f"{answer['tx_id']} ({answer.get('result')})"),
            ]
        ),
    )
    return 0


def cashout(ctx: Ctx) -> int:
    a = ctx.args
    body = {
        "merchant_id": parse.ident(a.merchant_id, "--merchant"),
        "fl_cents": parse.money(a.amount, "--amount", Currency.FL).cents,
    }
    if a.to_bank:
        body["to_bank"] = True
    answer = ctx.write("desk.cashout", "POST", "/v1/admin/desk/cashout", body)
    ctx.out.result(
        answer,
        lambda: fields(
            [
                ("winkel", answer["merchant_id"]),
                ("ingeleverd", fl_text(answer["fl_cents"])),
                ("uitbetaald", eur_text(answer["eur_paid_cents"])),
                ("nieuw saldo", fl_text(answer["balance_cents"])),
                ("transactie", f"{answer['tx_id']} ({answer.get('result')})"),
            ]
        ),
    )
    return 0


def remit(ctx: Ctx) -> int:
    a = ctx.args
    body = {
        "merchant_id": parse.ident(a.merchant_id, "--merchant"),
        "eur_cents": parse.money(a.amount, "--amount", Currency.EUR).cents,
    }
    answer = ctx.write("desk.remit", "POST", "/v1/admin/desk/remit", body)
    ctx.out.result(
        answer,
        lambda: fields(
            [
                ("winkel", answer["merchant_id"]),
                ("afgedragen", eur_text(answer["eur_cents"])),
                ("nog te ontvangen", eur_text(answer["eur_owed_cents"])),
                ("transactie", f"{answer['tx_id']} ({answer.get('result')})"),
            ]
        ),
    )
    return 0


CAMPAIGN_COLS = (
    Col("id", "campaign_id"),
    Col("naam", "name"),
    Col("factor", "multiplier_bp", factor),
    Col("van", "starts_on"),
    Col("tot en met", "ends_on"),
    Col("winkels", "merchant_ids", lambda v: listed(v) or "alle"),
)


def _all_shops_question(ctx: Ctx) -> None:
    ctx.confirm("Without --merchant the campaign applies to every shop. Is that what you want?", "--all-merchants")


def campaign_add(ctx: Ctx) -> int:
    a = ctx.args
    starts, ends = parse.iso_date(a.starts_on, "--from"), parse.iso_date(a.ends_on, "--to")
    if ends < starts:
        raise invalid("--to", "{ends} is before {starts}", ends=ends, starts=starts)
    body = {
        "campaign_id": parse.ident(a.campaign_id, "--id"),
        "name": parse.text(a.name, "--name", 80),
        "multiplier_bp": parse.multiplier_bp(a.multiplier, "--multiplier"),
        "starts_on": starts,
        "ends_on": ends,
        "merchant_ids": sorted({parse.ident(m, "--merchant") for m in a.merchants}),
    }
    if a.pot:
        body["pot"] = True
    if a.bonus is not None:
        if not a.pot:
            raise invalid("--bonus", "a bonus comes from a pot: add --pot")
        body["redeem_bonus_bp"] = parse.percent_bp(a.bonus, "--bonus")
    if a.merchants and a.all_merchants:
        raise invalid("--all-merchants", "not together with --merchant")
    if not a.merchants and not a.all_merchants:
        _all_shops_question(ctx)
    answer = ctx.write("campaign.create", "POST", "/v1/admin/campaigns", body)
    ctx.out.result(answer, lambda: table([answer], (*CAMPAIGN_COLS, Col("resultaat", "result", word))))
    return 0


def campaign_update(ctx: Ctx) -> int:
    a = ctx.args
    campaign_id = parse.ident(a.campaign_id, "campaign")
    body: dict[str, object] = {}
    if a.name is not None:
        body["name"] = parse.text(a.name, "--name", 80)
    if a.multiplier is not None:
        body["multiplier_bp"] = parse.multiplier_bp(a.multiplier, "--multiplier")
    if a.starts_on is not None:
        body["starts_on"] = parse.iso_date(a.starts_on, "--from")
    if a.ends_on is not None:
        body["ends_on"] = parse.iso_date(a.ends_on, "--to")
    if a.merchants:
        body["merchant_ids"] = sorted({parse.ident(m, "--merchant") for m in a.merchants})
    if a.all_merchants:
        body["merchant_ids"] = []
    if not body:
        raise invalid(
            "campaign update",
            "give what changes: --name, --multiplier, --from, --to, --merchant or --all-merchants",
        )
    answer = ctx.write("campaign.update", "PATCH", f"/v1/admin/campaigns/{campaign_id}", body)

    def text() -> str:
        if answer.get("result") == "unchanged":
            note = ctx.out.say("Niets veranderd: de actie had dit al.\n", "Nothing changed: the campaign had this already.\n")
        else:
            note = ctx.out.say("Gewijzigd: ", "Changed: ") + ", ".join(answer.get("changed", [])) + "\n"
        return table([answer], CAMPAIGN_COLS) + note

    ctx.out.result(answer, text)
    return 0


def campaign_list(ctx: Ctx) -> int:
    rows = ctx.api.get("/v1/admin/campaigns")["campaigns"]
    ctx.out.result(rows, lambda: table(rows, CAMPAIGN_COLS))
    return 0


def campaign_end(ctx: Ctx) -> int:
    a = ctx.args
    campaign_id = parse.ident(a.campaign_id, "campaign")
    ends_on = parse.iso_date(a.ends_on, "--on")
    answer = ctx.write("campaign.end", "POST", f"/v1/admin/campaigns/{campaign_id}/end", {"ends_on": ends_on})

    def text() -> str:
        if answer.get("result") != "unchanged":
            return table([answer], CAMPAIGN_COLS)
        return table([answer], CAMPAIGN_COLS) + ctx.out.say(
            f"Niets veranderd: de actie loopt al tot en met {answer['ends_on']}, dus niet later dan {ends_on}. "
            "Verlengen kan met 'campaign update --to'.\n",
            f"Nothing changed: the campaign already ends on {answer['ends_on']}, not after {ends_on}. "
            "Extend it with 'campaign update --to'.\n",
        )

    ctx.out.result(answer, text)
    return 0


def campaign_pay_in(ctx: Ctx) -> int:
    a = ctx.args
    campaign_id = parse.ident(a.campaign_id, "campaign")
    body = {"merchant_id": parse.ident(a.merchant_id, "--merchant"),
            "fl_cents": parse.money(a.amount, "--amount", Currency.FL).cents}
    answer = ctx.write("campaign.pot", "POST", f"/v1/admin/campaigns/{campaign_id}/pot", body)
    ctx.out.result(answer, lambda: fields([("campagne", answer["campaign_id"]), ("winkel", answer["merchant_id"]),
                                           ("ingelegd", fl_text(answer["fl_cents"])),
                                           ("pot", fl_text(answer["pot_cents"]))]))
    return 0


def campaign_report(ctx: Ctx) -> int:
    r = ctx.api.get(f"/v1/admin/campaigns/{parse.ident(ctx.args.campaign_id, 'campaign')}/report")
    ctx.out.result(
        r,
        lambda: fields([("campagne", f"{r['campaign_id']} ({r['name']})"), ("ingelegd", fl_text(r["paid_in_cents"])),
                        ("uitgekeerd", fl_text(r["paid_out_cents"])), ("in de pot", fl_text(r["pot_cents"]))])
        + "\n"
        + table(r["merchants"], (Col("winkel", "merchant_id"),
                                 Col("ingelegd", "paid_in_cents", fl_text, right=True),
                                 Col("naar zijn klanten", "paid_out_cents", fl_text, right=True))),
    )
    return 0
