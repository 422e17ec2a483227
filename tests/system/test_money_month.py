"""Issue 15's month, end to end over real HTTP: members save and spend at tills (a campaign pot pays the
saving extra until it is empty), a shop that granted more savings than it received settles by paying, a
handyman paid from a tenant's budget cashes out to his IBAN (the SEPA file validates against the pain.001
XSD), a block budget refuses one member over the cap and takes a second member's card, an expired budget
returns its rest by the funder's rule; the ledger sums to zero,
replay agrees, every statement adds up to the ledger, and the circulation report agrees with the ledger.

The server is real (uvicorn on loopback) with a clock the test moves to the month end; the desk work goes
through `floreyn-provision` (in-process, its real argument parsing and HTTP client).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import uuid
from pathlib import Path

import pytest
import xmlschema
from sepaxml import validation as sepa_validation

from floreyn.provisioning.cli import main as provision
from floreyn.server import state
from floreyn.server.testing import ServerThread, SimTerminal, World
from support.clock import ManualClock

XSD = Path(os.path.dirname(sepa_validation.__file__)) / "schemas" / "pain.001.001.03.xsd"
pytestmark = pytest.mark.slow


def desk(srv: ServerThread, home: Path, *argv: str) -> dict:
    out, err = io.StringIO(), io.StringIO()
    code = provision(["--home", str(home), "--server", srv.base_url, "--token", srv.admin_token, *argv, "--json"],
                     stdout=out, stderr=err)
    assert code == 0, (argv, err.getvalue())
    return json.loads(out.getvalue())  # type: ignore[no-any-return]


def online_spend(srv: ServerThread, term: SimTerminal, card: str, cents: int, budget: str | None = None) -> None:
    rec = term.spend(card, cents, budget_id=budget)
    assert term.client(srv).authorize_spend(card, cents, str(rec.record.record_id), budget_id=budget).approved
    term.client(srv).upload([rec.raw])


def test_a_month_of_the_money_loop(db_url, tmp_path):
    clock = ManualClock(state.day_start_ms(dt.date(2026, 11, 3)) + 9 * 3_600_000)
    home = tmp_path / "desk"
    with ServerThread(db_url, tmp_path / "data", clock=clock) as srv:
        world = World(srv)
        desk(srv, home, "settle", "bank", "--name", "Coöperatie Floreyn U.A.", "--iban", "NL44RABO0123456789")
        desk(srv, home, "category", "add", "klussen/handig", "Handige buur")
        desk(srv, home, "category", "add", "duurzaam", "Duurzaamheid")
        desk(srv, home, "merchant", "add", "--id", "M-bakker", "--name", "Bakkerij", "--category", "winkel",
             "--save-rate", "5")
        desk(srv, home, "merchant", "add", "--id", "Z-harry", "--name", "Handige Harry", "--category",
             "klussen/handig", "--kind", "zelfstandige", "--iban", "NL91ABNA0417164300", "--holder", "H. de Vries")
        bakery, harry = SimTerminal("T-bakker", "M-bakker"), SimTerminal("T-harry", "Z-harry")
        bakery.enroll(srv)
        harry.enroll(srv)

        # Members: Anna tops up and saves at the bakery; two tenants share a block budget.
        anna, anna_card = world.member(eur_cents=5_000)
        (t1, c1), (t2, c2) = world.member(), world.member()
        srv.admin("POST", "/v1/admin/groups", {"group_id": "G-blok7", "name": "Blok 7", "member_ids": [t1, t2]})
        funder = world.funder(eur_cents=100_000)
        rid = uuid.uuid4().hex[:8]
        srv.admin("POST", "/v1/admin/budgets/grant", {"funder_id": funder, "budgets": [
            {"budget_id": f"B-blok-{rid}", "group_id": "G-blok7", "label": "Blokbudget", "categories": ["klussen"],
             "expires_on": "2026-11-30", "amount_cents": 30_000, "member_cap_cents": 15_000,
             "confirm_above_cents": 10_000, "keep_share_bp": 2_000}]})
        block = f"B-blok-{rid}"
        bakery.client(srv).upload([bakery.save(anna_card, 500, eur_cents=10_000).raw,
                                   bakery.spend(anna_card, 2_000).raw])

        # The block budget: one tenant cannot spend it all in one tap; above fl 100 a second card confirms.
        client = harry.client(srv)
        whole = client.authorize_spend(c1, 30_000, uuid.uuid4().hex, budget_id=block)
        assert not whole.approved and whole.reason == "budget_member_cap"
        alone = client.authorize_spend(c1, 12_000, uuid.uuid4().hex, budget_id=block)
        assert not alone.approved and alone.reason == "budget_needs_confirmation"
        rec = harry.spend(c1, 12_000, budget_id=block)
        assert client.authorize_spend(c1, 12_000, str(rec.record.record_id), budget_id=block,
                                      confirm_card_hex=c2).approved
        client.upload([rec.raw])
        online_spend(srv, harry, c2, 8_000, block)  # the other tenant, within the threshold
        # Harry cashes out part at the desk to his bank; the rest goes with the settlement.
        desk(srv, home, "desk", "cashout", "--merchant", "Z-harry", "--amount", "50", "--to-bank")

        # A joint campaign with a pot: the bakery pays in fl 3; double saving's extra comes from the pot
        # until it is empty, then the bakery grants it alone.
        desk(srv, home, "campaign", "add", "--id", "C-nov", "--name", "Dubbel sparen", "--multiplier", "2",
             "--from", "2026-11-01", "--to", "2026-11-30", "--merchant", "M-bakker", "--pot")
        desk(srv, home, "campaign", "pay-in", "C-nov", "--merchant", "M-bakker", "--amount", "3")
        bakery.client(srv).upload([bakery.save(anna_card, 400, eur_cents=4_000).raw,
                                   bakery.save(anna_card, 400, eur_cents=4_000).raw])
        pot = desk(srv, home, "campaign", "report", "C-nov")
        assert (pot["paid_in_cents"], pot["paid_out_cents"], pot["pot_cents"]) == (300, 300, 0)
        # bakery: +20 (Anna) -5 (save) -3 (pot) -4 +2 (save, extra from the pot) -4 +1 (the pot's last fl 1)

        # Floreyn go round before they are cashed out (the payments API): the second tenant pays Harry from the
        # block budget for a job at home, and the bakery pays Harry fl 5 for a repair.
        def pay(payer: dict, amount: int, budget: str | None = None) -> None:
            srv.admin("POST", "/v1/admin/payments", {"payer": payer, "payee": {"kind": "merchant", "id": "Z-harry"},
                                                      "amount_cents": amount, "budget_id": budget})
        pay({"kind": "member", "id": t2}, 3_000, block)
        pay({"kind": "merchant", "id": "M-bakker"}, 500)

        # Month end: the budget expired (rest fl 70: 20 % kept by the tenants, fl 7 each), settle, confirm.
        clock.ms = state.day_start_ms(dt.date(2026, 12, 1)) + 8 * 3_600_000
        expired = desk(srv, home, "budget", "expire")["expired"]
        assert expired == [{"budget_id": block, "funder_id": funder, "returned_cents": 5_600, "kept_cents": 1_400,
                            "kept_by": {t1: 700, t2: 700}}]
        run = desk(srv, home, "settle", "--period", "2026-11", "--out", str(tmp_path / "nov"))
        lines = {m["merchant_id"]: m for m in run["merchants"]}
        assert lines["M-bakker"]["handed_in_fl_cents"] == 200 and lines["M-bakker"]["net_eur_cents"] == 190
        assert lines["Z-harry"]["handed_in_fl_cents"] == 18_500 and lines["Z-harry"]["net_eur_cents"] == 17_575
        xmlschema.XMLSchema(str(XSD)).validate(str(tmp_path / "nov" / "pain.001.xml"))
        sepa = (tmp_path / "nov" / "pain.001.xml").read_text()
        assert "NL91ABNA0417164300" in sepa and "<CtrlSum>" in sepa

        # Every statement adds up to the ledger, and the batch carries its net.
        batch = srv.admin("GET", f"/v1/admin/payouts/{run['batch_id']}")
        for merchant in ("M-bakker", "Z-harry"):
            st = srv.admin("GET", f"/v1/admin/settlements/2026-11/statements/{merchant}")
            fl = st["activity"]["fl"]
            moved = fl["received_cents"] - fl["refunded_cents"] - fl["save_cost_cents"] + fl["voids_cents"] \
                + fl["corrections_cents"] - fl["cashed_out_cents"] + fl["payments_cents"] + fl["bought_cents"] \
                + fl["campaign_pot_cents"] + fl["settled_cents"] + fl["disputes_cents"]
            assert fl["opening_cents"] + moved == st["components"]["fl_at_cut_cents"]
            settled = [x for x in batch["lines"] if x["merchant_id"] == merchant and x["source_tx_id"] == st["tx_id"]]
            assert sum(x["eur_cents"] for x in settled) == st["components"]["net_eur_cents"]
            assert world.balance(f"merchant:{merchant}") == 0
        # A late shop that granted more savings than it received: December, it pays.
        bakery.client(srv).upload([bakery.save(anna_card, 300, eur_cents=6_000).raw])
        desk(srv, home, "settle", "confirm", run["batch_id"])
        assert world.balance("clearing:Z-harry") == 0 and world.balance("clearing:M-bakker") == 0

        clock.ms = state.day_start_ms(dt.date(2027, 1, 2))
        dec = desk(srv, home, "settle", "--period", "2026-12", "--out", str(tmp_path / "dec"))
        owes = {m["merchant_id"]: m for m in dec["merchants"]}["M-bakker"]
        assert (owes["bought_fl_cents"], owes["net_eur_cents"], owes["method"]) == (300, -300, "invoice")
        assert "M-bakker,Bakkerij,invoice,-3.00,-300" in (tmp_path / "dec" / "invoices.csv").read_text()
        desk(srv, home, "settle", "confirm", dec["batch_id"], "--merchant", "M-bakker")  # paid at the desk
        assert world.balance("merchant:M-bakker") == 0 and world.balance("clearing:M-bakker") == 0

        # The ledger: balanced, and replay agrees with every balance.
        assert srv.admin("GET", "/v1/admin/replay")["ok"] is True
        # The circulation report agrees with the ledger: issued - cashed out = the change of the stock.
        circ = desk(srv, home, "report", "circulation", "--from", "2026-11", "--to", "2026-12")["months"]
        for m in circ:
            assert m["stock_end_cents"] - m["stock_start_cents"] == m["issued_cents"] - m["cashed_out_cents"]
        nov = circ[0]
        assert nov["spent_cents"] == 2_000 + 12_000 + 8_000 + 3_000 and nov["respent_cents"] == 500
        assert nov["velocity"] > 0 and nov["twice_share"] == 0.1  # Harry cashed out fl 50, fl 5 second-hand
