"""Screen text built from the engine's values, in the current language.

Plain functions of (value, tr) so the screens stay layout only. Amounts are
formatted with floreyn.money.format_money in the shown language; the engine
decides every figure, this module only words it.

The engine's reasons (why a budget cannot pay here, why offline spending is
limited) are codes with raw params; `reason_text` words them through the
catalogs, with amounts from their cents, so the English screen never shows
Dutch words or Dutch number formats.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from floreyn.money import Money
from floreyn.sync.record import Kind, Tender
from floreyn.terminal.app.i18n import Translator


def kind_title(kind: Kind, tr: Translator) -> str:
    return {
        Kind.SPEND: tr._("Payment"), Kind.SAVE: tr._("Saving"), Kind.TOPUP: tr._("Top-up"),
        Kind.REFUND: tr._("Refund"), Kind.VOID: tr._("Void"), Kind.DAY_CLOSE: tr._("Day close"),
    }[kind]


def done_title(kind: Kind, tr: Translator) -> str:
    return {
        Kind.SPEND: tr._("Paid"), Kind.SAVE: tr._("Saved"), Kind.TOPUP: tr._("Topped up"),
        Kind.REFUND: tr._("Refunded"), Kind.VOID: tr._("Voided"), Kind.DAY_CLOSE: tr._("Day closed"),
    }[kind]


def age_text(age_s: float | None, tr: Translator) -> str:
    if age_s is None:
        return tr._("age unknown")
    if age_s < 90:
        return tr._("just now")
    if age_s < 5400:
        return tr._("{minutes} min old").format(minutes=int(age_s // 60))
    return tr._("{hours} h old").format(hours=int(age_s // 3600))


def date_text(iso: str, tr: Translator) -> str:
    try:
        day = dt.date.fromisoformat(iso)
    except ValueError:
        return iso
    return day.strftime("%d-%m-%Y") if tr.lang == "nl" else day.isoformat()


def reason_text(reason: Any, tr: Translator) -> str:
    """An engine reason (a FloreynError: `code` and raw `params`) in the shown language.

    Codes not worded here, or a reason missing a param, fall back to the
    refusal's own Dutch/English template (tr.error_text).
    """
    p = reason.params

    def fl(key: str) -> str:
        return tr.money(Money.fl(int(p[key])))

    try:
        return _reason_text(reason.code, p, fl, tr)
    except (KeyError, TypeError, ValueError):
        return tr.error_text(reason)


def _reason_text(code: str, p: dict[str, Any], fl: Any, tr: Translator) -> str:
    if code == "budget_wrong_category":  # say where the budget is for, not what this shop is
        if p.get("for_categories"):
            return tr._("{label}: only for {categories}, not here").format(
                label=p["label"], categories=category_names(p["for_categories"], tr))
        return tr._("{label}: not for this shop").format(label=p["label"])
    if code == "budget_expired":
        return tr._("{label}: expired on {date}").format(label=p["label"], date=date_text(p["expires_on"], tr))
    if code == "offline_per_tx_limit":
        return tr._("Without a connection at most {amount} per payment").format(amount=fl("max_cents"))
    if code == "offline_cumulative_limit":
        return tr._("Without a connection this card can pay only {amount} more").format(amount=fl("left_cents"))
    if code == "offline_allowance_used":
        return tr._("Without a connection this card can pay only {amount} more from its own balance").format(
            amount=fl("left_cents"))
    if code == "offline_count_limit":
        return tr._("This card has paid {count} times without a connection: a connection is needed first").format(
            count=int(p["count"]))
    if code == "snapshot_stale":
        if p.get("age_s", "") in ("", None):
            return tr._("Server data of unknown age: offline payments need a connection first")
        return tr._("Server data is {hours} h old: offline payments need a connection first").format(
            hours=int(p["age_s"]) // 3600)
    if code == "card_unknown_offline":
        return tr._("Card not yet known to this till: paying only with a connection. Saving works.")
    if code == "insufficient_balance":
        return tr._("Insufficient balance: {amount} available").format(amount=fl("available_cents"))
    raise KeyError(code)


def category_names(categories: str, tr: Translator) -> str:
    """Merchant categories ("winkel,markt", as the engine passes them) as the shopkeeper says them."""
    names = {"winkel": tr._("shops"), "klussen": tr._("odd jobs"), "groen": tr._("garden work"),
             "zorg": tr._("care"), "markt": tr._("the market")}
    words = [names.get(c.strip(), c.strip()) for c in categories.split(",") if c.strip()]
    if len(words) <= 1:
        return "".join(words)
    return tr._("{first} or {last}").format(first=", ".join(words[:-1]), last=words[-1])


def refusal_lines(error: Any, tr: Translator) -> tuple[str, str, str]:
    """(title, reason, what to do) for the full-screen refusal of a card."""
    code = getattr(error, "code", "")
    if code == "card_blocked":
        title = tr._("Card blocked")
        advice = tr._("Do not accept this card. Ask the customer to contact the cooperative.")
    elif code in ("card_damaged", "card_unknown_version", "card_unknown_key", "card_tampered", "card"):
        title = tr._("Card not accepted")
        advice = tr._("Hold the card still against the reader once more. Refused again: pay another way.")
    else:
        title = tr._("Card not accepted")
        advice = tr._("Pay another way, or call the cooperative.")
    return title, tr.error_text(error), advice


def near_limits_text(summary: Any, tr: Translator) -> str:
    """The banner for a card near its offline limits (MemberSummary.near_offline_limits)."""
    if summary.offline_taps_left is not None and summary.offline_taps_left <= 1:
        return tr._("Near the offline limits: this card can pay once more without a connection, at most {amount}"
                    ).format(amount=tr.money(summary.spendable))
    return tr._("Near the offline limits: this card can pay {amount} more without a connection").format(
        amount=tr.money(Money.fl(summary.offline_left_cents or 0)))


def member_lines(summary: Any, tr: Translator) -> tuple[str, str, str]:
    """(alias, spendable line, where the figure comes from)."""
    spend = tr._("Spendable: {amount}").format(amount=tr.money(summary.spendable))
    if summary.live:
        source = tr._("Live balance from the server")
    else:
        spend = "\u2248 " + spend  # the mark: a figure from the last snapshot, not the live balance
        source = tr._("\u2248 from the last data ({age}), not live").format(
            age=age_text(summary.snapshot_age_s, tr))
    if not summary.known:
        source = tr._("Card not yet known to this till")
    return summary.alias, spend, source


def own_lines(summary: Any, tr: Translator) -> list[tuple[str, bool]]:
    """The own balance, named. Offline the figure that pays is the offline allowance, often below the
    balance: both are shown, each with its name, so nobody reads the allowance as the balance."""
    if summary.live:
        return [(tr._("Own balance: {amount}").format(amount=tr.money(summary.own)), True)]
    lines = []
    if getattr(summary, "balance_cents", None) is not None:
        lines.append((tr._("Balance (last known): {amount}").format(
            amount=tr.money(Money.fl(summary.balance_cents))), True))
    lines.append((tr._("Usable offline: {amount}").format(amount=tr.money(summary.own)), True))
    return lines


def budget_lines(summary: Any, tr: Translator, limit: int = 4) -> list[tuple[str, bool]]:
    """One line per source: (text, usable). Own balance first, then budgets; at most `limit`."""
    lines = own_lines(summary, tr)
    for b in summary.budgets:
        if b.usable:  # "(tot 16-12-2026)" stays on one line: its first word is glued to the date
            text = re.sub(r"\((\w+) (?=\S)", "(\\1\u00a0", tr._("{label}: {amount} (until {date})").format(
                label=b.label, amount=tr.money(b.remaining), date=date_text(b.expires_on, tr)))
        elif b.reason is not None:  # the reason names the budget
            text = reason_text(b.reason, tr)
        else:
            text = tr._("{label}: not here").format(label=b.label)
        lines.append((text, b.usable))
    if len(lines) > limit:
        more = len(lines) - (limit - 1)
        lines = lines[: limit - 1] + [(tr._("and {count} more").format(count=more), False)]
    return lines


def payable_sources(summary: Any) -> list[Any]:
    """Budgets that can pay here now (usable and not empty)."""
    return [b for b in summary.budgets if b.usable and b.remaining.cents > 0]


def quote_lines(quote: Any, tr: Translator) -> list[str]:
    """What the shopkeeper confirms: what happens, in which amounts, and any caveat."""
    m = tr.money
    lines: list[str] = []
    if quote.kind is Kind.SPEND:
        lines.append(tr._("Pay {amount}").format(amount=m(quote.asked)))
        for part in quote.parts:
            label = part.label if part.budget_id else tr._("From own balance")
            lines.append(f"  {label}: {m(Money.fl(part.fl_cents))}")
        if quote.needs_tender:
            lines.append(tr._("Still to pay: {amount} (cash or bank card)").format(amount=m(quote.eur)))
    elif quote.kind is Kind.SAVE:
        lines.append(tr._("Saving on a purchase of {amount}").format(amount=m(quote.asked)))
        lines.append(tr._("Member receives {amount}").format(amount=m(quote.fl)))
        if quote.campaign:
            lines.append(tr._("Campaign: {name}").format(name=quote.campaign))
    elif quote.kind is Kind.TOPUP:
        lines.append(tr._("Member pays {amount} (cash or bank card)").format(amount=m(quote.eur)))
        lines.append(tr._("Member receives {amount}").format(amount=m(quote.fl)))
    elif quote.kind is Kind.REFUND:
        lines.append(tr._("Refund {amount} to the member").format(amount=m(quote.fl)))
        if quote.eur.cents:
            lines.append(tr._("and {amount} in euros").format(amount=m(quote.eur)))
    elif quote.kind is Kind.VOID:
        lines.append(tr._("Void the last transaction: {amount}").format(amount=m(quote.fl)))
        if quote.eur.cents:
            lines.append(tr._("and {amount} in euros").format(amount=m(quote.eur)))
    if quote.kind is Kind.SPEND and quote.offline:
        lines.append(tr._("Offline payment (no connection)"))
    if quote.cap_reason is not None:
        lines.append(reason_text(quote.cap_reason, tr))
    if quote.repeat_ago_s is not None:
        lines.append(tr._("Warning: this card was charged {seconds} s ago. Confirm only if this is a new sale.")
                     .format(seconds=int(quote.repeat_ago_s)))
    return lines


def second_card_lines(quote: Any, stage: str, payer: str, tr: Translator) -> tuple[str, str]:
    """(title, text) of the screen that waits for a card: a second tenant's, to approve the amount from the
    group budget; offline afterwards the payer's again, to take the payment on its trail."""
    if stage == "payer":
        return (tr._("Now hold {name}'s card to the reader again").format(name=payer),
                tr._("Without a connection the payment is written onto the payer's card."))
    parts = [p for p in quote.parts if p.budget_id in quote.confirm_budgets]
    if not parts:
        return "", ""
    return (tr._("Second resident: hold your card to the reader"),
            tr._("Another resident of the group must approve this payment of {amount} from {budget}.").format(
                amount=tr.money(Money.fl(sum(p.fl_cents for p in parts))), budget=parts[0].label))


