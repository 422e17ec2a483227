"""The till's paper: transaction receipts, the day-close (Z) report and the member welcome slip.

Built from stored records only (never from what the screen showed), so a
reprint says exactly what the first print said, apart from "DUPLICAAT".
Names the records' signed fields do not carry (the budget's label, the
shop's name) are stored with them at commit and win over the context's
current ones: a budget spent to nothing leaves the snapshot, a shop may be
renamed, and the reprint must still match.
Documents are width-independent PrintDocs; lines are kept to 32 characters
or fewer, so they read the same on 58 mm (32 columns) and 80 mm (48) paper.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Sequence
from zoneinfo import ZoneInfo

from floreyn.card import mask_card_id
from floreyn.money import Money, format_money
from floreyn.sync.record import Kind, Tender
from floreyn.terminal.drivers.base import Align, Line, PrintDoc
from floreyn.terminal.store import StoredRecord

# The Dutch names a receipt and the engine's results give each kind and tender.
KIND_NL = {
    Kind.SPEND: "Betaling", Kind.SAVE: "Sparen", Kind.TOPUP: "Opwaarderen",
    Kind.REFUND: "Terugbetaling", Kind.VOID: "Storno", Kind.DAY_CLOSE: "Dagafsluiting",
}
TENDER_NL = {Tender.NONE: "", Tender.CASH: "Contant", Tender.BANK_CARD: "Pin"}

RECEIPT_COLUMNS = 32  # every line fits 58 mm paper (and so 80 mm)
RULE = Line("-" * RECEIPT_COLUMNS, align=Align.CENTER)


@dataclass(frozen=True)
class ReceiptContext:
    cooperative: str
    merchant_name: str
    terminal_id: str
    timezone: str = "Europe/Amsterdam"
    budget_labels: Mapping[str, str] = field(default_factory=dict)
    welcome_url: str = "https://floreyn.nl/welkom"


def _fl(cents: int) -> str:
    return format_money(Money.fl(cents))


def _eur(cents: int) -> str:
    return format_money(Money.eur(cents))


def local_time(wall_ms: int, tz: str) -> str:
    moment = dt.datetime.fromtimestamp(wall_ms / 1000, ZoneInfo(tz))
    return moment.strftime("%d-%m-%Y %H:%M")


def _header(ctx: ReceiptContext, title: str, reprint: bool) -> list[Line]:
    lines = [
        Line(ctx.cooperative, bold=True, align=Align.CENTER),
        Line(ctx.merchant_name, align=Align.CENTER),
        RULE,
        Line(title, bold=True, large=True, align=Align.CENTER),
    ]
    if reprint:
        lines.append(Line("DUPLICAAT", bold=True, align=Align.CENTER))
    return lines


def tx_receipt(records: Sequence[StoredRecord], ctx: ReceiptContext, *, reprint: bool = False) -> PrintDoc:
    """The receipt of one transaction (one or more records committed together)."""
    assert records, "a receipt needs its records"
    first, last = records[0], records[-1]
    ctx = as_committed(ctx, first)
    seqs = f"{first.seq}" if first.seq == last.seq else f"{first.seq}-{last.seq}"
    lines = _header(ctx, KIND_NL[first.kind], reprint)
    lines += [
        Line("Datum", local_time(first.wall_ms, ctx.timezone)),
        Line("Terminal", ctx.terminal_id),
        Line("Volgnummer", seqs),
    ]
    if first.card_hex:
        lines.append(Line("Pas", mask_card_id(bytes.fromhex(first.card_hex))))
    lines.append(RULE)
    for rec in records:
        lines += _body(rec, ctx)
    lines += _totals(records)
    lines += _redeem_bonus(records)
    lines.append(RULE)
    lines += _balance(records)
    lines += [Line(""), Line("Saldo en overzicht:"), Line(ctx.welcome_url)]  # the portal (server portal_url)
    return PrintDoc(tuple(lines), qr_data=first.tx_id, cut=True, doc_id=f"{first.seq:06d}-{first.kind.name.lower()}")


def as_committed(ctx: ReceiptContext, first: StoredRecord) -> ReceiptContext:
    """The context with the shop's name as it was when `first` was committed (when stored)."""
    return replace(ctx, merchant_name=first.merchant_name) if first.merchant_name else ctx


def budget_label(rec: StoredRecord, ctx: ReceiptContext) -> str:
    """The label kept with the record; for older records the current one, else the budget's id."""
    if rec.budget_label:
        return rec.budget_label
    return ctx.budget_labels.get(rec.budget_id or "", rec.budget_id or "")


