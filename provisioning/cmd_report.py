"""`report settlement | circulation | overspend | zreport` and `export csv`.

    floreyn-provision report settlement --merchant M-bakker --from 2025-06-01 --to 2025-06-30
    floreyn-provision report settlement --from 2025-06-01 --to 2025-06-30     # every merchant in one table
    floreyn-provision report circulation
    floreyn-provision report zreport --terminal T-bakker-1 --day 3
    floreyn-provision export csv --from 2025-01-01 --to 2025-12-31 --out boekhouding-2025.csv

Dates are whole days in Amersfoort, both inclusive. The CSV export is
streamed to a temporary file next to --out and renamed when complete, so a
broken connection never leaves a half file that looks whole. `--dialect nl`
(the default when the tool speaks Dutch) asks for what Dutch Excel opens in
columns: ";" between fields, a decimal comma, Dutch headers and a UTF-8 BOM;
`--dialect plain` is "," with a decimal point and English headers. The server
formats both (server/export.py); the tool writes its bytes as they arrive.
"""

from __future__ import annotations

import codecs
import datetime as dt
import os
from pathlib import Path
from typing import IO, Any, Final, Iterable

from floreyn.provisioning import cmd_settle, parse
from floreyn.provisioning.context import Ctx
from floreyn.provisioning.errors import invalid, local
from floreyn.provisioning.output import Col, eur, fields, fl, money_col, pct, table

# What the circulation report's holder kinds (server/ledger.py account kinds) are called at the desk.
HOLDERS_NL: Final = {
    "member": "leden",
    "merchant": "winkels",
    "budget": "budgetten",
    "funder": "fondsen",
    "card": "passen nog zonder lid",
}


def add_parser(sub: Any) -> None:
    r = sub.add_parser("report", help="reports for the treasurer and the merchants").add_subparsers(
        dest="action", required=True
    )
    p = r.add_parser("settlement", help="settlement statement for a period: one merchant, or all in one table")
    p.add_argument("--merchant", dest="merchant_id", help="one merchant in detail (default: every merchant)")
    _period(p)
    p.set_defaults(run=settlement)
    p = r.add_parser("circulation", help="Floreyn in circulation against the euro reserve; with --from/--to: "
                     "per month issued, spent, re-spent, cashed out, velocity")
    p.add_argument("--from", dest="from_month", metavar="YYYY-MM", help="first month of the monthly report")
    p.add_argument("--to", dest="to_month", metavar="YYYY-MM", help="last month (default: the first)")
    p.set_defaults(run=circulation)
    p = r.add_parser("zreport", help="a terminal's Z-report of one day close, as the server holds it")
    p.add_argument("--terminal", required=True, metavar="TERMINAL_ID")
    p.add_argument("--day", type=int, metavar="N", help="the day number (omit: the list of closed days)")
    p.set_defaults(run=zreport)
    r.add_parser("overspend", help="cards flagged for offline overspend, accounts below zero").set_defaults(
        run=overspend
    )

    e = sub.add_parser("export", help="exports for the bookkeeping").add_subparsers(dest="action", required=True)
    p = e.add_parser("csv", help="every posting in a period as CSV")
    _period(p)
    p.add_argument("--out", metavar="PATH", help="file to write (default: standard output)")
    p.add_argument(
        "--dialect",
        choices=("nl", "plain"),
        help="nl: ';', decimal comma, Dutch headers, BOM (default with --lang nl); plain: the server's CSV",
    )
    p.set_defaults(run=export_csv)


def _period(p: Any) -> None:
    p.add_argument("--from", required=True, dest="from_date", metavar="YYYY-MM-DD")
    p.add_argument("--to", required=True, dest="to_date", metavar="YYYY-MM-DD", help="last day (inclusive)")


def _dates(ctx: Ctx) -> tuple[str, str]:
    start, end = parse.iso_date(ctx.args.from_date, "--from"), parse.iso_date(ctx.args.to_date, "--to")
    if end < start:
        raise invalid("--to", "{end} is before {start}", end=end, start=start)
    return start, end