def result_lines(result: Any, tr: Translator) -> tuple[str, str]:
    """(title, amount line) for the done screen."""
    title = done_title(result.kind, tr)
    amount = tr.money(result.fl)
    if result.kind is Kind.SAVE or result.kind is Kind.TOPUP:
        amount = tr._("{fl} for {eur}").format(fl=tr.money(result.fl), eur=tr.money(result.eur))
    elif result.eur.cents:
        tender = result.records[-1].tender
        how = tr._("cash") if tender is Tender.CASH else tr._("bank card") if tender is Tender.BANK_CARD else ""
        amount = tr._("{fl} + {eur} {how}").format(fl=tr.money(result.fl), eur=tr.money(result.eur), how=how)
    if getattr(result, "card_updated", None):  # an offline spend went onto the card's trail (engine/trail.py)
        amount = f"{amount} · {tr._('Card updated')}"
    return title, amount


def receipt_text(state: str, error: Any, tr: Translator) -> str:
    if state == "printed":
        return tr._("Receipt printed")
    if state == "failed":
        detail = tr.error_text(error) if error is not None else ""
        return tr._("Receipt NOT printed. The transaction is saved.") + (" " + detail if detail else "")
    if state == "printing" or state == "pending":
        return tr._("Printing receipt\u2026")
    return ""


