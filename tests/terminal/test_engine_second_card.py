"""A group (block) budget above the funder's threshold: after Bevestigen the till asks a second tenant's card,
takes only a card of another member of the same group, and signs it into the record (format v2); offline
against the snapshot, online through the server's authorization (server/budget_rules.py). The receipt says
what is left of the budget, until when, and which card confirmed it (decoded back from the ESC/POS bytes)."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest
from till_helpers import dump_db, kinds_of

from floreyn.money import Money
from floreyn.sync.record import Tender, decode
from floreyn.terminal import demo_setup
from floreyn.terminal.drivers.escpos_render import choose_codepage, render_doc
from floreyn.terminal.engine import errors as E

sys.path.insert(0, str(Path(__file__).resolve().parent / "drivers"))
from escpos_decode import decode as decode_escpos  # noqa: E402

BLOCK = demo_setup.DEMO_BLOCK_BUDGET


def printed(doc, columns: int = 32, profile: str = "ZJ-5870") -> str:
    """The receipt as the printer gets it: ESC/POS bytes, decoded back to its text."""
    data = render_doc(doc, profile=profile, columns=columns, codepage=choose_codepage(profile))
    return decode_escpos(data, profile).text(columns)


def test_a_block_budget_payment_above_the_threshold_waits_for_a_second_tenants_card(till):
    till.present("gijs")
    quote = till.engine.quote_spend(Money.fl(2_000), source=BLOCK)
    assert quote.offline and quote.confirm_budgets == (BLOCK,) and quote.needs_second_card
    with pytest.raises(E.SecondCardNeeded) as asked:
        till.engine.confirm(quote.quote_id)
    assert asked.value.message("nl").startswith("Tweede bewoner: houd uw pas bij de lezer")
    assert till.store.all_records() == []  # nothing is booked while the till waits

    before = dump_db(till.config.db_path)
    for name, why in (("gijs", "same_card"), ("bram", "not_in_group"), ("cees", "blocked")):
        with pytest.raises(E.SecondCardRefused) as refused:
            till.present(name)
        assert refused.value.params["why"] == why
        assert "andere bewoner uit de groep" in refused.value.message("nl")
    assert dump_db(till.config.db_path) == before  # a refused second card changes nothing
    assert kinds_of(till.events)[-3:] == ["SecondCardRefused"] * 3
    assert till.engine.card.summary.alias == "Gijs"  # the payer stays on screen

    summary = till.present("hanna")
    assert summary.alias == "Gijs" and kinds_of(till.events)[-1] == "SecondCardAccepted"
    assert till.events[-1].payer_again  # offline: the payment goes onto the payer's card, which has gone
    with pytest.raises(E.PayerCardNeeded):
        till.engine.confirm(quote.quote_id)
    with pytest.raises(E.PayerCardNeeded):  # not the payer's card
        till.present("bram")
    assert till.trails["gijs"].area.current is None  # nothing written on the payer's card yet
    till.present("gijs")
    assert not till.events[-1].payer_again
    result = till.engine.confirm(quote.quote_id)
    assert till.trails["gijs"].area.current.spent_cents == 2_000  # the odometer, written before the commit
    [rec] = result.records
    hanna = demo_setup.demo_card_id("hanna")
    assert rec.budget_id == BLOCK and rec.fl_cents == 2_000 and rec.confirm_card_hex == hanna.hex()
    signed = decode(rec.raw).verify(till.engine.public_key)  # signed into the record: the server checks it
    assert signed.record.version == 2 and signed.record.confirm_card_id == hanna

    text = printed(till.printer.docs[-1])
    today = dt.datetime.fromtimestamp(till.clock.wall_ms() / 1000, dt.UTC).date()  # the demo snapshot's day
    expires = (today + dt.timedelta(days=45)).strftime("%d-%m-%Y")
    assert "Blokbudget Portaal" in text
    assert "  betaald" in text and "fl 20,00" in text
    assert "  nog over" in text and "fl 280,00" in text  # what this till knows is left (offline)
    assert "  geldig t/m" in text and expires in text
    assert "  bevestigd met pas" in text and "•••• " + hanna.hex()[-4:].upper() in text
    assert "Saldo onder voorbehoud" in text


def test_at_or_below_the_threshold_one_card_pays(till):
    till.present("gijs")
    quote = till.engine.quote_spend(Money.fl(1_000), source=BLOCK)
    assert not quote.needs_second_card
    [rec] = till.engine.confirm(quote.quote_id).records
    assert rec.confirm_card_hex is None and decode(rec.raw).record.version == 1


def test_cancelling_while_waiting_lets_the_next_card_be_a_new_customer(till):
    till.present("gijs")
    quote = till.engine.quote_spend(Money.fl(2_000), source=BLOCK)
    with pytest.raises(E.SecondCardNeeded):
        till.engine.confirm(quote.quote_id)
    till.engine.cancel(quote.quote_id)
    assert till.present("hanna").alias == "Hanna"  # a new customer, not a confirmation
    assert till.store.all_records() == []
    assert till.trails["gijs"].area.current is None  # a cancelled payment never reaches the card's odometer


def test_the_members_cap_left_bounds_an_offline_block_budget_payment(till):
    till.present("gijs")  # fl 40 of the member's cap left this month (the snapshot), fl 25 per offline tap
    quote = till.engine.quote_spend(Money.fl(2_500), source=BLOCK)
    with pytest.raises(E.SecondCardNeeded):
        till.engine.confirm(quote.quote_id)
    till.present("hanna")
    till.present("gijs")
    till.engine.confirm(quote.quote_id)
    till.clock.advance(120)
    till.present("gijs")
    second = till.engine.quote_spend(Money.fl(2_500), source=BLOCK)
    assert [p.fl_cents for p in second.parts if p.budget_id == BLOCK] == [1_500]  # fl 40 - fl 25 left of the cap


# -- online: the server decides with the second card (a real server over loopback HTTP) -------------------


def test_online_the_server_checks_the_second_card_and_the_upload_posts_it(tmp_path):
    from test_engine_server import ISSUER, make_till

    from floreyn import card as cards
    from floreyn.server.testing import ServerThread, World
    from floreyn import keys

    with ServerThread(f"sqlite:///{tmp_path / 'server.db'}", tmp_path / "server") as srv:
        srv.admin("PATCH", "/v1/admin/config", {"issuer_keys": [keys.public_raw(ISSUER).hex()]})
        world = World(srv)
        funder = world.funder(eur_cents=100_000)
        (m1, c1), (m2, c2), (_m3, c3) = world.member(alias="Gijs"), world.member(), world.member()
        gid, bid = world.new_id("G"), world.new_id("B")
        srv.admin("POST", "/v1/admin/groups", {"group_id": gid, "name": "Blok 7", "member_ids": [m1, m2]})
        expires = (dt.date.today() + dt.timedelta(days=30)).isoformat()
        srv.admin("POST", "/v1/admin/budgets/grant", {"funder_id": funder, "budgets": [
            {"budget_id": bid, "group_id": gid, "label": "Blokbudget", "categories": [], "expires_on": expires,
             "amount_cents": 30_000, "member_cap_cents": 10_000, "confirm_above_cents": 1_000}]})
        payload = {c: cards.issue(ISSUER, bytes.fromhex(c)).payload() for c in (c1, c2, c3)}
        engine, printer = make_till(world, tmp_path, world.merchant())
        try:
            engine.sync_now()
            engine.start()
            engine.sign_in("1111")
            assert engine.present_card(payload[c1]).live
            quote = engine.quote_spend(Money.fl(3_000), source=bid)
            assert not quote.offline and quote.confirm_budgets == (bid,)
            with pytest.raises(E.SecondCardNeeded):
                engine.confirm(quote.quote_id)
            with pytest.raises(E.SecondCardRefused) as outside:  # the server: not a member of the group
                engine.present_card(payload[c3])
            assert outside.value.params["why"] == "not_in_group"
            engine.present_card(payload[c2])
            [rec] = engine.confirm(quote.quote_id).records
            assert rec.confirm_card_hex == c2 and not rec.offline
            assert engine.sync_now()["waiting"] == 0
            assert world.balance(f"budget:{bid}") == 27_000
            text = printed(printer.docs[-1])
            assert "fl 270,00" in text and dt.date.fromisoformat(expires).strftime("%d-%m-%Y") in text
            assert "Nieuw saldo" in text  # online: no "onder voorbehoud"
            # The member's cap (fl 100 a month, fl 30 spent) bounds what the block budget pays: the rest in euros.
            engine.present_card(payload[c1])
            over = engine.quote_spend(Money.fl(8_000), source=bid)
            assert [(p.budget_id, p.fl_cents) for p in over.parts] == [(bid, 7_000)] and over.needs_tender
            with pytest.raises(E.SecondCardNeeded):
                engine.confirm(over.quote_id, tender=Tender.CASH)
            engine.present_card(payload[c2])
            paid = engine.confirm(over.quote_id, tender=Tender.CASH, repeat_ok=True)
            assert (paid.records[0].fl_cents, paid.records[0].eur_cents) == (7_000, 1_000)
            assert engine.sync_now()["waiting"] == 0 and world.balance(f"budget:{bid}") == 20_000
        finally:
            engine.store.close()
