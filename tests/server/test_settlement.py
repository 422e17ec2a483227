"""Merchant settlement both ways, closed periods, statements, bank files (validated against the XSD), confirm.

One server per backend with a clock the test moves: the run settles every
merchant of the database, so this module owns its database.
"""

import csv
import datetime as dt
import io
import os

import pytest
import xmlschema
from sepaxml import validation as sepa_validation

from floreyn.money import ExchangeRates
from floreyn.server import settlement, state
from floreyn.server.testing import ServerThread, World
from support.clock import ManualClock

XSD_DIR = os.path.join(os.path.dirname(sepa_validation.__file__), "schemas")
NOV_10 = state.day_start_ms(dt.date(2026, 11, 10)) + 10 * 3_600_000
DEC_2 = state.day_start_ms(dt.date(2026, 12, 2)) + 9 * 3_600_000
IBAN_HARRY = "NL91ABNA0417164300"
IBAN_BAKERY = "NL20INGB0001234567"
IBAN_COOP = "NL44RABO0123456789"


@pytest.fixture(scope="module")
def clock(module_db_url):  # one per backend: the sqlite run moves it to January
    return ManualClock(NOV_10)


@pytest.fixture(scope="module")
def srv(module_db_url, tmp_path_factory, clock):
    with ServerThread(module_db_url, tmp_path_factory.mktemp("data"), clock=clock) as server:
        yield server


@pytest.fixture(scope="module")
def world(srv):
    return World(srv)


def upload(srv, term, *records):
    ack = term.client(srv).upload([r.raw for r in records])
    assert ack.acked_seq == records[-1].record.seq


def paid_online(srv, term, card, cents):
    """A spend above the offline limits: authorized online first, as a till does, then uploaded."""
    rec = term.spend(card, cents)
    assert term.client(srv).authorize_spend(card, cents, str(rec.record.record_id)).approved
    upload(srv, term, rec)


def test_components_follow_the_written_rule():
    rates = ExchangeRates(ask_bp=10_000, bid_bp=9_500)
    owes = settlement.components(fl_at_cut=-500, fl_now=-500, keep=0, eur_at_cut=0, eur_now=0, rates=rates)
    assert (owes.bought_fl_cents, owes.bought_eur_cents, owes.net_eur_cents) == (500, 500, -500)
    paid = settlement.components(fl_at_cut=10_000, fl_now=8_000, keep=1_000, eur_at_cut=2_000, eur_now=2_000,
                                 rates=rates)
    # hands in what it still holds above what it keeps: 8,000 - 1,000; paid at bid; till euros netted
    assert (paid.handed_in_fl_cents, paid.paid_eur_cents, paid.till_eur_cents) == (7_000, 6_650, 2_000)
    assert paid.net_eur_cents == 6_650 - 2_000 and paid.spread_eur_cents == 350
    odd = settlement.components(fl_at_cut=-1, fl_now=0, keep=0, eur_at_cut=0, eur_now=0,
                                rates=ExchangeRates(ask_bp=10_300, bid_bp=9_000))
    assert odd.bought_eur_cents == 2  # ask rounds up for the buyer: the reserve never loses a cent


