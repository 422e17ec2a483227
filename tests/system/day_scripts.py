"""The system test's day: the cooperative it sets up and what each till does, as scripted-till actions.

Three tills: the bakery (online; SIGKILLed mid-transaction), the handyman
(online; its wall clock jumps; the server is killed during its big sync) and
the summer-market stall (offline from the morning sync until the evening).
"expect" pins an outcome that does not depend on timing; everything that may
go either way under the faults (online or offline) carries none, and the
test checks invariants instead.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from system_helpers import CASHIER_PIN, MANAGER_PIN, Admin

from floreyn import keys
from floreyn.terminal import demo_setup

BAKKER, KLUSSER, KRAAM = "T-bakker-01", "T-klusser-01", "T-kraam-01"
MERCHANT_OF = {BAKKER: "M-bakker", KLUSSER: "M-klusser", KRAAM: "M-kraam"}
MEMBERS = ("lid01", "lid02", "lid03", "lid04", "lid05", "blok", "anna")  # demo cards: demo_setup.demo_card(name)
BLOCKED = "blok"  # blocked at the server during the day
JUMP_S = -3 * 24 * 3600  # the handyman's wall clock falls three days back
KLUSSER_SAVES = 460  # three upload batches of 200: the server is killed between them
Action = dict[str, Any]


def card_hex(name: str) -> str:
    return demo_setup.demo_card_id(name).hex()


def set_up(admin: Admin, today: dt.date) -> None:
    day = lambda n: (today + dt.timedelta(days=n)).isoformat()  # noqa: E731
    admin("PATCH", "/v1/admin/config", {"issuer_keys": [keys.public_raw(demo_setup.demo_issuer()).hex()]})
    for merchant_id, name, category, rate, topup in (
            ("M-bakker", "Bakkerij De Korenbloem", "winkel", 500, True),
            ("M-klusser", "Klusbedrijf Van Dijk", "klussen", 200, False),
            ("M-kraam", "Kraam Het Zonnetje", "markt", 500, False)):
        admin("POST", "/v1/admin/merchants", {"merchant_id": merchant_id, "name": name, "category": category,
                                              "save_rate_bp": rate, "topup_allowed": topup})
    for funder_id in ("F-portaal", "F-gemeente"):
        admin("POST", "/v1/admin/funders", {"funder_id": funder_id, "name": funder_id})
        admin("POST", "/v1/admin/desk/topup", {"funder_id": funder_id, "eur_cents": 50_000})
    for name in MEMBERS:
        admin("POST", "/v1/admin/members", {"member_id": f"m-{name}", "alias": name.capitalize()})
        admin("POST", "/v1/admin/cards", {"card_id": card_hex(name), "member_id": f"m-{name}"})
        admin("POST", "/v1/admin/desk/topup", {"member_id": f"m-{name}", "eur_cents": 10_000})
    admin("POST", "/v1/admin/budgets/grant", {"funder_id": "F-portaal", "budgets": [
        {"budget_id": "B-anna-klus", "member_id": "m-anna", "label": "Onderhoudsbudget", "categories": ["klussen"],
         "expires_on": day(120), "amount_cents": 20_000}]})
    admin("POST", "/v1/admin/budgets/grant", {"funder_id": "F-gemeente", "budgets": [
        {"budget_id": "B-lid03-markt", "member_id": "m-lid03", "label": "Marktbudget", "categories": ["markt"],
         "expires_on": day(30), "amount_cents": 1_000}]})
    admin("POST", "/v1/admin/campaigns", {"campaign_id": "C-zomermarkt", "name": "Zomermarkt: dubbel sparen",
                                          "multiplier_bp": 20_000, "starts_on": day(-1), "ends_on": day(30),
                                          "merchant_ids": ["M-kraam"]})


def opening(pin: str = CASHIER_PIN) -> list[Action]:
    return [{"id": "in", "action": "sign_in", "pin": pin}, {"id": "sync", "action": "sync"},
            {"id": "status", "action": "status"}]


def closing() -> list[Action]:
    return [{"id": "in", "action": "sign_in", "pin": MANAGER_PIN}, {"id": "close", "action": "day_close"},
            {"id": "sync", "action": "sync"}, {"id": "status", "action": "status"}]


def bakker_day(n: int = 150) -> list[Action]:
    """Saves, top-ups, spends (cash makes up what the balance or an offline limit does not cover), voids of
    the save just made, partial refunds; repeat_ok everywhere so that timing cannot change an outcome."""
    cards = ("lid01", "lid02", BLOCKED, "lid04", "anna", "lid05")
    acts: list[Action] = [{"id": "in", "action": "sign_in", "pin": MANAGER_PIN}]
    for i in range(n):
        if i % 3 == 0:
            acts.append({"id": f"p{i}", "action": "present", "card": cards[(i // 3) % len(cards)]})
        kind = i % 8
        if kind in (0, 3):
            acts.append({"id": f"s{i}", "action": "save", "amount_cents": 1_000 + 7 * i, "repeat_ok": True})
        elif kind in (1, 6):
            acts.append({"id": f"t{i}", "action": "topup", "amount_cents": 500 + i, "repeat_ok": True})
        elif kind == 2:
            acts.append({"id": f"x{i}", "action": "spend", "amount_cents": 150 + i % 7, "tender": "cash",
                         "repeat_ok": True})
        elif kind == 4:
            acts.append({"id": f"v{i}", "action": "void"})  # the save of kind 3 just before
        elif kind == 5 and i > 8:
            acts.append({"id": f"r{i}", "action": "refund", "tx": f"@x{i - 3}", "amount_cents": 50})
        else:
            acts.append({"id": f"y{i}", "action": "spend", "amount_cents": 300, "tender": "cash", "repeat_ok": True})
    return [*acts, {"id": "sync", "action": "sync"}]


def klusser_day() -> list[Action]:
    """A budget spend, then many small saves (records piling up unsent) with the clock jump half-way,
    then one big sync: the server is killed while it uploads."""
    acts: list[Action] = [{"id": "in", "action": "sign_in", "pin": MANAGER_PIN},
                          {"id": "anna", "action": "present", "card": "anna"},
                          {"id": "klus", "action": "spend", "amount": "60,00", "source": "B-anna-klus",
                           "repeat_ok": True}]
    cards = ("lid01", "lid02", "lid04", "lid05")
    for i in range(KLUSSER_SAVES):
        if i % 40 == 0:
            acts.append({"id": f"p{i}", "action": "present", "card": cards[(i // 40) % len(cards)]})
        if i == KLUSSER_SAVES // 2:
            acts += [{"id": "jump-here", "action": "status"}, {"id": "jump-wait", "action": "wait", "seconds": 0.5}]
        acts.append({"id": f"s{i}", "action": "save", "amount_cents": 1_000, "repeat_ok": True})
    return [*acts, {"id": "pl", "action": "present", "card": "lid02"},
            {"id": "x", "action": "spend", "amount": "5,00", "repeat_ok": True},
            {"id": "pre-sync", "action": "status"}, {"id": "big-sync", "action": "sync"}]


def kraam_morning() -> list[Action]:
    """Offline: the campaign doubles saving; the per-tap, cumulative and count limits each refuse once."""
    spend = lambda i, amount, **kw: {"id": i, "action": "spend", "amount": amount, "repeat_ok": True, **kw}  # noqa: E731
    acts: list[Action] = [
        {"id": "in", "action": "sign_in", "pin": CASHIER_PIN},
        {"id": "p1", "action": "present", "card": "lid01"},
        {"id": "save1", "action": "save", "amount": "30,00", "repeat_ok": True},
        spend("pertx", "30,00", expect="tender_required"),  # above fl 25 per tap: the rest in cash
        spend("mixed", "30,00", tender="cash"),
        spend("a20", "20,00"),
        spend("a10", "10,00", expect="tender_required"),  # fl 5 left of the fl 50 since the last contact
        spend("a5", "5,00"),
        spend("cum", "1,00", expect="offline_cumulative_limit"),
        {"id": "p2", "action": "present", "card": "lid02"},
        *(spend(f"c{i}", "1,00") for i in range(5)),
        spend("count", "1,00", expect="offline_count_limit"),  # a sixth tap
        {"id": "p3", "action": "present", "card": "lid03"},
        spend("budget", "8,00", source="B-lid03-markt"),
        {"id": "save3", "action": "save", "amount": "12,00", "repeat_ok": True},
        {"id": "pb", "action": "present", "card": BLOCKED},
        spend("blok-am", "2,00"),
        {"id": "pa", "action": "present", "card": "anna"},
        spend("anna", "4,00"),
    ]
    return acts


def kraam_afternoon() -> list[Action]:
    """Still offline, after the card was blocked at the server: the stall cannot know, and takes it."""
    return [{"id": "in", "action": "sign_in", "pin": CASHIER_PIN},
            {"id": "pb", "action": "present", "card": BLOCKED},
            {"id": "blok-pm", "action": "spend", "amount": "3,00", "repeat_ok": True},
            {"id": "p4", "action": "present", "card": "lid04"},
            {"id": "save4", "action": "save", "amount": "20,00", "repeat_ok": True}]


def refused_after_sync(offline: bool) -> list[Action]:
    acts: list[Action] = [{"id": "in", "action": "sign_in", "pin": CASHIER_PIN}]
    if not offline:
        acts.append({"id": "sync", "action": "sync"})
    acts.append({"id": "blok", "action": "present", "card": BLOCKED, "expect": "card_blocked"})
    if offline:  # a card this till never took offline: its offline allowance is whole
        acts += [{"id": "p3", "action": "present", "card": "lid03"},
                 {"id": "net-down", "action": "spend", "amount": "2,00", "repeat_ok": True}]
    return acts