def _net_text(net: int) -> str:
    return f"coöperatie betaalt {eur(net)}" if net > 0 else f"winkel betaalt {eur(-net)}" if net < 0 else "niets"


def settlement(ctx: Ctx) -> int:
    start, end = _dates(ctx)
    if not ctx.args.merchant_id:
        return _settlement_all(ctx, start, end)
    r = ctx.api.get(
        "/v1/admin/reports/settlement",
        merchant_id=parse.ident(ctx.args.merchant_id, "--merchant"),
        **{"from": start, "to": end},
    )
    f, e, net = r["fl"], r["eur"], r["settlement"]["net_eur_cents"]
    s, rates = r["settlement"], r["rates"]
    ctx.out.result(
        r,
        lambda: fields(
            [
                ("winkel", r["merchant_id"]),
                ("periode", f"{r['from']} t/m {r['to']}"),
                ("fl begin", fl(f["opening_cents"])),
                ("fl ontvangen", fl(f["received_cents"])),
                ("fl terugbetaald", fl(f["refunded_cents"])),
                ("fl spaarkosten", fl(f["save_cost_cents"])),
                ("fl storno", fl(f["voids_cents"])),
                ("fl correcties", fl(f["corrections_cents"])),
                ("fl ingewisseld", fl(f["cashed_out_cents"])),
                ("fl eind", fl(f["closing_cents"])),
                ("€ begin te ontvangen", eur(e["opening_owed_cents"])),
                ("€ opwaarderingen", eur(e["topups_taken_cents"])),
                ("€ afgedragen", eur(e["remitted_cents"])),
                ("€ uitbetaald", eur(e["cashout_paid_cents"])),
                ("€ eind te ontvangen", eur(e["closing_owed_cents"])),
                ("inwisselkoers", f"{pct(rates['bid_bp'])} (€ per fl bij inwisselen)"),
                ("opwaardeerkoers", f"{pct(rates['ask_bp'])} (€ per fl bij opwaarderen)"),
                (
                    "coöperatie betaalt",
                    f"{eur(s['coop_owes_merchant_eur_cents'])} = {fl(max(f['closing_cents'], 0))} eind "
                    f"x {pct(rates['bid_bp'])}",
                ),
                (
                    "winkel betaalt",
                    f"{eur(s['merchant_owes_coop_eur_cents'])} = {eur(e['closing_owed_cents'])} te ontvangen"
                    + (
                        f" + {fl(-f['closing_cents'])} tekort x {pct(rates['ask_bp'])}"
                        if f["closing_cents"] < 0
                        else ""
                    ),
                ),
                ("saldo", _net_text(net) if net else "niets te verrekenen"),
            ]
        ),
    )
    return 0


SETTLEMENT_COLS = (
    Col("winkel", "merchant_id"),
    Col("naam", "name"),
    money_col("fl ontvangen", "fl.received_cents"),
    money_col("fl eind", "fl.closing_cents"),
    Col("inwisselkoers", "rates.bid_bp", pct, right=True),
    money_col("coöp. betaalt", "settlement.coop_owes_merchant_eur_cents", "eur"),
    money_col("winkel betaalt", "settlement.merchant_owes_coop_eur_cents", "eur"),
    Col("saldo", "settlement.net_eur_cents", _net_text),
)


def _settlement_all(ctx: Ctx, start: str, end: str) -> int:
    """Every merchant's statement in one table, with the sums behind each net amount and the totals."""
    merchants = ctx.api.get("/v1/admin/merchants")["merchants"]
    rows = []
    for m in merchants:
        r = ctx.api.get("/v1/admin/reports/settlement", merchant_id=m["merchant_id"], **{"from": start, "to": end})
        rows.append({**r, "name": m.get("name", "")})
    totals = {
        key: sum(r["settlement"][key] for r in rows)
        for key in ("coop_owes_merchant_eur_cents", "merchant_owes_coop_eur_cents", "net_eur_cents")
    }
    data = {"from": start, "to": end, "merchants": rows, "totals": totals}

    def text() -> str:
        total_row = {
            "merchant_id": "totaal",
            "fl": {
                "received_cents": sum(r["fl"]["received_cents"] for r in rows),
                "closing_cents": sum(r["fl"]["closing_cents"] for r in rows),
            },
            "settlement": totals,
        }
        body = table([*rows, total_row], SETTLEMENT_COLS)
        return (
            f"Afrekening {start} t/m {end}\n"
            + body
            + "coöp. betaalt = fl eind x inwisselkoers; winkel betaalt = € van opwaarderingen aan de kassa nog te "
            "ontvangen (+ een fl-tekort x opwaardeerkoers)\n"
        )

    ctx.out.result(data, text)
    return 0


