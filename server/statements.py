"""A merchant's settlement statement for a closed period: every component and the rates, in four forms.

    build(conn, period, merchant_id) -> dict    (JSON)
    as_text(st) / as_csv(st) / as_html(st)      pure renderings of that dict

The statement adds up by construction and says so: its Floreyn activity
(opening + movements of the month) ends at the balance the settlement used
at the cut, and its net is what the bank batch carries for the merchant.
"""

from __future__ import annotations

import csv
import html
import io
import json
from typing import Any, Final

from sqlalchemy import Connection, select

from floreyn.money import Money, format_money
from floreyn.server import reports, settlement
from floreyn.server import schema as s
from floreyn.server.errors import NotFound

FORMATS: Final = ("json", "text", "csv", "html")
KIND_NL: Final = {"winkel": "winkel", "zelfstandige": "zelfstandige (fl-zelfstandige)"}
METHOD_NL: Final = {"transfer": "overboeking naar IBAN", "cash": "contant aan de balie",
                    "debit": "SEPA-incasso (machtiging)", "invoice": "factuur", None: "niets te verrekenen"}


def build(conn: Connection, period: str, merchant_id: str) -> dict[str, object]:
    first, last, _, _ = settlement.period_bounds(period)
    line = conn.execute(select(s.settlement_lines).where(s.settlement_lines.c.period == period,
                                                         s.settlement_lines.c.merchant_id == merchant_id)).first()
    if line is None:
        raise NotFound(what="statement", id=f"{period}/{merchant_id}")
    m = conn.execute(select(s.merchants).where(s.merchants.c.merchant_id == merchant_id)).one()
    c = json.loads(line.detail)
    activity = reports.settlement(conn, merchant_id, first.isoformat(), last.isoformat())
    fl = activity["fl"]
    assert fl["closing_cents"] == c["fl_at_cut_cents"], "the month's activity ends at the cut balance"
    assert fl["opening_cents"] + sum(cents for _, cur, cents in _moves(fl)) == fl["closing_cents"], \
        "every kind of movement is a line of the statement"
    batch_id = conn.execute(select(s.settlement_periods.c.batch_id)
                            .where(s.settlement_periods.c.period == period)).scalar_one()
    payouts = conn.execute(select(s.payout_lines).where(s.payout_lines.c.batch_id == batch_id,
                                                        s.payout_lines.c.merchant_id == merchant_id)
                           .order_by(s.payout_lines.c.id)).all()
    return {
        "period": period, "from": first.isoformat(), "to": last.isoformat(),
        "merchant": {"merchant_id": m.merchant_id, "name": m.name, "kind": m.kind, "iban": m.iban,
                     "account_holder": m.account_holder},
        "activity": {"fl": activity["fl"], "eur": activity["eur"]},
        "components": c, "rates": {"ask_bp": c["ask_bp"], "bid_bp": c["bid_bp"]},
        "rule": settlement.RULE, "tx_id": line.tx_id, "batch_id": batch_id,
        "payouts": [{"method": p.method, "eur_cents": p.eur_cents, "reference": p.reference,
                     "source_tx_id": p.source_tx_id, "paid": p.paid_tx_id is not None} for p in payouts],
    }


def _moves(fl: dict[str, int]) -> list[tuple[str, str, int]]:
    """The month's Floreyn movements of a merchant, one line per kind (signed as they move the balance)."""
    return [
        ("ontvangen van klanten", "fl", fl["received_cents"]),
        ("terugbetaald aan klanten", "fl", -fl["refunded_cents"]),
        ("spaarbeloningen gegeven", "fl", -fl["save_cost_cents"]),
        ("storno's", "fl", fl["voids_cents"]),
        ("correcties", "fl", fl["corrections_cents"]),
        ("ingewisseld aan de balie", "fl", -fl["cashed_out_cents"]),
        ("betalingen ontvangen (+) en gedaan (-)", "fl", fl["payments_cents"]),
        ("gekocht aan de balie", "fl", fl["bought_cents"]),
        ("campagnepot: ingelegd (-) en terugontvangen (+)", "fl", fl["campaign_pot_cents"]),
        ("afgerekend over de vorige maand", "fl", fl["settled_cents"]),
        ("geschillen", "fl", fl["disputes_cents"]),
        ("overig", "fl", fl["other_cents"]),
    ]


