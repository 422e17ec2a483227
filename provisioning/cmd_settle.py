"""`settle` (month end) and `rates` (exchange rates as data).

    floreyn-provision settle bank --name "Coöperatie Floreyn U.A." --iban NL44RABO0123456789 \\
        --creditor-id NL98ZZZ999999999999
    floreyn-provision settle --period 2026-11 --out maand-2026-11     # settle, close, write the bank files
    floreyn-provision settle show [--period 2026-11]
    floreyn-provision settle statement --period 2026-11 --merchant M-bakker --format html --out bakker.html
    floreyn-provision settle confirm B-2026-11 [--merchant M-bakker]   # the bank carried it out: book as paid
    floreyn-provision rates show
    floreyn-provision rates set --ask 1,00 --bid 0,95 --from 2027-01-01

The run writes into --out: pain.001.xml (transfers to merchants' IBANs),
pain.008.xml (direct debits of merchants with a mandate), invoices.csv
(merchants that owe without a mandate, payouts without an IBAN) and one
statement per merchant (statements/<id>.html and .txt). Nothing counts as
paid before `settle confirm`.
"""

from __future__ import annotations

import io
import json
import os
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from floreyn.provisioning import parse
from floreyn.provisioning.api import QueryParams
from floreyn.provisioning.context import Ctx
from floreyn.provisioning.errors import invalid, local
from floreyn.provisioning.output import Col, eur, fields, fl, table

FILES = ("pain.001.xml", "pain.008.xml", "invoices.csv")
_METHOD = {"transfer": "overboeking", "cash": "contant", "debit": "incasso", "invoice": "factuur", None: "-"}


def add_parser(sub: Any) -> None:
    s = sub.add_parser("settle", help="month end: settle merchants, bank files, confirm payments")
    s.add_argument("--period", metavar="YYYY-MM", help="the month to settle and close")
    s.add_argument("--execution-date", metavar="YYYY-MM-DD", help="day the bank pays or collects (default today)")
    s.add_argument("--out", metavar="DIR", help="folder for the bank files and statements (default settle-PERIOD)")
    s.set_defaults(run=run)
    a = s.add_subparsers(dest="action", required=False, metavar="ACTION")
    p = a.add_parser("confirm", help="the bank carried out the batch (or the euros arrived): book it as paid")
    p.add_argument("batch_id")
    p.add_argument("--merchant", action="append", default=[], dest="merchants", help="only this merchant (repeat)")
    p.set_defaults(run=confirm)
    p = a.add_parser("show", help="closed periods, or one period's lines")
    p.add_argument("--period", dest="show_period", metavar="YYYY-MM")
    p.set_defaults(run=show)
    p = a.add_parser("statement", help="one merchant's statement for a closed period")
    p.add_argument("--period", dest="st_period", required=True, metavar="YYYY-MM")
    p.add_argument("--merchant", required=True, dest="merchant_id")
    p.add_argument("--format", choices=("text", "json", "csv", "html"), default="text")
    p.add_argument("--out", dest="st_out", metavar="PATH", help="file to write (default: standard output)")
    p.set_defaults(run=statement)
    p = a.add_parser("bank", help="the cooperative's own bank account for the bank files")
    p.add_argument("--name", required=True, help="account holder, e.g. Coöperatie Floreyn U.A.")
    p.add_argument("--iban", required=True)
    p.add_argument("--creditor-id", help="SEPA creditor id (Incassant ID), needed for direct debits")
    p.set_defaults(run=bank)

    r = sub.add_parser("rates", help="exchange rates: show the history, set a new rate from a date")
    ra = r.add_subparsers(dest="action", required=True)
    ra.add_parser("show", help="the rate in force and the history").set_defaults(run=rates_show)
    p = ra.add_parser("set", help="a new rate from a moment on (never before now)")
    p.add_argument("--ask", required=True, help="euros a member pays for fl 1,00 (e.g. 1,00)")
    p.add_argument("--bid", required=True, help="euros paid out for fl 1,00 handed in (e.g. 0,95)")
    p.add_argument("--from", dest="from_", default="now", metavar="YYYY-MM-DD|now", help="first day it applies")
    p.set_defaults(run=rates_set)


def month(text: str | None, field: str) -> str:
    """'YYYY-MM', checked (a settlement period, a month of a report)."""
    return _period(text, field)