def circulation_monthly(ctx: Ctx) -> int:
    first = cmd_settle.month(ctx.args.from_month, "--from")
    last = cmd_settle.month(ctx.args.to_month or ctx.args.from_month, "--to")
    r = ctx.api.get("/v1/admin/reports/circulation/monthly", **{"from": first, "to": last})
    ctx.out.result(
        r,
        lambda: table(
            r["months"],
            (
                Col("maand", "month"),
                money_col("uitgegeven", "issued_cents"),
                money_col("besteed", "spent_cents"),
                money_col("doorbesteed", "respent_cents"),
                money_col("ingewisseld", "cashed_out_cents"),
                money_col("gem. voorraad", "stock_average_cents"),
                Col("omloopsnelheid", "velocity", right=True),
                Col("2x gebruikt", "twice_share", lambda v: f"{round(float(v) * 100)} %", right=True),
            ),
        ),
    )
    return 0


def circulation(ctx: Ctx) -> int:
    if ctx.args.from_month:
        return circulation_monthly(ctx)
    r = ctx.api.get("/v1/admin/reports/circulation")
    ctx.out.result(
        r,
        lambda: (
            fields(
                [
                    ("fl in omloop gebracht door de coöperatie", fl(r["fl_issued_cents"])),
                    ("fl in handen van houders (positieve saldi)", fl(r["fl_held_cents"])),
                    ("€ reserve", eur(r["eur_reserve_cents"])),
                    ("€ inkomsten", eur(r["eur_income_cents"])),
                    ("€ nog te ontvangen van winkels", eur(r["eur_owed_by_merchants_cents"])),
                    ("€ nodig als iedereen inwisselt", eur(r["eur_bid_value_of_held_cents"])),
                    ("€ dekking", eur(r["eur_coverage_cents"])),
                ]
            )
            + "dekking = reserve + nog te ontvangen van winkels - wat nodig is als iedereen vandaag inwisselt;\n"
            "positief: de coöperatie kan alle fl terugbetalen en houdt dit over.\n"
            + "\n"
            + table(
                [{"holder": HOLDERS_NL.get(k, k), "cents": v} for k, v in r["fl_by_holder_cents"].items()],
                (Col("houder", "holder"), money_col("fl", "cents")),
            )
        ),
    )
    return 0


def overspend(ctx: Ctx) -> int:
    r = ctx.api.get("/v1/admin/reports/overspend")
    ctx.out.result(
        r,
        lambda: (
            table(
                r["cards"],
                (
                    Col("pas", "card_id"),
                    Col("lid", "member_id"),
                    Col("status", "status"),
                    money_col("saldo", "balance_cents"),
                ),
            )
            + "\n"
            + table(r["negative_accounts"], (Col("rekening", "account"), money_col("saldo", "balance_cents")))
            + "\n"
            + table(r.get("open_disputes", []), (  # parked excess of till records (floreyn-provision dispute)
                Col("geschil", "dispute_id"), Col("kassa", "terminal_id"), Col("regels", "rules"),
                money_col("fl", "amount_cents")))
            + "\n"
            + table(
                [{**b, "back": _when(b["nonneg_since_ms"]), "at": _when(b["reinstate_at_ms"])}
                 for b in r.get("blocked", [])],
                (
                    Col("geblokkeerd (te veel uitgegeven)", "card_id"),
                    Col("lid", "member_id"),
                    money_col("saldo", "balance_cents"),
                    Col(">= 0 sinds", "back"),
                    Col("weer actief", "at"),
                ),
            )
        ),
    )
    return 0