def test_a_month_settles_both_ways_and_closes(srv, world, clock, tmp_path):
    # November: a bakery grants 5 % savings on € 100 and receives nothing; a handyman is paid fl 300.
    bakery = world.merchant(save_rate_bp=500)
    srv.admin("PATCH", f"/v1/admin/merchants/{bakery}", {"iban": IBAN_BAKERY, "account_holder": "Bakkerij B.V.",
                                                         "mandate_id": "FL-MANDAAT-1",
                                                         "mandate_signed_on": "2026-10-01"})
    harry = world.new_id("Z")
    srv.admin("POST", "/v1/admin/merchants", {"merchant_id": harry, "name": "Handige Harry", "category": "klussen",
                                              "kind": "zelfstandige", "iban": "nl91 abna 0417 1643 00",
                                              "account_holder": "H. de Vries"})
    noiban = world.merchant(save_rate_bp=0)
    member, card = world.member(eur_cents=50_000)
    t_bakery, t_harry, t_noiban = world.terminal(bakery), world.terminal(harry), world.terminal(noiban)
    upload(srv, t_bakery, t_bakery.save(card, 500, eur_cents=10_000))
    paid_online(srv, t_harry, card, 30_000)
    upload(srv, t_noiban, t_noiban.spend(card, 2_000), t_noiban.topup(card, 1_000, 1_000))
    srv.admin("POST", "/v1/admin/bank", {"name": "Coöperatie Floreyn U.A.", "iban": IBAN_COOP,
                                        "creditor_id": "NL98ZZZ999999999999"})
    # A desk cash-out to the bank waits for the next batch, like the settlement.
    out = srv.admin("POST", "/v1/admin/desk/cashout", {"merchant_id": harry, "fl_cents": 10_000, "to_bank": True})
    assert out["eur_paid_cents"] == 9_500 and world.balance(f"clearing:{harry}") == 9_500

    refused = srv.admin("POST", "/v1/admin/settlements", {"period": "2026-11"}, expect=409)
    assert refused["error"] == "state_refused" and "not over" in refused["message"]

    clock.ms = DEC_2
    # A record for November arriving after the cut is booked in December.
    late = t_harry.spend(card, 1_000)
    upload(srv, t_harry, late)
    run = srv.admin("POST", "/v1/admin/settlements", {"period": "2026-11", "execution_date": "2026-12-04",
                                                      "request_id": "settle-2026-11"})
    again = srv.admin("POST", "/v1/admin/settlements", {"period": "2026-11", "execution_date": "2026-12-04",
                                                        "request_id": "settle-2026-11"})
    assert again["result"] == "exists" and again["batch_id"] == run["batch_id"]
    closed = srv.admin("POST", "/v1/admin/settlements", {"period": "2026-11"}, expect=409)
    assert "already settled" in closed["message"]
    lines = {m["merchant_id"]: m for m in run["merchants"]}
    assert lines[bakery]["bought_fl_cents"] == 500 and lines[bakery]["net_eur_cents"] == -500
    assert lines[bakery]["method"] == "debit"
    assert lines[harry]["handed_in_fl_cents"] == 20_000 and lines[harry]["net_eur_cents"] == 19_000
    assert lines[noiban]["net_eur_cents"] == 2_000 * 9_500 // 10_000 - 1_000
    assert lines[noiban]["method"] == "cash"
    # Balances after the run: the bakery is square, Harry keeps only December's late fl 10.
    assert world.balance(f"merchant:{bakery}") == 0
    assert world.balance(f"merchant:{harry}") == 1_000
    assert world.balance(f"merchant_eur:{noiban}") == 0

    batch = srv.admin("GET", f"/v1/admin/payouts/{run['batch_id']}")
    by = {(line["merchant_id"], line["method"]): line for line in batch["lines"]}
    assert by[(harry, "transfer")]["eur_cents"] in (9_500, 19_000)
    assert sum(line["eur_cents"] for line in batch["lines"] if line["merchant_id"] == harry) == 28_500
    assert not any(line["paid"] for line in batch["lines"])

    xml = srv.session.get(f"{srv.base_url}/v1/admin/payouts/{run['batch_id']}/files/pain.001.xml",
                          headers={"Authorization": f"Bearer {srv.admin_token}"}, timeout=30)
    assert xml.status_code == 200
    xmlschema.XMLSchema(os.path.join(XSD_DIR, "pain.001.001.03.xsd")).validate(xml.text)
    assert "<CtrlSum>285.00</CtrlSum>" in xml.text and IBAN_HARRY in xml.text and "H. de Vries" in xml.text
    dd = srv.session.get(f"{srv.base_url}/v1/admin/payouts/{run['batch_id']}/files/pain.008.xml",
                         headers={"Authorization": f"Bearer {srv.admin_token}"}, timeout=30)
    xmlschema.XMLSchema(os.path.join(XSD_DIR, "pain.008.001.02.xsd")).validate(dd.text)
    assert "<InstdAmt Ccy=\"EUR\">5.00</InstdAmt>" in dd.text and "FL-MANDAAT-1" in dd.text
    inv = list(csv.DictReader(io.StringIO(srv.admin("GET", f"/v1/admin/payouts/{run['batch_id']}/files/invoices.csv"))))
    assert [(r["merchant_id"], r["method"], r["eur_cents"]) for r in inv] == [(noiban, "cash", "900")]

    # Statements add up and name the rates, in every form.
    st = srv.admin("GET", f"/v1/admin/settlements/2026-11/statements/{bakery}")
    assert st["rates"] == {"ask_bp": 10_000, "bid_bp": 9_500}
    assert st["activity"]["fl"]["save_cost_cents"] == 500 and st["components"]["net_eur_cents"] == -500
    text = srv.admin("GET", f"/v1/admin/settlements/2026-11/statements/{bakery}", format="text")
    assert "spaarbeloningen gegeven" in text and "€ -5,00" in text and "bied" in text
    html = srv.admin("GET", f"/v1/admin/settlements/2026-11/statements/{harry}", format="html")
    assert "<table" in html and "@page" in html and "Handige Harry" in html
    rows = list(csv.DictReader(io.StringIO(srv.admin("GET", f"/v1/admin/settlements/2026-11/statements/{harry}",
                                                     format="csv"))))
    assert rows[-1]["amount_cents"] == "19000" and rows[0]["bid_bp"] == "9500"

    # Nothing is paid until the treasurer confirms; then the clearing accounts are square.
    assert world.balance(f"clearing:{harry}") == 28_500
    confirmed = srv.admin("POST", f"/v1/admin/payouts/{run['batch_id']}/confirm", {})
    assert confirmed["status"] == "confirmed" and all(line["paid"] for line in confirmed["lines"])
    for m in (bakery, harry, noiban):
        assert world.balance(f"clearing:{m}") == 0
    assert srv.admin("POST", f"/v1/admin/payouts/{run['batch_id']}/confirm", {}, expect=409)["error"] \
        == "state_refused"
    check = srv.admin("GET", "/v1/admin/replay")
    assert check["ok"] is True, check

    # December: Harry's late fl 10 is settled with December, November stays as it was.
    clock.ms = state.day_start_ms(dt.date(2027, 1, 3))
    dec = srv.admin("POST", "/v1/admin/settlements", {"period": "2026-12"})
    assert {m["merchant_id"]: m for m in dec["merchants"]}[harry]["handed_in_fl_cents"] == 1_000
    nov = srv.admin("GET", "/v1/admin/settlements/2026-11")
    assert {m["merchant_id"]: m for m in nov["merchants"]}[harry]["handed_in_fl_cents"] == 20_000
    assert srv.admin("POST", "/v1/admin/settlements", {"period": "2026-10"}, expect=409)["error"] == "state_refused"