def banner(overview: Any, summary: Any, tr: Translator) -> tuple[str, str]:
    """(text, level) for the status line under the header; level "" hides it. Only what passes or needs someone
    now: the card on the reader, a disk filling up. Being offline lasts (a market stall is offline all
    day) and would take a line of the screen all day: that is the header's chip (sync_chip)."""
    if summary is not None and not summary.live:
        if summary.offline_reason is not None:
            return reason_text(summary.offline_reason, tr), "error"
        if summary.near_offline_limits:
            return near_limits_text(summary, tr), "warn"
        cap = summary.spend_cap_cents
        total = summary.own.cents + sum(b.remaining.cents for b in summary.budgets if b.usable)
        if cap is not None and cap < total:
            return tr._("Offline limit: this card can pay at most {amount} now").format(
                amount=tr.money(Money.fl(cap))), "warn"
    status = overview.status if overview is not None else None
    if status is None:
        return "", ""
    if getattr(status, "store_damaged", False):
        return tr._("Till data damaged: nothing is sent to the server. Call the cooperative."), "error"
    if getattr(status, "disk_full", False):
        return tr._("Storage full: new transactions are blocked. Everything paid is safe. Call the cooperative."
                    ), "error"
    if getattr(status, "disk_low", False):  # needs someone to act, unlike being offline for a while
        return tr._("Storage almost full ({mb} MB free). Call the cooperative.").format(
            mb=status.disk_free_mb), "warn"
    return "", ""