def _period(text: str | None, field: str) -> str:
    if text is None or len(text) != 7 or text[4] != "-" or not (text[:4] + text[5:]).isdigit() \
            or not 1 <= int(text[5:]) <= 12:
        raise invalid(field, "{text!r} is not a month (YYYY-MM)", text=text)
    return text


def rate_bp(text: str, field: str) -> int:
    """'0,95' or '0.95' euro per fl 1,00 -> 9500 bp; at most four decimals."""
    try:
        value = Decimal(text.strip().replace(",", "."))
    except InvalidOperation:
        raise invalid(field, "{text!r} is not a rate", text=text) from None
    bp = value * 10_000
    if bp != bp.to_integral_value() or not 0 <= bp <= 1_000_000:
        raise invalid(field, "{text!r}: 0 to 100 euro, at most 4 decimals", text=text)
    return int(bp)


def _rate_text(bp: int) -> str:
    return f"€ {bp // 10_000},{bp % 10_000:04d}"


def run(ctx: Ctx) -> int:
    a = ctx.args
    period = _period(a.period, "--period")
    body: dict[str, object] = {"period": period}
    if a.execution_date:
        body["execution_date"] = parse.iso_date(a.execution_date, "--execution-date")
    answer = ctx.write("settle.run", "POST", "/v1/admin/settlements", body)
    out_dir = Path(a.out or f"settle-{period}")
    written = write_files(ctx, answer, out_dir)
    rows = answer["merchants"]
    ctx.out.result(
        {**answer, "files": written},
        lambda: fields([("periode", f"{answer['from']} t/m {answer['to']}"), ("batch", answer["batch_id"]),
                        ("koersen", f"laat {_rate_text(answer['rates']['ask_bp'])}, "
                                    f"bied {_rate_text(answer['rates']['bid_bp'])}"),
                        ("regel", answer["rule"]), ("bestanden", ", ".join(written) or "-")])
        + "\n"
        + table(rows, (Col("deelnemer", "merchant_id"), Col("soort", "kind"),
                       Col("ingeleverd", "handed_in_fl_cents", fl, right=True),
                       Col("gekocht", "bought_fl_cents", fl, right=True),
                       Col("kassa-euro", "till_eur_cents", eur, right=True),
                       Col("saldo", "net_eur_cents", eur, right=True),
                       Col("wijze", "method", lambda v: _METHOD.get(v, str(v))))),
    )
    return 0


def write_files(ctx: Ctx, answer: dict[str, Any], out_dir: Path) -> list[str]:
    """The batch's bank files and every merchant's statement, each written whole (temp file, then rename)."""
    try:
        (out_dir / "statements").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise local("cannot create folder {out_dir}: {exc}", out_dir=out_dir, exc=exc) from None
    methods = {line["method"] for line in answer["batch"]["lines"]}
    wanted = [("pain.001.xml", "transfer" in methods), ("pain.008.xml", "debit" in methods),
              ("invoices.csv", bool(methods & {"invoice", "cash"}))]
    written = []
    for name, needed in wanted:
        if needed:
            _download(ctx, f"/v1/admin/payouts/{answer['batch_id']}/files/{name}", {}, out_dir / name)
            written.append(str(out_dir / name))
    for line in answer["merchants"]:
        mid = line["merchant_id"]
        for fmt, ext in (("html", "html"), ("text", "txt")):
            _download(ctx, f"/v1/admin/settlements/{answer['period']}/statements/{mid}", {"format": fmt},
                      out_dir / "statements" / f"{mid}.{ext}")
    return written


def _download(ctx: Ctx, path: str, params: QueryParams, target: Path) -> None:
    tmp = target.with_name(target.name + ".partial")
    try:
        with open(tmp, "wb") as sink:
            ctx.api.download(path, params, sink)
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        raise local("cannot write {target}: {exc}", target=target, exc=exc) from None
    finally:
        tmp.unlink(missing_ok=True)