def _body(rec: StoredRecord, ctx: ReceiptContext) -> list[Line]:
    label = budget_label(rec, ctx)
    tender = TENDER_NL[rec.tender]
    out: list[Line] = []
    if rec.kind is Kind.SPEND:
        if rec.budget_id:
            out += [Line(label), Line("  betaald", _fl(rec.fl_cents)), *_budget_after(rec)]
        elif rec.fl_cents:
            out.append(Line("Van eigen saldo", _fl(rec.fl_cents)))  # what was paid from it, not what is left
        if rec.eur_cents:
            out.append(Line(tender, _eur(rec.eur_cents)))
    elif rec.kind is Kind.SAVE:
        out += [Line("Aankoopbedrag", _eur(rec.eur_cents)), Line("Gespaard", _fl(rec.fl_cents), bold=True)]
        if rec.pot_cents:
            out += [Line(_short(f"Actie {rec.pot_campaign}")), Line("  waarvan uit de pot", _fl(rec.pot_cents))]
    elif rec.kind is Kind.TOPUP:
        out += [Line(f"Betaald {tender.lower()}", _eur(rec.eur_cents)),
                Line("Opgewaardeerd", _fl(rec.fl_cents), bold=True)]
    elif rec.kind is Kind.REFUND:
        if rec.budget_id:
            out += [Line(label), Line("  terug op budget", _fl(rec.fl_cents))]
        elif rec.fl_cents:
            out.append(Line("Terug op saldo", _fl(rec.fl_cents)))
        if rec.eur_cents:
            out.append(Line(f"{tender} terug", _eur(rec.eur_cents)))
    elif rec.kind is Kind.VOID:
        out.append(Line("Storno van transactie", (rec.ref_id or "")[:8]))
        if rec.fl_cents:
            out.append(Line("  Floreyn", _fl(rec.fl_cents)))
        if rec.eur_cents:
            out.append(Line(f"  {tender.lower() or 'euro'}", _eur(rec.eur_cents)))
    return out


def iso_to_nl_date(iso: str) -> str:
    """An ISO date as Dutch paper writes it (31-12-2026); an unreadable one as it is."""
    try:
        return dt.date.fromisoformat(iso).strftime("%d-%m-%Y")
    except ValueError:
        return iso


def _budget_after(rec: StoredRecord) -> list[Line]:
    """What is left of the budget after this payment and its last day (a day of the cooperative's
    time zone, as the server keeps it), and the second member's card that confirmed it."""
    out = []
    if rec.budget_left_cents is not None:
        # Offline the figure is what this till knows: the bottom line says it is provisional.
        out.append(Line("  nog over", _fl(rec.budget_left_cents)))
    if rec.budget_expires_on:
        out.append(Line("  geldig t/m", iso_to_nl_date(rec.budget_expires_on)))
    if rec.confirm_card_hex:
        out.append(Line("  bevestigd met pas", mask_card_id(bytes.fromhex(rec.confirm_card_hex))))
    return out


def _short(text: str) -> str:
    """One receipt line of at most 32 characters (a campaign name may be longer)."""
    return text if len(text) <= RECEIPT_COLUMNS else text[: RECEIPT_COLUMNS - 1] + "…"


def _redeem_bonus(records: Sequence[StoredRecord]) -> list[Line]:
    """A payment at a redeeming campaign ("verzilveractie"): what its pot gives back, booked on the payer's
    balance by the server once the payment reaches it, while the pot lasts."""
    if records[0].kind is not Kind.SPEND:
        return []
    bonus = sum(r.pot_cents or 0 for r in records)
    if not bonus:
        return []
    name = next(r.pot_campaign for r in records if r.pot_cents)
    return [Line(_short(f"Actie {name}")), Line("  extra uit de pot", _fl(bonus), bold=True),
            Line("  komt na verwerking op uw saldo")]


def _totals(records: Sequence[StoredRecord]) -> list[Line]:
    if records[0].kind not in (Kind.SPEND, Kind.REFUND) or len(records) + sum(bool(r.eur_cents) for r in records) < 2:
        return []
    fl_total = sum(r.fl_cents for r in records)
    eur_total = sum(r.eur_cents for r in records)
    # Each currency as paid: a payment wholly in Floreyn never reads as euros, a split one shows both.
    parts = [text for cents, text in ((fl_total, _fl(fl_total)), (eur_total, _eur(eur_total))) if cents]
    return [Line("Totaal", " + ".join(parts), bold=True)]