def sync_chip(overview: Any, tr: Translator) -> tuple[str, str, str]:
    """(short, full, level) of the till's lasting sync state, for the chip in the header: a word or two
    that leaves the operator and the reader readable beside it, the full sentence on a tap. Level ""
    (and no words) when the till is connected and its server data fresh."""
    status = overview.status if overview is not None else None
    if status is None:
        return "", "", ""
    if status.snapshot_stale:  # a card is refused offline now: red, before the offline state itself
        return (tr._("Server data old"),
                tr._("Server data is too old: offline payments are not possible. Saving still works."), "error")
    if status.online is False:
        return (tr._("Offline"),
                tr._("Offline: no connection to the server. Cards can still pay, up to a set amount."), "warn")
    if status.online is None:
        return tr._("Offline"), tr._("Offline: no server configured."), "warn"
    return "", "", ""


def reader_text(status: Any, tr: Translator, *, short: bool = False) -> str:
    if status is None:
        return tr._("Reader: starting") if short else tr._("Card reader: starting")
    name = getattr(status.state, "value", str(status.state))
    word = {
        "starting": tr._("starting"), "ready": tr._("ready"), "reconnecting": tr._("reconnecting"),
        "unavailable": tr._("not available"), "stopped": tr._("stopped"),
    }.get(name, name)
    if short:
        return tr._("Reader: {state}").format(state=word)
    line = tr._("Card reader: {state}").format(state=word)
    return line + (f" ({status.message})" if status.message and name != "ready" else "")


def clock_text(wall_ms: int | None, tr: Translator) -> str:
    if not wall_ms:
        return tr._("never")
    return tr.local(wall_ms).strftime("%d-%m %H:%M" if tr.lang == "nl" else "%m-%d %H:%M")


def dim_text(seconds: int, tr: Translator) -> str:
    if seconds <= 0:
        return tr._("Dim screen: never")
    if seconds < 60:
        text = tr._("Dim screen after {seconds} s").format(seconds=seconds)
    else:
        text = tr._("Dim screen after {minutes} min").format(minutes=seconds // 60)
    return re.sub(r"(\d) (min|s)\b", "\\1\u00a0\\2", text)  # "1 min" never over two lines


def status_lines(overview: Any, reader_status: Any, tr: Translator) -> list[str]:
    """The status screen: reader, printer, server, records waiting, last sync, snapshot age."""
    lines = [reader_text(reader_status, tr)]
    printer = overview.printer if overview is not None else None
    if printer is None:
        lines.append(tr._("Printer: unknown"))
    elif printer.online and printer.paper_ok and printer.cover_closed:
        lines.append(tr._("Printer: ready"))
    else:
        lines.append(tr._("Printer: problem ({detail})").format(detail=printer.message or "?"))
    status = overview.status if overview is not None else None
    if status is None:
        return lines + [tr._("Till status: loading\u2026")]
    server = {None: tr._("Server: none configured"), True: tr._("Server: connected"),
              False: tr._("Server: no connection")}[status.online]
    lines.append(server)
    lines.append(tr._("Records waiting to sync: {count}").format(count=status.pending_uploads))
    sync = overview.sync
    lines.append(tr._("Last sync: {when}").format(when=clock_text(sync.last_sync_ms if sync else None, tr)))
    if status.snapshot_version is None:
        lines.append(tr._("Server data: none yet"))
    else:
        lines.append(tr._("Server data: version {version}, {age}").format(
            version=status.snapshot_version, age=age_text(status.snapshot_age_s, tr)))
    if status.receipts_to_print:
        lines.append(tr._("Receipts not yet printed: {count}").format(count=status.receipts_to_print))
    if overview.worker_restarts:
        lines.append(tr._("Till worker restarted {count} times; last cause: {cause}").format(
            count=overview.worker_restarts, cause=overview.worker_failure or "?"))
    lines.extend(disk_lines(status, tr))
    lines.append(tr._("Terminal {terminal}, day {day}, last number {seq}").format(
        terminal=status.terminal_id, day=status.day_no, seq=status.head_seq))
    return lines


def disk_lines(status: Any, tr: Translator) -> list[str]:
    """Free space on the SD card (engine/disk.py): a line, and what it means when it runs low."""
    free = getattr(status, "disk_free_mb", None)
    if free is None:
        return []
    if getattr(status, "disk_full", False):
        return [tr._(
            "Storage: FULL, {mb} MB free. New transactions are blocked until there is room; all paid is safe."
        ).format(mb=free)]
    if getattr(status, "disk_low", False):
        return [tr._("Storage: almost full, {mb} MB free. Call the cooperative.").format(mb=free)]
    return [tr._("Storage: {mb} MB free").format(mb=free)]
