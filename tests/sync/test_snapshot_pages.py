"""Snapshot pages: the compact card entry, the signed page, and the till's checks of a fetch's pages."""

import uuid
import zlib
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from floreyn import keys
from floreyn.money import ExchangeRates
from floreyn.sync.snapshot import BudgetInfo, CardInfo, MerchantConfig, OfflineLimits, SnapshotBadSignature, SnapshotError
from floreyn.sync.snapshot_pages import (
    SIG_DOMAIN, MemorySink, PageChain, PageHeader, SnapshotPageMismatch, SnapshotPageOrder, common_dict,
    decode_card, encode_card, encode_page, sign_page, verify_page,
)

KEY = keys.new_private_key()
COMMON = common_dict(MerchantConfig("M-1", "Bakker", "winkel"), ExchangeRates(), OfflineLimits(), (), (), {})
FETCH = "ab" * 16

texts = st.one_of(st.text(max_size=30), st.uuids().map(str), st.binary(max_size=20).map(bytes.hex),
                  st.tuples(st.sampled_from(["B", "x_1", "-", "B-"]), st.binary(max_size=12).map(bytes.hex))
                  .map("-".join))
cents = st.integers(min_value=-10**12, max_value=10**12)
budgets = st.builds(BudgetInfo, budget_id=texts, label=texts, categories=st.lists(texts, max_size=3).map(tuple),
                    expires_on=texts, remaining_cents=cents, funder=texts,
                    member_cap_left_cents=st.none() | cents, confirm_above_cents=st.none() | cents)
cards = st.builds(CardInfo, card_id=texts, alias=texts, blocked=st.booleans(), offline_allowance_cents=cents,
                  budgets=st.lists(budgets, max_size=3).map(tuple), state_version=st.integers(0, 2**62),
                  offline_uploaded_cents=cents)


@given(cards)
def test_a_card_entry_decodes_to_the_card_it_was_made_from(info):
    assert decode_card(encode_card(info)) == info


def test_ids_travel_as_their_bytes():
    card = CardInfo(card_id=uuid.uuid4().hex, alias="Jan", budgets=(
        BudgetInfo(str(uuid.uuid4()), "Onderhoud", ("klussen",), "2027-01-31", 5_000, "F-1"),))
    as_text = len(card.card_id) + len(card.budgets[0].budget_id)
    assert len(encode_card(card)) < len(repr(card).encode()) // 3
    assert len(encode_card(card)) < as_text + 40  # the ids' 32 bytes plus a little, not their 68 characters


def card(n: int) -> CardInfo:
    return CardInfo(card_id=f"{n:032x}", alias=f"lid {n}", offline_allowance_cents=n)


def page(after="", ids=(1, 2, 3), nxt=None, *, fetch=FETCH, terminal="T-1", kind="full", base=None, version=7,
         key=KEY):
    entries = [encode_card(card(i)) for i in ids]
    header = PageHeader(kind=kind, terminal_id=terminal, fetch=fetch, base_version=base, snapshot_version=version,
                        server_time_ms=1_000, after=after, next=nxt, count=len(entries), common=COMMON)
    wire = encode_page(header, entries)
    return wire, sign_page(wire, key)


def test_a_signed_page_round_trips_and_a_forged_one_is_refused():
    wire, sig = page()
    got = verify_page(wire, sig, KEY.public_key())
    assert [decode_card(e) for e in got.entries] == [card(1), card(2), card(3)]
    with pytest.raises(SnapshotBadSignature):
        verify_page(wire[:-1] + bytes([wire[-1] ^ 1]), sig, KEY.public_key())
    other, other_sig = page(key=keys.new_private_key())
    with pytest.raises(SnapshotBadSignature):
        verify_page(other, other_sig, KEY.public_key())


def test_a_signed_page_that_lies_about_itself_or_inflates_beyond_the_limit_is_a_typed_error(monkeypatch):
    header = PageHeader("full", "T-1", FETCH, None, 7, 1_000, "", None, count=5, common=COMMON)
    wire = encode_page(header, [encode_card(card(1))])
    with pytest.raises(SnapshotError, match=r"says 5 \+ 0 cards"):
        verify_page(wire, sign_page(wire, KEY), KEY.public_key())
    monkeypatch.setattr("floreyn.sync.snapshot_pages.MAX_PAGE_PLAIN_BYTES", 1_000)
    bomb = encode_page(replace(header, count=0), [], body=zlib.compress(b"\x00" * 100_000))
    with pytest.raises(SnapshotError, match="beyond the limit"):
        verify_page(bomb, KEY.sign(SIG_DOMAIN + bomb), KEY.public_key())


