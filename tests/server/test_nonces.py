"""Request nonces (server/nonces.py): taken once, and a balance read never queues behind the ledger's writes.

Over real HTTP on SQLite and PostgreSQL. The queue test holds a ledger write
transaction open (as a long upload batch does) and asks for a card's balance:
the answer must come while the write is still open. Before the nonces had
their own write path on SQLite, the read waited for the lock (seconds under an
upload load, bench/server_balance.py).
"""

from __future__ import annotations

import threading

import requests

from floreyn.sync import auth

WAIT_S = 20.0


def test_a_card_summary_is_answered_while_a_ledger_write_is_open(srv, world):
    _, card = world.member(eur_cents=1_000)
    term = world.terminal()
    client = term.client(srv)
    client.card_summary(card)  # pins the server key
    holding, release = threading.Event(), threading.Event()

    def long_write(conn):
        conn.exec_driver_sql("UPDATE terminals SET rejected_uploads = rejected_uploads WHERE 1 = 0")
        holding.set()
        assert release.wait(WAIT_S)

    writer = threading.Thread(target=srv.ctx.db.write, args=(long_write,))
    writer.start()
    try:
        assert holding.wait(WAIT_S)
        answers: list[dict] = []
        reader = threading.Thread(target=lambda: answers.append(client.card_summary(card)))
        reader.start()
        reader.join(WAIT_S / 2)
        done_while_open = not reader.is_alive()
    finally:
        release.set()
        writer.join(WAIT_S)
    reader.join(WAIT_S)
    assert done_while_open, "the balance read waited for the ledger's write lock"
    assert answers and answers[0]["balance_cents"] == 1_000


def test_a_replayed_request_is_refused_and_an_upload_nonce_stays_in_the_ledger(srv, world):
    _, card = world.member(eur_cents=500)
    term = world.terminal()
    term.client(srv).card_summary(card)
    path = f"/v1/terminal/cards/{card}"
    headers = term.signed_headers("GET", path, time_ms=srv.ctx.clock())
    first = requests.get(srv.base_url + path, headers=headers, timeout=WAIT_S)
    again = requests.get(srv.base_url + path, headers=headers, timeout=WAIT_S)
    assert first.status_code == 200
    assert again.status_code == 401 and again.json()["error"] == auth.AuthReplayed.code
    term.spend(card, 100)
    ack = term.client(srv).upload(term.raws)
    assert ack.acked_seq == 1
