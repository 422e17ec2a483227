"""`report settlement | circulation | overspend | zreport` and `export csv`.

    floreyn-provision report settlement --merchant M-bakker --from 2025-06-01 --to 2025-06-30
    floreyn-provision report circulation
    floreyn-provision report zreport --terminal T-bakker-1 --day 3
    floreyn-provision export csv --from 2025-01-01 --to 2025-12-31 --out boekhouding-2025.csv

Dates are whole days in Amersfoort, both inclusive. The CSV export is
streamed to a temporary file next to --out and renamed when complete, so a
broken connection never leaves a half file that looks whole.
"""

from __future__ import annotations

import codecs
import datetime as dt
import os
from pathlib import Path
from typing import IO, Any

from floreyn.provisioning import parse
from floreyn.provisioning.context import Ctx
from floreyn.provisioning.errors import invalid, local
from floreyn.provisioning.output import Col, eur, fields, fl, money_col, table


def add_parser(sub: Any) -> None:
    r = sub.add_parser("report", help="reports for the treasurer and the merchants").add_subparsers(
        dest="action", required=True
    )
    p = r.add_parser("settlement", help="a merchant's settlement statement for a period")
    p.add_argument("--merchant", required=True, dest="merchant_id")
    _period(p)
    p.set_defaults(run=settlement)
    r.add_parser("circulation", help="Floreyn in circulation against the euro reserve").set_defaults(run=circulation)
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
    p.set_defaults(run=export_csv)


def _period(p: Any) -> None:
    p.add_argument("--from", required=True, dest="from_date", metavar="YYYY-MM-DD")
    p.add_argument("--to", required=True, dest="to_date", metavar="YYYY-MM-DD", help="last day (inclusive)")


def _dates(ctx: Ctx) -> tuple[str, str]:
    start, end = parse.iso_date(ctx.args.from_date, "--from"), parse.iso_date(ctx.args.to_date, "--to")
    if end < start:
        raise invalid("--to", f"{end} ligt voor {start}", f"{end} is before {start}")
    return start, end


def settlement(ctx: Ctx) -> int:
    start, end = _dates(ctx)
    r = ctx.api.get(
        "/v1/admin/reports/settlement",
        merchant_id=parse.ident(ctx.args.merchant_id, "--merchant"),
        **{"from": start, "to": end},
    )
    f, e, net = r["fl"], r["eur"], r["settlement"]["net_eur_cents"]
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
                (
                    "saldo",
                    (
                        f"coöperatie betaalt {eur(net)}"
                        if net > 0
                        else f"winkel betaalt {eur(-net)}"
                        if net < 0
                        else "niets te verrekenen"
                    ),
                ),
            ]
        ),
    )
    return 0


def circulation(ctx: Ctx) -> int:
    r = ctx.api.get("/v1/admin/reports/circulation")
    ctx.out.result(
        r,
        lambda: (
            fields(
                [
                    ("fl uitgegeven", fl(r["fl_issued_cents"])),
                    # Only positive holdings count: a wallet below zero is a debt to the cooperative
                    # (listed by `report overspend`), not Floreyn anyone holds.
                    ("fl in bezit (alleen positieve saldi)", fl(r["fl_held_cents"])),
                    ("€ reserve", eur(r["eur_reserve_cents"])),
                    ("€ inkomsten", eur(r["eur_income_cents"])),
                    ("€ te ontvangen van winkels", eur(r["eur_owed_by_merchants_cents"])),
                    ("€ inwisselwaarde", eur(r["eur_bid_value_of_held_cents"])),
                    ("€ dekking", eur(r["eur_coverage_cents"])),
                ]
            )
            + "\n"
            + table(
                [{"holder": k, "cents": v} for k, v in r["fl_by_holder_cents"].items()],
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
        raise invalid("--day", "een dag is 1 of meer", "a day is 1 or more")
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
    params = {"from": start, "to": end}
    if not ctx.args.out:
        if ctx.out.json_mode:
            raise invalid(
                "--out", "met --json gaat de CSV naar een bestand: geef --out", "with --json give --out for the CSV"
            )
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
        raise local(f"kan {out} niet schrijven: {exc.strerror}", f"cannot write {out}: {exc.strerror}") from None
    finally:
        tmp.unlink(missing_ok=True)
    with open(out, "rb") as f:
        lines = sum(1 for _ in f) - 1
    data = {"file": str(out), "bytes": size, "postings": lines, "from": start, "to": end}
    ctx.out.result(
        data, lambda: fields([("bestand", str(out)), ("boekingsregels", str(lines)), ("periode", f"{start} t/m {end}")])
    )
    return 0


class _TextSink:
    """Bytes in, text out: the CSV to standard output, multi-byte characters split across chunks kept whole."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.decoder = codecs.getincrementaldecoder("utf-8")()

    def write(self, data: bytes) -> int:
        self.stream.write(self.decoder.decode(data))
        return len(data)