def _balance(records: Sequence[StoredRecord]) -> list[Line]:
    last = records[-1]
    if last.kind not in (Kind.SPEND, Kind.SAVE, Kind.TOPUP, Kind.REFUND):
        return [Line("Bewaar deze bon.", align=Align.CENTER)]
    if any(r.offline for r in records):
        return [Line("Saldo onder voorbehoud", align=Align.CENTER),
                Line("(zonder verbinding)", align=Align.CENTER)]
    if last.balance_after_cents is not None:
        return [Line("Nieuw saldo", _fl(last.balance_after_cents), bold=True)]
    return [Line("Bewaar deze bon.", align=Align.CENTER)]  # online, but the server gave no balance to print


def z_report_doc(report: Mapping[str, Any], ctx: ReceiptContext, *, tx_id: str = "",
                 reprint: bool = False) -> PrintDoc:
    """The day-close report, from the report frozen at close."""
    lines = _header(ctx, KIND_NL[Kind.DAY_CLOSE], reprint)
    lines += [Line("Dag", str(report["day_no"])), Line("Terminal", ctx.terminal_id)]
    if report.get("first_seq") is not None:
        lines += [
            Line("Volgnummers", f"{report['first_seq']} t/m {report['last_seq']}"),
            Line("Van", local_time(report["first_wall_ms"], ctx.timezone)),
            Line("Tot", local_time(report["last_wall_ms"], ctx.timezone)),
        ]
    lines.append(RULE)
    euro_label = {"SPEND": "  euro", "SAVE": "  aankopen", "TOPUP": "  betaald", "REFUND": "  euro terug",
                  "VOID": "  euro"}
    for kind in (Kind.SPEND, Kind.SAVE, Kind.TOPUP, Kind.REFUND, Kind.VOID):
        slot = report["kinds"][kind.name]
        lines.append(Line(f"{KIND_NL[kind]} {slot['count']}x", _fl(slot["fl_cents"])))
        if slot["eur_cents"]:
            lines.append(Line(euro_label[kind.name], _eur(slot["eur_cents"])))
        if kind is Kind.TOPUP:  # paid at the till in cash or by bank card: counted apart (older reports: none)
            for tender, cents in (report.get("topup_eur_by_tender_cents") or {}).items():
                if cents:
                    lines.append(Line(f"    waarvan {TENDER_NL[Tender[tender]].lower()}", _eur(cents)))
    lines.append(RULE)
    for tender in (Tender.CASH, Tender.BANK_CARD):
        slot = report["tenders"][tender.name]
        lines += [
            Line(f"{TENDER_NL[tender]} {slot['count']}x", bold=True),
            Line("  ontvangen", _eur(slot["in_cents"])),
            Line("  terugbetaald", _eur(slot["out_cents"])),
            Line("  netto", _eur(slot["net_cents"])),
        ]
    lines += [
        RULE,
        Line("Floreyn ontvangen", _fl(report["fl_received_cents"])),
        Line("Floreyn uitgegeven", _fl(report["fl_issued_cents"])),
        Line("Boekingen", str(report["records"])),
    ]
    return PrintDoc(tuple(lines), qr_data=tx_id or None, cut=True, doc_id=f"z-day-{report['day_no']:04d}")


def welcome_slip(alias: str, card_id: bytes, ctx: ReceiptContext, *, activation_code: str | None = None,
                 ask_bp: int | None = None) -> PrintDoc:
    """Handed to a new member with their card: the portal's address (`ctx.welcome_url`; the desk passes the
    server's configured portal_url) and, from the desk, the one-time activation code. The rate is printed
    only when the caller knows it (the server's ask rate): a slip never states a rate of its own."""
    lines = [
        Line(ctx.cooperative, bold=True, align=Align.CENTER),
        Line(ctx.merchant_name, align=Align.CENTER),
        RULE,
        Line("Welkom bij Floreyn!", bold=True, align=Align.CENTER),
        Line(alias, align=Align.CENTER),
        Line("Pas", mask_card_id(card_id)),
        RULE,
        Line("Spaar bij elke aankoop in de"),
        Line("buurt en betaal met Floreyn bij"),
        Line("lokale winkels, klussers en op"),
        Line("de markt."),
    ]
    if ask_bp is not None:
        lines.append(Line("Koers", f"fl 1,00 = {_eur(ask_bp // 100)}"))
    lines += [
        Line(""),
        Line("Saldo en budgetten bekijken:"),
        Line(ctx.welcome_url),
    ]
    if activation_code:
        lines += [Line("Uw activeringscode (eenmalig):"), Line(activation_code, bold=True, align=Align.CENTER)]
    return PrintDoc(tuple(lines), qr_data=ctx.welcome_url, cut=True, doc_id=f"welkom-{card_id.hex()[-4:]}")