def rows(st: dict[str, Any]) -> list[tuple[str, str, int]]:
    """(label, currency, cents) of every line of the statement, in order: one source for every form."""
    a, c = st["activity"], st["components"]
    fl, eur = a["fl"], a["eur"]
    return [
        ("Floreyn begin van de maand", "fl", fl["opening_cents"]),
        *_moves(fl),
        ("Floreyn eind van de maand", "fl", c["fl_at_cut_cents"]),
        ("zelf gehouden om uit te geven", "fl", c["keep_fl_cents"]),
        ("ingeleverd tegen de bied-koers", "fl", c["handed_in_fl_cents"]),
        ("gekocht tegen de laat-koers (tekort)", "fl", c["bought_fl_cents"]),
        ("euro's van opwaarderingen aan de kassa", "EUR", eur["topups_taken_cents"]),
        ("euro's van opwaarderingen, te verrekenen", "EUR", c["till_eur_cents"]),
        ("coöperatie betaalt voor ingeleverde Floreyn", "EUR", c["paid_eur_cents"]),
        ("winkel betaalt voor gekochte Floreyn", "EUR", -c["bought_eur_cents"]),
        ("winkel draagt opwaardeer-euro's af", "EUR", -c["till_eur_cents"]),
        ("saldo (> 0: coöperatie betaalt, < 0: winkel betaalt)", "EUR", c["net_eur_cents"]),
    ]


def _money(currency: str, cents: int) -> str:
    return format_money(Money.fl(cents) if currency == "fl" else Money.eur(cents))


def _rate(bp: int) -> str:
    return f"€ {bp // 10_000},{bp % 10_000:04d}"


def _head(st: dict[str, Any]) -> list[tuple[str, str]]:
    m, c = st["merchant"], st["components"]
    return [("Afrekening", f"{st['period']} ({st['from']} t/m {st['to']})"),
            ("Deelnemer", f"{m['name']} ({m['merchant_id']}, {KIND_NL.get(m['kind'], m['kind'])})"),
            ("Rekening", f"{m['iban']} t.n.v. {m['account_holder']}" if m["iban"] else "geen IBAN bekend"),
            ("Koersen", f"laat (kopen) {_rate(c['ask_bp'])}, bied (inwisselen) {_rate(c['bid_bp'])} per fl 1,00"),
            ("Wijze", METHOD_NL.get(c.get("method"), str(c.get("method")))),
            ("Batch", st["batch_id"]),
            ("Regel", st["rule"])]


def as_text(st: dict[str, Any]) -> str:
    out = [f"{k}: {v}" for k, v in _head(st)] + [""]
    width = max(len(label) for label, _, _ in rows(st))
    out += [f"{label.ljust(width)}  {_money(cur, cents):>16}" for label, cur, cents in rows(st)]
    for p in st["payouts"]:
        out.append(f"{METHOD_NL.get(p['method'], p['method'])}: {_money('EUR', p['eur_cents'])} "
                   f"({'betaald' if p['paid'] else 'nog niet betaald'})")
    return "\n".join(out) + "\n"


def as_csv(st: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(("period", "merchant_id", "line", "currency", "amount_cents", "ask_bp", "bid_bp"))
    c = st["components"]
    for label, cur, cents in rows(st):
        w.writerow((st["period"], st["merchant"]["merchant_id"], label, cur, cents, c["ask_bp"], c["bid_bp"]))
    return buf.getvalue()


_CSS: Final = ("@page { size: A4; margin: 18mm } body { font-family: DejaVu Sans, sans-serif; font-size: 10pt } "
               "table { border-collapse: collapse; width: 100% } td, th { padding: 2pt 4pt; "
               "border-bottom: 0.5pt solid #bbb; text-align: left } td.n { text-align: right; "
               "font-variant-numeric: tabular-nums; white-space: nowrap } tr.total td { font-weight: bold }")


def as_html(st: dict[str, Any]) -> str:
    e = html.escape
    head = "".join(f"<tr><th>{e(k)}</th><td>{e(str(v))}</td></tr>" for k, v in _head(st))
    body_rows = rows(st)
    classes = [""] * (len(body_rows) - 1) + [' class="total"']
    body = "".join(f'<tr{cls}><td>{e(label)}</td><td class="n">{e(_money(cur, cents))}</td></tr>'
                   for cls, (label, cur, cents) in zip(classes, body_rows, strict=True))
    return (f'<!DOCTYPE html><html lang="nl"><head><meta charset="utf-8"><title>Floreyn afrekening '
            f'{e(st["period"])} {e(st["merchant"]["merchant_id"])}</title><style>{_CSS}</style></head><body>'
            f'<h1>Floreyn-afrekening {e(st["period"])}</h1><table class="head">{head}</table>'
            f'<h2>Onderdelen</h2><table class="lines">{body}</table></body></html>\n')