def confirm(ctx: Ctx) -> int:
    batch_id = parse.ident(ctx.args.batch_id, "batch")
    body: dict[str, object] = {}
    if ctx.args.merchants:
        body["merchant_ids"] = sorted({parse.ident(m, "--merchant") for m in ctx.args.merchants})
    answer = ctx.write("settle.confirm", "POST", f"/v1/admin/payouts/{batch_id}/confirm", body)
    ctx.out.result(answer, lambda: fields([("batch", answer["batch_id"]), ("status", answer["status"]),
                                           ("bevestigd", str(answer["confirmed_lines"]))])
                   + "\n" + _lines_table(answer["lines"]))
    return 0


def _lines_table(lines: list[dict[str, Any]]) -> str:
    return table(lines, (Col("deelnemer", "merchant_id"), Col("wijze", "method", lambda v: _METHOD.get(v, str(v))),
                         Col("bedrag", "eur_cents", eur, right=True), Col("IBAN", "iban", lambda v: v or "-"),
                         Col("betaald", "paid", lambda v: "ja" if v else "nee")))


def show(ctx: Ctx) -> int:
    if ctx.args.show_period:
        r = ctx.api.get(f"/v1/admin/settlements/{_period(ctx.args.show_period, '--period')}")
        batch = ctx.api.get(f"/v1/admin/payouts/{r['batch_id']}")
        ctx.out.result({**r, "batch": batch}, lambda: fields([("periode", r["period"]), ("batch", r["batch_id"]),
                                                              ("status", batch["status"])])
                       + "\n" + _lines_table(batch["lines"]))
        return 0
    rows = ctx.api.get("/v1/admin/settlements")["periods"]
    ctx.out.result(rows, lambda: table(rows, (Col("periode", "period"), Col("batch", "batch_id"),
                                              Col("status", "batch_status"))))
    return 0


def statement(ctx: Ctx) -> int:
    a = ctx.args
    period, merchant_id = _period(a.st_period, "--period"), parse.ident(a.merchant_id, "--merchant")
    path = f"/v1/admin/settlements/{period}/statements/{merchant_id}"
    if a.format == "json" or ctx.out.json_mode:
        st = ctx.api.get(path)
        ctx.out.result(st, lambda: json.dumps(st, indent=2, ensure_ascii=False) + "\n")
        return 0
    if a.st_out:
        _download(ctx, path, {"format": a.format}, Path(a.st_out))
        ctx.out.result({"written": a.st_out}, lambda: a.st_out)
        return 0
    buf = io.BytesIO()
    ctx.api.download(path, {"format": a.format}, buf)
    ctx.out.result(None, lambda: buf.getvalue().decode("utf-8"))
    return 0


def bank(ctx: Ctx) -> int:
    a = ctx.args
    body: dict[str, object] = {"name": parse.text(a.name, "--name", 70), "iban": a.iban.strip()}
    if a.creditor_id:
        body["creditor_id"] = a.creditor_id.strip().upper()
    answer = ctx.write("bank.set", "POST", "/v1/admin/bank", body)
    ctx.out.result(answer, lambda: fields([("naam", answer["name"]), ("IBAN", answer["iban"]),
                                           ("incassant-id", answer.get("creditor_id") or "-")]))
    return 0


def rates_show(ctx: Ctx) -> int:
    r = ctx.api.get("/v1/admin/rates")
    now = r["in_force"]
    ctx.out.result(r, lambda: fields([("laat (kopen)", _rate_text(now["ask_bp"])),
                                      ("bied (inwisselen)", _rate_text(now["bid_bp"]))])
                   + "\n" + table(r["history"], (Col("vanaf", "from"), Col("laat", "ask_bp", _rate_text, right=True),
                                                 Col("bied", "bid_bp", _rate_text, right=True),
                                                 Col("toekomst", "future", lambda v: "ja" if v else ""))))
    return 0


def rates_set(ctx: Ctx) -> int:
    a = ctx.args
    ask, bid = rate_bp(a.ask, "--ask"), rate_bp(a.bid, "--bid")
    if bid > ask:
        raise invalid("--bid", "the bid rate is above the ask rate")
    start = "now" if a.from_ == "now" else parse.iso_date(a.from_, "--from")
    answer = ctx.write("rates.set", "POST", "/v1/admin/rates", {"ask_bp": ask, "bid_bp": bid, "from": start})
    ctx.out.result(answer, lambda: fields([("laat", _rate_text(answer["ask_bp"])),
                                           ("bied", _rate_text(answer["bid_bp"])), ("vanaf", start)]))
    return 0
