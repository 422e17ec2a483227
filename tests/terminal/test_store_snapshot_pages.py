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


def cid(n: int) -> str:
    """A card id whose first 8 bytes differ from every other's: pages name it by them (short ids)."""
    return f"{n:016x}" * 2


def card(n: int, allowance: int = 100) -> CardInfo:
    return CardInfo(card_id=cid(n), alias=f"lid {n}", offline_allowance_cents=allowance, blocked=n % 7 == 0)


def fetch_into(store: TerminalStore, pages: list[list[CardInfo]], *, fetch: str, base: int | None, version: int,
               apply: bool = True, shared: frozenset[str] = frozenset()) -> Snapshot | None:
    """Stage `pages` as the sync client would (each signed and checked), then apply them."""
    chain = PageChain(TERMINAL, fetch, base)
    for i, cards in enumerate(pages):
        last = i == len(pages) - 1
        header = PageHeader("full" if base is None else "delta", TERMINAL, fetch, base, version, 1_000, chain.after,
                            None if last else cards[-1].card_id, len(cards), COMMON)
        wire = encode_page(header, [encode_card(c) for c in cards], shared=shared)
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
    assert snap.card(cid(6)) == card(6) and snap.card(cid(7)).blocked
    assert snap.card(cid(99)) is None
    with store.txn() as _:  # asked from inside a store transaction (the engine's checks): read in it
        assert store.current_snapshot().card(cid(2)) == card(2)
    store.close()
    again = open_store(tmp_path)
    assert again.current_snapshot().card(cid(6)) == card(6) and again.current_snapshot().snapshot_version == 5
    again.close()


def test_a_delta_replaces_only_its_cards(tmp_path):
    store = open_store(tmp_path)
    fetch_into(store, [[card(i) for i in range(1, 6)]], fetch="aa" * 8, base=None, version=5)
    merged = fetch_into(store, [[card(2, 7)], [card(4, 9)]], fetch="bb" * 8, base=5, version=8)
    assert merged.snapshot_version == 8
    assert [merged.card(cid(i)).offline_allowance_cents for i in range(1, 6)] == [100, 7, 100, 9, 100]
    store.close()


def test_a_till_that_dies_half_way_keeps_the_snapshot_it_had(tmp_path):
    store = open_store(tmp_path)
    fetch_into(store, [[card(i) for i in range(1, 4)]], fetch="aa" * 8, base=None, version=5)
    fetch_into(store, [[card(1, 1)], [card(2, 2)]], fetch="cc" * 8, base=None, version=9, apply=False)
    store.close()  # the power goes: pages staged, never applied
    again = open_store(tmp_path)
    snap = again.current_snapshot()
    assert snap.snapshot_version == 5 and snap.card(cid(1)) == card(1) and snap.card(cid(3)) == card(3)
    done = fetch_into(again, [[card(1, 1)]], fetch="dd" * 8, base=None, version=9)  # the next fetch starts over
    assert done.card(cid(1)).offline_allowance_cents == 1 and done.card(cid(3)) is None
    with again.read() as view:
        assert view.db.one("SELECT COUNT(*) FROM snapshot_staging") == (0,)
    again.close()


def test_a_late_older_fetch_does_not_go_back(tmp_path):
    store = open_store(tmp_path)
    fetch_into(store, [[card(1)]], fetch="aa" * 8, base=None, version=9)
    kept = fetch_into(store, [[card(1, 5)]], fetch="bb" * 8, base=None, version=4)
    assert kept.snapshot_version == 9 and kept.card(cid(1)) == card(1)
    store.close()


def test_a_delta_onto_a_snapshot_stored_whole_keeps_its_cards(tmp_path):
    """A till upgraded with a JSON snapshot in its row (cards inline) takes its first paged delta onto it."""
    store = open_store(tmp_path)
    store.store_snapshot(Snapshot(version=SNAPSHOT_VERSION, terminal_id=TERMINAL, snapshot_version=5,
                                  server_time_ms=1_000, merchant=MerchantConfig("M-1", "Bakker", "winkel"),
                                  rates=ExchangeRates(), limits=OfflineLimits(), cards=(card(1), card(2))))
    merged = fetch_into(store, [[card(2, 3)]], fetch="aa" * 8, base=5, version=6)
    assert merged.card(cid(1)) == card(1) and merged.card(cid(2)).offline_allowance_cents == 3
    store.close()


def keys_held(store: TerminalStore) -> list[str]:
    with store.read() as view:
        return [k for k, in view.db.all("SELECT card_id FROM snapshot_cards ORDER BY card_id")]


def test_a_till_that_stored_full_ids_takes_short_ids_after_the_upgrade(tmp_path):
    """Format 3 named every card in full (what an upgraded till holds): a delta naming a card by its short
    id replaces that card's full-id row; the others stay found by their full ids; a full fetch starts over."""
    store = open_store(tmp_path)
    everyone = frozenset(cid(i) for i in range(1, 4))
    fetch_into(store, [[card(i) for i in range(1, 4)]], fetch="aa" * 8, base=None, version=5, shared=everyone)
    assert keys_held(store) == sorted(everyone)
    merged = fetch_into(store, [[card(2, 7)]], fetch="bb" * 8, base=5, version=6)
    assert keys_held(store) == sorted([cid(1), cid(2)[:16], cid(3)])
    assert [merged.card(cid(i)).offline_allowance_cents for i in range(1, 4)] == [100, 7, 100]
    assert merged.card(cid(2)) == card(2, 7)  # found by its short id, named by the tapped card's full id
    full = fetch_into(store, [[card(i) for i in range(1, 5)]], fetch="cc" * 8, base=None, version=7)
    assert keys_held(store) == sorted(cid(i)[:16] for i in range(1, 5)) and full.card(cid(4)) == card(4)
    store.close()


def test_a_card_named_in_full_replaces_its_short_id_and_a_card_sharing_it_finds_nothing(tmp_path):
    """Card 2 held by its short id; another card with its first 8 bytes is issued: the delta names both in
    full. The till drops the short-id row, finds each by its full id, and a third card with those bytes
    (or with them, when a page named one by the short id beside another: a bad page) finds nothing."""
    store = open_store(tmp_path)
    fetch_into(store, [[card(i) for i in range(1, 4)]], fetch="aa" * 8, base=None, version=5)
    twin = CardInfo(card_id=cid(2)[:16] + "f" * 16, alias="tweeling", offline_allowance_cents=900)
    both = [card(2, 7), twin]
    merged = fetch_into(store, [both], fetch="bb" * 8, base=5, version=6, shared=frozenset(c.card_id for c in both))
    assert keys_held(store) == sorted([cid(1)[:16], cid(2), twin.card_id, cid(3)[:16]])
    assert merged.card(cid(2)).offline_allowance_cents == 7 and merged.card(twin.card_id) == twin
    assert merged.card(cid(2)[:16] + "e" * 16) is None  # shares their short id: spends neither
    store.close()
