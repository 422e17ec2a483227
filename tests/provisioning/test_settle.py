"""`floreyn-provision settle` and `rates`: a month end through the desk tool against a real server."""

from __future__ import annotations

import datetime as dt
import os
import uuid

import pytest
import xmlschema
from sepaxml import validation as sepa_validation

from floreyn.server import state
from floreyn.server.testing import ServerThread, SimTerminal, World
from support.clock import ManualClock

XSD = os.path.join(os.path.dirname(sepa_validation.__file__), "schemas", "pain.001.001.03.xsd")


@pytest.fixture(scope="module")
def clock():
    return ManualClock(state.day_start_ms(dt.date(2026, 11, 12)) + 36_000_000)


@pytest.fixture(scope="module")
def srv(tmp_path_factory, clock):  # this module's own server: the run settles all merchants, the clock moves
    db = tmp_path_factory.mktemp("db") / "floreyn.db"
    with ServerThread(f"sqlite:///{db}", tmp_path_factory.mktemp("server-data"), clock=clock) as server:
        yield server


def test_month_end_with_the_desk_tool(tool, srv, clock, tmp_path):
    world = World(srv)
    bakery = f"M-{uuid.uuid4().hex[:8]}"
    tool.ok("merchant", "add", "--id", bakery, "--name", "Bakkerij", "--category", "winkel", "--save-rate", "5")
    harry = f"Z-{uuid.uuid4().hex[:8]}"
    tool.ok("merchant", "add", "--id", harry, "--name", "Handige Harry", "--category", "klussen",
            "--kind", "zelfstandige", "--iban", "NL91 ABNA 0417 1643 00", "--holder", "H. de Vries")
    bad = tool("merchant", "update", harry, "--iban", "NL91ABNA0417164301")
    assert bad.code == 2 and "IBAN" in bad.error()["message"]
    shown = tool.ok("merchant", "show", harry)
    assert shown["kind"] == "zelfstandige" and shown["iban"] == "NL91ABNA0417164300"
    tool.ok("settle", "bank", "--name", "Coöperatie Floreyn U.A.", "--iban", "NL44RABO0123456789")

    rates = tool.ok("rates", "show")
    assert rates["in_force"] == {"ask_bp": 10_000, "bid_bp": 9_500}
    past = tool("rates", "set", "--ask", "1,00", "--bid", "0,90", "--from", "2026-11-01")
    assert past.code == 2 and "never to what is already booked" in past.error()["message"]
    tool.ok("rates", "set", "--ask", "1,00", "--bid", "0,90", "--from", "2027-01-01")
    assert tool.ok("rates", "show")["in_force"]["bid_bp"] == 9_500  # not before its day

    member, card = world.member(eur_cents=40_000)
    t_bakery, t_harry = SimTerminal("T-" + bakery, bakery), SimTerminal("T-" + harry, harry)
    for t in (t_bakery, t_harry):
        t.enroll(srv)
    t_bakery.client(srv).upload([t_bakery.save(card, 500, eur_cents=10_000).raw])
    big = t_harry.spend(card, 30_000)  # above the offline limits: authorized online first, as a till does
    assert t_harry.client(srv).authorize_spend(card, 30_000, str(big.record.record_id)).approved
    t_harry.client(srv).upload([big.raw])

    clock.ms = state.day_start_ms(dt.date(2026, 12, 1)) + 3_600_000
    out = tmp_path / "maand"
    run = tool.ok("settle", "--period", "2026-11", "--execution-date", "2026-12-03", "--out", str(out))
    nets = {m["merchant_id"]: m["net_eur_cents"] for m in run["merchants"]}
    assert nets[bakery] == -500 and nets[harry] == 28_500
    xmlschema.XMLSchema(XSD).validate(str(out / "pain.001.xml"))
    assert f"{bakery},Bakkerij,invoice,-5.00,-500" in (out / "invoices.csv").read_text()  # no mandate
    assert "Handige Harry" in (out / "statements" / f"{harry}.html").read_text()
    text = tool.ok("settle", "statement", "--period", "2026-11", "--merchant", bakery, json_mode=False)
    assert "gekocht tegen de laat-koers" in text and "€ -5,00" in text

    # The bakery pays its invoice at the desk: confirm its line; Harry's transfer when the bank did it.
    part = tool.ok("settle", "confirm", run["batch_id"], "--merchant", bakery)
    assert part["status"] == "open" and world.balance(f"clearing:{bakery}") == 0
    done = tool.ok("settle", "confirm", run["batch_id"])
    assert done["status"] == "confirmed" and world.balance(f"clearing:{harry}") == 0
    again = tool("settle", "--period", "2026-11")
    assert again.code == 2 and "already settled" in again.error()["message"]
    assert tool("settle", "--period", "2026-13").code == 1
    assert srv.admin("GET", "/v1/admin/replay")["ok"] is True