def test_bad_bank_details_are_refused_and_change_nothing(srv, world):
    m = world.merchant()
    bad = srv.admin("PATCH", f"/v1/admin/merchants/{m}", {"iban": "NL91ABNA0417164301", "account_holder": "X"},
                    expect=422)
    assert bad["error"] == "request_invalid" and "IBAN" in bad["message"]
    assert srv.admin("PATCH", f"/v1/admin/merchants/{m}", {"iban": IBAN_HARRY}, expect=422)["error"] \
        == "request_invalid"  # no holder
    assert srv.admin("GET", f"/v1/admin/merchants/{m}")["iban"] is None
    assert srv.admin("POST", "/v1/admin/desk/cashout", {"merchant_id": m, "fl_cents": 1, "to_bank": True},
                     expect=409)["error"] == "state_refused"
    assert srv.admin("GET", "/v1/admin/settlements/2030-01/statements/x", expect=404)["error"] == "not_found"
    assert srv.admin("POST", "/v1/admin/settlements", {"period": "2026-13"}, expect=422)["error"] \
        == "request_invalid"


def test_a_merchant_that_owes_buys_floreyn_at_the_desk(srv, world):
    m = world.merchant()
    bought = srv.admin("POST", "/v1/admin/desk/topup", {"merchant_id": m, "eur_cents": 500})
    assert bought["account"] == f"merchant:{m}" and bought["fl_cents"] == 500
    assert world.balance(f"merchant:{m}") == 500
    assert srv.admin("POST", "/v1/admin/desk/topup", {"merchant_id": m, "member_id": "x", "eur_cents": 1},
                     expect=422)["error"] == "request_invalid"