def zreport(ctx: Ctx) -> int:
    terminal = parse.ident(ctx.args.terminal, "--terminal")
    if ctx.args.day is None:
        days = ctx.api.get(f"/v1/admin/terminals/{terminal}/zreports")
        ctx.out.result(days, lambda: table([{**d, "at": _when(d["received_ms"])} for d in days["days"]],
                                           (Col("dag", "day_no"), Col("volgnummer", "close_seq"),
                                            Col("ontvangen", "at"))))
        return 0
    if ctx.args.day < 1:
        raise invalid("--day", "a day is 1 or more")
    z = ctx.api.get(f"/v1/admin/terminals/{terminal}/zreports/{ctx.args.day}")
    kinds = [{"kind": k, **v} for k, v in z["kinds"].items()]
    tenders = [{"tender": k, **v} for k, v in z["tenders"].items()]
    ctx.out.result(
        z,
        lambda: fields([("terminal", z["terminal_id"]), ("dag", str(z["day_no"])),
                        ("volgnummers", f"{z['first_seq']} t/m {z['last_seq']}" if z["first_seq"] else "-"),
                        ("fl ontvangen", fl(z["fl_received_cents"])), ("fl uitgegeven", fl(z["fl_issued_cents"]))])
        + "\n" + table(kinds, (Col("soort", "kind"), Col("records", "records"), money_col("fl", "fl_cents"),
                                money_col("€", "eur_cents", "eur")))
        + "\n" + table(tenders, (Col("betaalwijze", "tender"), Col("aantal", "count"),
                                  money_col("€ in", "in_cents", "eur"), money_col("€ uit", "out_cents", "eur"),
                                  money_col("€ netto", "net_cents", "eur"))),
    )
    return 0


def _when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return dt.datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M")


def export_csv(ctx: Ctx) -> int:
    start, end = _dates(ctx)
    dialect = ctx.args.dialect or ("nl" if ctx.out.lang == "nl" else "plain")
    params = {"from": start, "to": end, "dialect": dialect}
    if not ctx.args.out:
        if ctx.out.json_mode:
            raise invalid("--out", "with --json give --out for the CSV")
        ctx.api.download("/v1/admin/reports/export.csv", params, _TextSink(ctx.out.stdout))
        ctx.out.stdout.flush()
        return 0
    out = Path(ctx.args.out)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.part")
    try:
        with open(tmp, "wb") as f:
            size = ctx.api.download("/v1/admin/reports/export.csv", params, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, out)
    except OSError as exc:
        raise local("cannot write {out}: {strerror}", out=out, strerror=exc.strerror) from None
    finally:
        tmp.unlink(missing_ok=True)
    with open(out, "rb") as f:
        postings = csv_records(f) - 1  # the header
    data = {"file": str(out), "bytes": size, "postings": postings, "from": start, "to": end}
    ctx.out.result(
        data,
        lambda: fields([("bestand", str(out)), ("boekingsregels", str(postings)), ("periode", f"{start} t/m {end}")]),
    )
    return 0


def csv_records(lines: Iterable[bytes]) -> int:
    """CSV records in a file read as lines: a line break inside a quoted cell (a memo over several lines) does not
    end a record. A record ends at a line whose quotes, counted from the record's start, are even ("" inside a
    quoted cell counts twice, so it never flips that); per line at C speed, so 1M postings take a second or so."""
    records, inside = 0, False
    for line in lines:
        if line.count(b'"') % 2:
            inside = not inside
        if not inside:
            records += 1
    return records


class _TextSink:
    """Bytes in, text out: the CSV to standard output, multi-byte characters split across chunks kept whole."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.decoder = codecs.getincrementaldecoder("utf-8")()

    def write(self, data: bytes) -> int:
        self.stream.write(self.decoder.decode(data))
        return len(data)
