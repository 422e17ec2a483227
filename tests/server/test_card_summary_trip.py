"""The card summary a till asks at every tap: one trip to the thread pool, the failed-authentication limit first.

Each trip waits for the GIL again behind whatever uploads hold it (bench/server_balance.py, issue 19 goal 6), so
the limit check, the signature and the read go in one (server/app.py checks_failed_auth_limit), as the upload's do.
"""

from __future__ import annotations


import anyio.to_thread

from floreyn.server.config import Limits
from floreyn.server.testing import ServerThread, World
from floreyn.sync import auth


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
        codes = [impostor.send(own, "GET", path).status_code for _ in range(5)]
        assert codes == [401] * 3 + [429] * 2
        good = term.send(own, "GET", path)  # a good request from that address waits too, as on every endpoint
        assert good.status_code == 429 and good.json()["error"] == "too_many_failed_auth"
        assert 1 <= int(good.headers["Retry-After"]) <= 60 and good.headers[auth.H_RESPONSE_SIGNATURE]
        assert term.send(own, "GET", "/v1/terminal/cards/not-hex").status_code == 429  # before the path's check
        # A path under the route's that no route takes is refused by the envelope itself: no route was left
        # to ask the limit (server/app.py checks_failed_auth_limit matches the routes as the router does).
        assert term.send(own, "GET", f"/v1/terminal/cards/{card}/more").status_code == 429
