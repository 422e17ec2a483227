"""The till's store as the sink of a paged snapshot: staged pages, one atomic apply, cards read from disk."""

from __future__ import annotations

from pathlib import Path

from floreyn import keys
from floreyn.money import ExchangeRates
from floreyn.sync.snapshot import SNAPSHOT_VERSION, CardInfo, MerchantConfig, OfflineLimits, Snapshot
from floreyn.sync.snapshot_pages import (
    PageChain, PageHeader, common_dict, encode_card, encode_page, sign_page, verify_page,
)
from floreyn.terminal.clock import FakeClock
from floreyn.terminal.store.store import TerminalStore

KEY = keys.new_private_key()
TERMINAL = "T-1"
COMMON = common_dict(MerchantConfig("M-1", "Bakker", "winkel"), ExchangeRates(), OfflineLimits(), (), (), {})


def card(n: int, allowance: int = 100) -> CardInfo:
    return CardInfo(card_id=f"{n:032x}", alias=f"lid {n}", offline_allowance_cents=allowance, blocked=n % 7 == 0)


def fetch_into(store: TerminalStore, pages: list[list[CardInfo]], *, fetch: str, base: int | None, version: int,
               apply: bool = True) -> Snapshot | None:
    """Stage `pages` as the sync client would (each signed and checked), then apply them."""
    chain = PageChain(TERMINAL, fetch, base)
    for i, cards in enumerate(pages):
        last = i == len(pages) - 1
        header = PageHeader("full" if base is None else "delta", TERMINAL, fetch, base, version, 1_000, chain.after,
                            None if last else cards[-1].card_id, len(cards), COMMON)
        wire = encode_page(header, [encode_card(c) for c in cards])
        pairs = chain.check(verify_page(wire, sign_page(wire, KEY), KEY.public_key()))
        store.stage_snapshot_cards(fetch, pairs, first=i == 0)
    return store.apply_staged_snapshot(fetch, chain.snapshot(), full=base is None) if apply else None


def open_store(tmp_path: Path) -> TerminalStore:
    return TerminalStore(tmp_path / "terminal.db", TERMINAL, FakeClock())


def test_a_full_fetch_lands_in_one_apply_and_survives_a_restart(tmp_path):
    store = open_store(tmp_path)
    snap = fetch_into(store, [[card(i) for i in range(1, 4)], [card(i) for i in range(4, 8)]], fetch="aa" * 8,
                      base=None, version=5)
    assert snap is not None and snap.cards == () and snap.snapshot_version == 5
    assert snap.card(f"{6:032x}") == card(6) and snap.card(f"{7:032x}").blocked
    assert snap.card(f"{99:032x}") is None
    with store.txn() as _:  # asked from inside a store transaction (the engine's checks): read in it
        assert store.current_snapshot().card(f"{2:032x}") == card(2)
    store.close()
    again = open_store(tmp_path)
    assert again.current_snapshot().card(f"{6:032x}") == card(6) and again.current_snapshot().snapshot_version == 5
    again.close()


def test_a_delta_replaces_only_its_cards(tmp_path):
    store = open_store(tmp_path)
    fetch_into(store, [[card(i) for i in range(1, 6)]], fetch="aa" * 8, base=None, version=5)
    merged = fetch_into(store, [[card(2, 7)], [card(4, 9)]], fetch="bb" * 8, base=5, version=8)
    assert merged.snapshot_version == 8
    assert [merged.card(f"{i:032x}").offline_allowance_cents for i in range(1, 6)] == [100, 7, 100, 9, 100]
    store.close()


def test_a_till_that_dies_half_way_keeps_the_snapshot_it_had(tmp_path):
    store = open_store(tmp_path)
    fetch_into(store, [[card(i) for i in range(1, 4)]], fetch="aa" * 8, base=None, version=5)
    fetch_into(store, [[card(1, 1)], [card(2, 2)]], fetch="cc" * 8, base=None, version=9, apply=False)
    store.close()  # the power goes: pages staged, never applied
    again = open_store(tmp_path)
    snap = again.current_snapshot()
    assert snap.snapshot_version == 5 and snap.card(f"{1:032x}") == card(1) and snap.card(f"{3:032x}") == card(3)
    done = fetch_into(again, [[card(1, 1)]], fetch="dd" * 8, base=None, version=9)  # the next fetch starts over
    assert done.card(f"{1:032x}").offline_allowance_cents == 1 and done.card(f"{3:032x}") is None
    with again.read() as view:
        assert view.db.one("SELECT COUNT(*) FROM snapshot_staging") == (0,)
    again.close()


def test_a_late_older_fetch_does_not_go_back(tmp_path):
    store = open_store(tmp_path)
    fetch_into(store, [[card(1)]], fetch="aa" * 8, base=None, version=9)
    kept = fetch_into(store, [[card(1, 5)]], fetch="bb" * 8, base=None, version=4)
    assert kept.snapshot_version == 9 and kept.card(f"{1:032x}") == card(1)
    store.close()


def test_a_delta_onto_a_snapshot_stored_whole_keeps_its_cards(tmp_path):
    """A till upgraded with a JSON snapshot in its row (cards inline) takes its first paged delta onto it."""
    store = open_store(tmp_path)
    store.store_snapshot(Snapshot(version=SNAPSHOT_VERSION, terminal_id=TERMINAL, snapshot_version=5,
                                  server_time_ms=1_000, merchant=MerchantConfig("M-1", "Bakker", "winkel"),
                                  rates=ExchangeRates(), limits=OfflineLimits(), cards=(card(1), card(2))))
    merged = fetch_into(store, [[card(2, 3)]], fetch="aa" * 8, base=5, version=6)
    assert merged.card(f"{1:032x}") == card(1) and merged.card(f"{2:032x}").offline_allowance_cents == 3
    store.close()
