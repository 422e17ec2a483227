"""The server keeps every day close it receives and serves its Z-report."""

import pytest
import requests

from floreyn.sync.record import Kind


def test_each_day_close_is_served_with_the_tills_own_arithmetic(srv, world):
    _, card = world.member(eur_cents=5_000)
    term = world.terminal()
    term.spend(card, 700)
    term.save(card, 100, eur_cents=2_000)
    term.record(Kind.DAY_CLOSE)
    first_close = term.records[-1].record.seq
    paid = term.spend(card, 300)
    term.record(Kind.VOID, ref_id=paid.record.record_id, card_id=paid.record.card_id, fl_cents=300)  # as a till voids
    term.spend(card, 250)
    term.record(Kind.DAY_CLOSE)
    term.spend(card, 999)  # the open third day: no report yet
    term.client(srv).upload(term.raws)
    days = srv.admin("GET", f"/v1/admin/terminals/{term.terminal_id}/zreports")["days"]
    assert [(d["day_no"], d["close_seq"]) for d in days] == [(1, first_close), (2, first_close + 4)]
    one = srv.admin("GET", f"/v1/admin/terminals/{term.terminal_id}/zreports/1")
    assert (one["first_seq"], one["last_seq"], one["close_seq"]) == (1, 2, 3)
    assert (one["fl_received_cents"], one["fl_issued_cents"]) == (700, 100)
    assert one["kinds"]["SAVE"]["eur_cents"] == 2_000
    two = srv.admin("GET", f"/v1/admin/terminals/{term.terminal_id}/zreports/2")
    assert (two["first_seq"], two["fl_received_cents"], two["kinds"]["VOID"]["records"]) == (4, 250, 1)
    reply = requests.get(f"{srv.base_url}/v1/admin/terminals/{term.terminal_id}/zreports/3",
                         headers={"Authorization": f"Bearer {srv.admin_token}"}, timeout=30)
    assert reply.status_code == 404 and reply.json()["error"] == "not_found"


@pytest.mark.parametrize("day", ["0", "-1", "x"])
def test_a_bad_day_number_is_a_typed_refusal(srv, world, day):
    term = world.terminal()
    reply = requests.get(f"{srv.base_url}/v1/admin/terminals/{term.terminal_id}/zreports/{day}",
                         headers={"Authorization": f"Bearer {srv.admin_token}"}, timeout=30)
    assert reply.status_code == 422