def chain(base=None):
    return PageChain("T-1", FETCH, base)


def check(ch, wire_sig):
    return ch.check(verify_page(*wire_sig, KEY.public_key()))


def test_pages_chain_by_cursor_and_assemble_at_the_first_pages_version():
    ch = chain()
    assert [c for c, _ in check(ch, page("", (1, 2), f"{2:032x}", version=7))] == [f"{1:032x}", f"{2:032x}"]
    check(ch, page(f"{2:032x}", (3, 4), None, version=9))
    assert ch.done and ch.snapshot().snapshot_version == 7  # every card at least as new as the first page


@pytest.mark.parametrize("bad, error", [
    (dict(fetch="cd" * 16), SnapshotPageMismatch),  # a page of another fetch: replayed
    (dict(terminal="T-2"), SnapshotPageMismatch),
    (dict(kind="delta", base=3), SnapshotPageMismatch),  # a delta answering a full fetch
    (dict(after=f"{5:032x}", ids=(6,)), SnapshotPageOrder),  # not the cursor asked for
    (dict(ids=(2, 1)), SnapshotPageOrder),  # cards not ascending
    (dict(ids=(1, 5), nxt=f"{3:032x}"), SnapshotPageOrder),  # a card beyond the page's range
    (dict(after="", ids=(), nxt=""), SnapshotPageOrder),  # a range that does not move on
])
def test_a_page_that_does_not_fit_the_fetch_is_refused(bad, error):
    with pytest.raises(error):
        check(chain(), page(**bad))


def test_an_older_page_or_one_after_the_last_is_refused():
    ch = chain()
    check(ch, page("", (1,), f"{1:032x}", version=9))
    with pytest.raises(SnapshotPageOrder, match="older"):
        check(ch, page(f"{1:032x}", (2,), None, version=8))
    done = chain()
    check(done, page("", (1,), None))
    with pytest.raises(SnapshotPageOrder, match="after the last"):
        check(done, page("", (1,), None))


def test_memory_sink_replaces_on_full_and_merges_a_delta():
    sink = MemorySink(None)
    ch = chain()
    sink.stage_snapshot_cards(FETCH, check(ch, page("", (1, 2, 3))), first=True)
    full = sink.apply_staged_snapshot(FETCH, ch.snapshot(), full=True)
    assert [c.card_id for c in full.cards] == [f"{i:032x}" for i in (1, 2, 3)]
    delta = chain(base=full.snapshot_version)
    changed = CardInfo(card_id=f"{2:032x}", alias="nieuw", blocked=True)
    header = PageHeader("delta", "T-1", FETCH, 7, 8, 2_000, "", None, 1, COMMON)
    # cards 1, 2 and 3 share their first 8 bytes (zeros): the server names card 2 in full (shared_ids)
    wire = encode_page(header, [encode_card(changed)], shared={f"{2:032x}"})
    sink.stage_snapshot_cards(FETCH, delta.check(verify_page(wire, sign_page(wire, KEY), KEY.public_key())),
                              first=True)
    merged = sink.apply_staged_snapshot(FETCH, delta.snapshot(), full=False)
    assert merged.card(f"{2:032x}") == changed and merged.blocklist == (f"{2:032x}",)
    assert merged.card(f"{1:032x}") == card(1) and merged.snapshot_version == 8


def test_an_overlay_replaces_the_kept_cards_it_names():
    header = PageHeader("full", "T-1", FETCH, None, 7, 1_000, "", None, 3, COMMON, overlay=2)
    newer = CardInfo(card_id=f"{2:032x}", alias="nieuw")
    wire = encode_page(header, [encode_card(card(i)) for i in (1, 2, 3)], [encode_card(newer), encode_card(card(4))])
    ch = chain()
    sink = MemorySink(None)
    sink.stage_snapshot_cards(FETCH, ch.check(verify_page(wire, sign_page(wire, KEY), KEY.public_key())), first=True)
    snap = sink.apply_staged_snapshot(FETCH, ch.snapshot(), full=True)
    assert [c.alias for c in snap.cards] == ["lid 1", "nieuw", "lid 3", "lid 4"]
    unordered = encode_page(header, [encode_card(card(i)) for i in (1, 2, 3)], [encode_card(card(4)), encode_card(newer)])
    with pytest.raises(SnapshotPageOrder):
        chain().check(verify_page(unordered, sign_page(unordered, KEY), KEY.public_key()))
