"""The market day's offline-bound case (issue 14): one card, an online payment, then three tills offline.

Real processes: floreyn-server and four scripted tills. Every till syncs in
the morning; the bakery then takes an online payment (not uploaded yet);
the card - one file, its memory, carried from till process to till process
with "card_file" - then visits three tills without a network and tries two
payments at each. In the evening every till uploads. The ledger shows the
card overspent by at most one per-tap limit: the card's trail carried the
online payment's state version and every offline spend to the next till.
"""

from __future__ import annotations

import datetime as dt

from system_helpers import CASHIER_PIN, Admin, ServerProcess, Till, free_port

import day_scripts as D
from floreyn.server.state import TZ
from floreyn.terminal import demo_setup

CARD = "reiziger"  # a demo card (any name is a genuine card of the demo issuer)
FUNDS_EUR_CENTS = 3_000


def test_one_card_three_offline_tills_after_an_online_payment(db_url, tmp_path):
    server = ServerProcess(tmp_path / "server", db_url)
    server.start()
    try:
        admin = Admin(server)
        D.set_up(admin, dt.datetime.now(TZ).date())
        admin("POST", "/v1/admin/members", {"member_id": f"m-{CARD}", "alias": "Reiziger"})
        admin("POST", "/v1/admin/cards", {"card_id": demo_setup.demo_card_id(CARD).hex(), "member_id": f"m-{CARD}"})
        admin("POST", "/v1/admin/desk/topup", {"member_id": f"m-{CARD}", "eur_cents": FUNDS_EUR_CENTS})
        funds = admin("GET", f"/v1/admin/members/m-{CARD}")["balance_cents"]
        key = admin("GET", "/v1/health")["server_key"]
        dead = f"http://127.0.0.1:{free_port()}"
        tills = [Till(tmp_path, f"T-reis-{i}", merchant, server, admin, key, dead)
                 for i, merchant in enumerate(("M-bakker", "M-bakker", "M-kraam", "M-kraam"))]
        for till in tills:
            assert till.run("open", D.opening())[1]["sync"]["online"]
        card_file = str(tmp_path / "reiziger-card.json")
        sign_in = {"id": "in", "action": "sign_in", "pin": CASHIER_PIN}
        online = tills[0].run("online", [sign_in, {"id": "pas", "action": "present", "card": CARD,
                                                  "card_file": card_file},
                                         {"id": "betalen", "action": "spend", "amount": "15,67", "online": True,
                                          "expect": "ok"}])
        assert online[1]["trail_read"] is None and online[2]["offline"] is False
        offline_lines = []
        for till in tills[1:]:
            offline_lines += till.run("market", [
                sign_in,
                {"id": "pas", "action": "present", "card": CARD, "card_file": card_file},
                {"id": "een", "action": "spend", "amount": "17,97", "tender": "contant", "repeat_ok": True},
                {"id": "twee", "action": "spend", "amount": "17,97", "tender": "contant", "repeat_ok": True},
            ], online=False)
        presented = [line for line in offline_lines if line["action"] == "present"]
        assert presented[0]["trail_read"]["state_version"] > 0  # the online payment's version reached the card
        paid = [line for line in offline_lines if line["action"] == "spend" and line["ok"]]
        assert paid and all(line["offline"] and line["card_written"] and line["card_note"] == "pas bijgewerkt"
                            for line in paid)
        refused = [line for line in offline_lines if line["action"] == "spend" and not line["ok"]]
        assert all(line["card_last4"] == demo_setup.demo_card_id(CARD).hex()[-4:].upper() and line["at"]
                   for line in refused)
        for till in tills:
            assert till.run("evening", [sign_in, {"id": "sync", "action": "sync"}])[1]["sync"]["waiting"] == 0
        balance = admin("GET", f"/v1/admin/members/m-{CARD}")["balance_cents"]
        per_tap = admin("GET", "/v1/admin/config")["limits"]["per_tx_cents"]
        spent = funds - balance
        assert spent >= 1_567  # the online payment, and whatever the offline tills took
        assert -balance <= per_tap, f"overspent by {-balance} cents across three offline tills"
    finally:
        server.stop()
