"""The card summary a till asks at every tap: one trip to the thread pool, the failed-authentication limit first.

Each trip waits for the GIL again behind whatever uploads hold it (bench/server_balance.py, issue 19 goal 6), so
the limit check, the signature and the read go in one (server/app.py LIMIT_CHECKED_BY_PREFIX), as the upload's do.
"""

from __future__ import annotations

import time

import anyio.to_thread
import requests

from floreyn.server.config import Limits
from floreyn.server.testing import ServerThread, World
from floreyn.sync import auth


def signed_get(srv, term, path):  # type: ignore[no-untyped-def]
    h = auth.sign_request(term.key, "GET", path, term.terminal_id, b"", int(time.time() * 1000))
    return requests.get(srv.base_url + path, headers=h, timeout=10)


def test_a_card_summary_takes_one_trip_to_the_thread_pool(srv, world, monkeypatch):
    _, card = world.member(eur_cents=1_000)
    client = world.terminal().client(srv)
    client.card_summary(card)  # the server key pinned, the connection open
    trips = []
    real = anyio.to_thread.run_sync

    async def counted(func, *args, **kwargs):  # type: ignore[no-untyped-def]
        trips.append(func)
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    assert client.card_summary(card)["balance_cents"] >= 0
    assert len(trips) == 1, trips


def test_a_card_summary_reads_the_limit_and_the_terminal_together_then_the_card(srv, world, monkeypatch):
    """Two reads and the nonce: the failed-authentication limit and the terminal's row in one (one transaction,
    one round trip on PostgreSQL), the card's summary after the signature and the nonce."""
    _, card = world.member(eur_cents=1_000)
    client = world.terminal().client(srv)
    client.card_summary(card)
    db, calls = srv.ctx.db, []

    def counting(name, real):  # type: ignore[no-untyped-def]
        def counted(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
            calls.append(name)
            return real(fn, *args, **kwargs)
        return counted

    for name in ("read", "write", "write_apart"):
        monkeypatch.setattr(db, name, counting(name, getattr(db, name)))
    assert client.card_summary(card)["balance_cents"] == 1_000
    assert calls == ["read", "write_apart", "read"]


def test_card_summaries_from_an_address_over_the_failed_authentication_limit_are_refused_first(tmp_path):
    with ServerThread(f"sqlite:///{tmp_path / 'limits.db'}", tmp_path / "data", limits=Limits(failed_auth_max=3)) as own:
        world = World(own)
        _, card = world.member(eur_cents=1_000)
        term, impostor = world.terminal(), world.terminal()
        impostor.terminal_id = term.terminal_id
        path = f"/v1/terminal/cards/{card}"
        codes = [signed_get(own, impostor, path).status_code for _ in range(5)]
        assert codes == [401] * 3 + [429] * 2
        good = signed_get(own, term, path)  # a good request from that address waits too, as on every endpoint
        assert good.status_code == 429 and good.json()["error"] == "too_many_failed_auth"
        assert 1 <= int(good.headers["Retry-After"]) <= 60 and good.headers[auth.H_RESPONSE_SIGNATURE]
        assert signed_get(own, term, "/v1/terminal/cards/not-hex").status_code == 429  # before the path's check
